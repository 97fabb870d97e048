"""Deliveries as banks send them: names, encodings, line endings, date styles, cut and empty files.

Each delivery goes through the real group (``dg.materialize`` of every customer asset and
check): readable defects materialize with every row kept or quarantined with a reason,
unreadable files fail naming the file, and nothing of the last good tables is lost.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from finance_platform.defs.customers import raw_files
from finance_platform.defs.customers.assets import ASSETS
from finance_platform.defs.customers.common import cleaning_stats
from finance_platform.sample_data import DefectRates, generate
from finance_platform.sample_data.variants import Variant, as_delivered
from finance_platform.transforms.customers import rules
from finance_platform.transforms.customers.contract import TABLES
from finance_platform_tests.customers.group import (
    customer_resources,
    failed_error_checks,
    materialize,
    materialized,
    step_failures,
)

pytestmark = pytest.mark.slow

BASE, BEHAVIOR = "customer_base", "customer_behavior_assets"


@pytest.fixture
def clean_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A clean delivery (no defect at all) of 120 customers x 4 months, outside the lake."""
    monkeypatch.setenv("FINANCE_CUSTOMERS_RUN_DATE", "2025-07-01")
    monkeypatch.setenv("FINANCE_CUSTOMERS_FRESHNESS_DAYS", "100000")
    return generate(
        tmp_path / "source",
        customers=120,
        months=4,
        seed=3,
        delivery_date=dt.date(2025, 7, 1),
        defects=DefectRates.none(),
    )


def deliver(lake_root: Path, files: dict[str, Path], names: dict[str, str], **variants) -> None:
    """Drop both files into the lake under ``names`` (lake-relative), rewritten as ``variants``."""
    for table, relative in names.items():
        target = lake_root / relative
        spec = variants.get(table)
        if spec is None:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(files[table], target)
        else:
            as_delivered(files[table], target, spec, table)


DATED = {t: f"raw/{t}/{t}_20250701.csv" for t in (BASE, BEHAVIOR)}


def deliver_both(lake_root: Path, files: dict[str, Path], variant: Variant | None = None) -> None:
    """Both files of the delivery of 2025-07-01, each rewritten as ``variant``."""
    variants = {BASE: variant, BEHAVIOR: variant} if variant else {}
    deliver(lake_root, files, DATED, **variants)


def test_files_named_as_the_bank_uploads_them_are_found_and_dated(lake_root, clean_files, lake):
    """``customer_base.csv`` straight under raw/ (``aws s3 cp customer_base.csv s3://b/raw/``)
    and undated in its folder: the delivery date is the object's modification time."""
    deliver(
        lake_root,
        clean_files,
        {BASE: "raw/customer_base.csv", BEHAVIOR: f"raw/{BEHAVIOR}/{BEHAVIOR}.csv"},
    )
    stamp = dt.datetime(2025, 6, 30, 22, 15, tzinfo=dt.UTC).timestamp()
    os.utime(lake_root / "raw/customer_base.csv", (stamp, stamp))
    with dg.instance_for_test() as instance:
        result = materialize(lake_root, instance)
    assert result.success and not failed_error_checks(result)
    base = materialized(result, "raw_customer_base")
    assert base["lake_path"] == "raw/customer_base.csv"
    assert base["delivery_date"] == "2025-06-30"
    assert base["delivery_date_source"] == "modified time"
    assert base["modified_time"].startswith("2025-06-30T22:15")
    assert lake.count_rows(TABLES["cleaned_customer_base"].path) == 120
    # a dated delivery of a later day is newer than the undated one
    later = lake_root / "raw/customer_base/customer_base_20250702.csv"
    later.parent.mkdir(parents=True)
    shutil.copyfile(clean_files[BASE], later)
    newest = raw_files.latest_delivery(lake, BASE)
    assert newest.path == "raw/customer_base/customer_base_20250702.csv"


def test_no_delivery_names_the_names_it_looked_for(lake_root, lake):
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            ASSETS[:1],
            resources=customer_resources(lake.root),
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success
    (message,) = step_failures(result)
    assert "Failure: no customer_base delivery in" in message
    for name in raw_files.expected_names(BASE):
        assert name in message
    assert "customer_base_<YYYYMMDD>.csv" in message


