"""Published table versions: nothing a step stages is visible until it is published, and a
failed step never costs the last good table; on a local folder and on S3 (moto's server)."""

from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa
import pytest

from finance_platform.resources.lake import POINTER, LakeResource


def table(*values: int) -> pa.Table:
    return pa.table({"k": list(values)})


def write_version(lake: LakeResource, path: str, data: pa.Table, tag: str) -> str:
    staged = lake.stage(path, tag)
    lake.write_parquet(staged, data)
    return staged


def exercise(lake: LakeResource) -> None:
    """The publishing contract, for any lake root."""
    first = write_version(lake, "cleaned/t", table(1, 2), "run1")
    assert lake.published("cleaned/t") is None  # staged, not visible
    lake.publish("cleaned/t", first, {"delivery": "d1"})
    assert lake.read_table("cleaned/t").to_pydict() == {"k": [1, 2]}
    assert lake.count_rows("cleaned/t") == 2

    # a step that fails after writing its version: readers keep the last good table
    abandoned = write_version(lake, "cleaned/t", table(9), "run2")
    assert lake.read_table("cleaned/t").to_pydict() == {"k": [1, 2]}
    assert lake.head_table("cleaned/t", 5).to_pydict() == {"k": [1, 2]}
    assert lake.read_table_schema("cleaned/t").names == ["k"]
    assert lake.exists(abandoned)

    second = write_version(lake, "cleaned/t", table(3), "run3")
    pointer = lake.publish("cleaned/t", second, {"delivery": "d2"})
    assert lake.read_table("cleaned/t").to_pydict() == {"k": [3]}
    assert pointer["info"] == {"delivery": "d2"}
    assert pointer["history"] == [second.rsplit("version=", 1)[1], first.rsplit("version=", 1)[1]]
    assert lake.exists(first)  # the previous version stays queryable
    assert lake.exists(abandoned)  # a fresh staging may belong to a running step: kept

    with pytest.raises(ValueError, match="not a staged version"):
        lake.publish("cleaned/t", "cleaned/other/version=x", {})
    with pytest.raises(FileNotFoundError, match="nothing was written"):
        lake.publish("cleaned/t", lake.stage("cleaned/t", "empty"), {})


def test_publishing_on_a_folder(lake: LakeResource, lake_root):
    exercise(lake)
    assert not list((lake_root / "cleaned/t").glob("*.tmp"))  # the pointer was renamed in place


def test_old_versions_and_stale_stagings_are_pruned_to_keep_versions(lake_root):
    lake = LakeResource(root=str(lake_root), keep_versions=2)
    published = []
    for i in range(4):
        staged = write_version(lake, "features/t", table(i), f"run{i}")
        lake.publish("features/t", staged, {})
        published.append(staged)
    assert [lake.exists(p) for p in published] == [False, False, True, True]
    # a staging nobody published for over a day is a failed step's: removed at the next publish
    two_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    stale = f"features/t/version={two_days_ago:%Y%m%dT%H%M%S%fZ}-old"
    lake.write_parquet(stale, table(7))
    lake.publish("features/t", write_version(lake, "features/t", table(5), "run5"), {})
    assert not lake.exists(stale)
    assert lake.read_table("features/t").to_pydict() == {"k": [5]}


def test_the_unversioned_layout_before_is_replaced_at_the_first_publish(lake: LakeResource):
    lake.write_parquet("segments/t", table(1))  # files straight in the table folder
    assert lake.read_table("segments/t").to_pydict() == {"k": [1]}
    lake.publish("segments/t", write_version(lake, "segments/t", table(2), "run1"), {})
    assert lake.read_table("segments/t").to_pydict() == {"k": [2]}
    assert [f for f in lake.list_files("segments/t", ".parquet") if "version=" not in f] == []


@pytest.mark.integration
def test_publishing_on_s3(monkeypatch):
    """The same contract on S3, through pyarrow's S3 client against moto's server."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        }.items():
            monkeypatch.setenv(name, value)
        boto3.client("s3").create_bucket(Bucket="bank-lake")
        lake = LakeResource(root="s3://bank-lake/platform", region="us-east-1")
        exercise(lake)
        keys = [
            o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="bank-lake")["Contents"]
        ]
        assert f"platform/cleaned/t/{POINTER}" in keys
        assert not any(k.endswith(".tmp") for k in keys)
    finally:
        server.stop()
        os.environ.pop("AWS_ENDPOINT_URL", None)
