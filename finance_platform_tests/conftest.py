"""Shared fixtures: every test gets its own lake, warehouse and Dagster home."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests must never see a developer's real key or webhook, nor write into the repo's .lake.
_ISOLATED_VARS = (
    "ALPHAVANTAGE_API_KEY",
    "ALPHAVANTAGE_BASE_URL",
    "SLACK_WEBHOOK_URL",
    "SLACK_BOT_TOKEN",
    "FINANCE_ENV",
    "FINANCE_ENGINE",
    "FINANCE_SYMBOLS",
    "FINANCE_QUOTES_START",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in _ISOLATED_VARS:
        monkeypatch.delenv(name, raising=False)
    lake = tmp_path / "lake"
    monkeypatch.setenv("FINANCE_LAKE_ROOT", str(lake))
    monkeypatch.setenv("FINANCE_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "false")
    return lake


@pytest.fixture
def lake_root(isolated_env: Path) -> Path:
    return isolated_env


@pytest.fixture
def lake(lake_root: Path):
    from finance_platform.resources.lake import LakeResource

    return LakeResource(root=str(lake_root))


MOTO_REGION = "us-east-1"
MOTO_BUCKET = "bank-lake"  # an empty bucket for an S3 lake, created with the Glue databases


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's server on 127.0.0.1: pyarrow's S3 client and boto3 both talk to it; the lake's
    bucket and every catalog database exist."""
    import urllib.request

    import boto3
    from moto.server import ThreadedMotoServer

    from finance_platform.resources.catalog import LAKE_TABLES

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        # moto's backends live in this process and outlast a server: start each test empty.
        urllib.request.urlopen(
            urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")
        ).close()
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": MOTO_REGION,
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        }.items():
            monkeypatch.setenv(name, value)
        boto3.client("s3").create_bucket(Bucket=MOTO_BUCKET)
        glue = boto3.client("glue")
        for database in sorted({e.database for e in LAKE_TABLES.values()}):
            glue.create_database(DatabaseInput={"Name": database})
        yield
    finally:
        server.stop()
        os.environ.pop("AWS_ENDPOINT_URL", None)


def pytest_report_header(config: pytest.Config) -> str:
    return f"JAVA_HOME={os.environ.get('JAVA_HOME', '(unset)')}"