@pytest.mark.parametrize(
    ("variant", "encoding", "bom", "endings"),
    [
        (Variant(bom=True, crlf=True), "utf-8", True, "CRLF"),  # Excel's "CSV UTF-8"
        (Variant(encoding="gb18030"), "gb18030", False, "LF"),  # a Chinese core system
        (Variant(encoding="gbk", crlf=True), "gb18030", False, "CRLF"),  # GBK is a subset
    ],
    ids=["bom-crlf", "gb18030", "gbk-crlf"],
)
def test_encodings_and_line_endings_are_read_as_delivered(
    lake_root, clean_files, lake, variant, encoding, bom, endings
):
    deliver_both(lake_root, clean_files, variant)
    with dg.instance_for_test() as instance:
        result = materialize(lake_root, instance)
    assert result.success and not failed_error_checks(result)
    meta = materialized(result, "raw_customer_base")
    assert (meta["encoding"], meta["bom"], meta["line_endings"]) == (encoding, bom, endings)
    assert meta["encoding_source"] == "detected"
    assert lake.count_rows(TABLES["cleaned_customer_base"].path) == 120
    assert lake.count_rows(TABLES["cleaned_customer_behavior"].path) == 480
    assert lake.count_rows(TABLES["cleaned_customer_base"].quarantine.path) == 0
    # labels decoded, not mojibake: every lifecycle label maps to its code
    codes = lake.read_table(TABLES["cleaned_customer_base"].path, columns=["lifecycle_code"])
    assert set(codes.column("lifecycle_code").to_pylist()) <= set(rules.LIFECYCLE.values())


def test_a_configured_encoding_is_used_and_a_wrong_one_fails_naming_it(
    lake_root, clean_files, lake, monkeypatch
):
    deliver_both(lake_root, clean_files, Variant(encoding="gb18030"))
    monkeypatch.setenv("FINANCE_CUSTOMERS_ENCODING", "gb18030")
    with dg.instance_for_test() as instance:
        result = materialize(lake_root, instance)
        assert result.success
        assert materialized(result, "raw_customer_base")["encoding_source"] == (
            "FINANCE_CUSTOMERS_ENCODING"
        )
        monkeypatch.setenv("FINANCE_CUSTOMERS_ENCODING", "utf-8")
        wrong = materialize(lake_root, instance)
    assert not wrong.success
    messages = step_failures(wrong)
    assert any("is not valid utf-8" in m and DATED[BASE] in m for m in messages), messages


def test_bytes_in_no_known_encoding_fail_naming_the_file():
    bad = b"customer_id,name\n1," + bytes([0xFF, 0xFF, 0xFF, 0xFF]) + b"\n"
    with pytest.raises(raw_files.DeliveryError, match="no encoding tried"):
        raw_files.sniff_format(bad, bad[-2:], whole=True)


@pytest.mark.parametrize("style", ["slash", "compact"])
def test_every_fiftieth_date_in_another_style_is_read_not_quarantined(
    lake_root, clean_files, lake, style
):
    deliver_both(lake_root, clean_files, Variant(date_style=style, date_every=50))
    with dg.instance_for_test() as instance:
        result = materialize(lake_root, instance)
    assert result.success and not failed_error_checks(result)
    assert lake.count_rows(TABLES["cleaned_customer_base"].quarantine.path) == 0
    assert lake.count_rows(TABLES["cleaned_customer_behavior"].quarantine.path) == 0
    cleaned = lake.read_table(TABLES["cleaned_customer_base"].path).to_pandas()
    assert cleaned["open_account_date"].notna().all() and len(cleaned) == 120
    behavior = lake.read_table(TABLES["cleaned_customer_behavior"].path).to_pandas()
    assert behavior["month_index"].nunique() == 4  # 2025/06 and 202506 are the same month


def test_a_cut_last_line_is_quarantined_as_malformed_and_accounted(lake_root, clean_files, lake):
    deliver_both(lake_root, clean_files, Variant(cut_last_line=True))
    with dg.instance_for_test() as instance:
        result = materialize(lake_root, instance)
    assert result.success and not failed_error_checks(result)
    for asset, rows in (("cleaned_customer_base", 120), ("cleaned_customer_behavior", 480)):
        stats = cleaning_stats(lake, asset)
        assert stats["quarantine_reasons"] == {rules.REASON_MALFORMED: 1}, asset
        assert stats["raw_rows_parsed"] == rows
        assert stats["cleaned_rows"] == rows - 1
        quarantine = lake.read_table(TABLES[asset].quarantine.path).to_pandas()
        assert quarantine["quarantine_reason"].tolist() == [rules.REASON_MALFORMED]
        assert "name" not in quarantine.columns
    checks = {
        f"{e.asset_key.to_user_string()}:{e.check_name}": e.passed
        for e in result.get_asset_check_evaluations()
    }
    assert checks["cleaned_customer_base:reconciliation"]
    assert checks["cleaned_customer_behavior:reconciliation"]


def test_extra_columns_materialize_and_warn_as_schema_drift(lake_root, clean_files, lake):
    """The bank's second real delivery carried create_time and update_time."""
    deliver_both(lake_root, clean_files, Variant(extra_columns=True))
    with dg.instance_for_test() as instance:
        result = materialize(lake_root, instance)
    assert result.success and not failed_error_checks(result)
    drift_checks = {
        e.asset_key.to_user_string(): e.passed
        for e in result.get_asset_check_evaluations()
        if e.check_name == "schema_drift"
    }
    assert drift_checks == {"raw_customer_base": False, "raw_customer_behavior_assets": False}
    assert "create_time" not in lake.read_table_schema(TABLES["cleaned_customer_base"].path).names


@pytest.mark.parametrize(
    ("newer", "problem"),
    [(Variant(header_only=True), "has no data rows"), (None, "is empty")],
    ids=["header-only", "empty"],
)
def test_a_newer_unreadable_delivery_fails_naming_the_file_and_keeps_the_last_good_tables(
    lake_root, clean_files, lake, newer, problem
):
    deliver_both(lake_root, clean_files)
    with dg.instance_for_test() as instance:
        assert materialize(lake_root, instance).success
        paths = [t.path for t in TABLES.values()]
        before = {path: lake.read_table(path).to_pandas() for path in paths}
        versions = {path: lake.published(path)["version"] for path in paths}
        bad = lake_root / f"raw/{BASE}/{BASE}_20250702.csv"
        if newer is None:
            bad.write_bytes(b"")
        else:
            as_delivered(clean_files[BASE], bad, newer, BASE)
        result = materialize(lake_root, instance)
    assert not result.success
    messages = step_failures(result)
    assert any(problem in m and "customer_base_20250702.csv" in m for m in messages), messages
    # the last good tables stay readable; everything built on the base is untouched (the
    # behaviour side, whose delivery did not change, may rebuild the same rows)
    rebuilt = {TABLES["cleaned_customer_behavior"].path, TABLES["behavior_metrics"].path}
    for path, frame in before.items():
        assert lake.read_table(path).to_pandas().equals(frame), path
        if path not in rebuilt:
            assert lake.published(path)["version"] == versions[path], path


def test_a_step_that_fails_after_writing_leaves_the_last_good_table_published(
    lake_root, clean_files, lake, monkeypatch
):
    """Publishing is the step's last act: a failure after the table was written (here, its
    chart) leaves the staged version unpublished and every reader on the last good one."""
    from finance_platform.defs.customers import assets

    deliver_both(lake_root, clean_files)
    with dg.instance_for_test() as instance:
        assert materialize(lake_root, instance).success
        good = lake.published(TABLES["customer_segments"].path)
        rows = lake.read_table(TABLES["customer_segments"].path).to_pandas()

        def broken_chart(*args, **kwargs):
            raise RuntimeError("chart rendering failed")

        monkeypatch.setattr(assets, "bar_chart", broken_chart)
        result = materialize(lake_root, instance)
    assert not result.success
    assert any("chart rendering failed" in m for m in step_failures(result))
    assert lake.published(TABLES["customer_segments"].path)["version"] == good["version"]
    assert lake.read_table(TABLES["customer_segments"].path).to_pandas().equals(rows)
    staged = [
        f
        for f in lake.list_files(TABLES["customer_segments"].path, ".parquet")
        if good["version"] not in f
    ]
    assert staged, "the failed step's version should be left aside (pruned after a day)"
    built = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "customer_segments" not in built and "marketing_targets" not in built
