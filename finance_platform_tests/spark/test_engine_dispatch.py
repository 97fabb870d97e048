"""Both engines through the real customers assets: DuckDB and Spark write the same tables.

The same SQL stages run on each; Spark reads the deliveries in several splits (a small
``spark.sql.files.maxPartitionBytes``), so first-in-file-order rests on the read-time ``_row``.
Keys, labels, codes and segments must be equal exactly; reals within 1e-9 (``parity.py``).
"""

import datetime as dt
import shutil

import dagster as dg
import pytest

from finance_platform.transforms.customers.contract import QUARANTINES, TABLES
from finance_platform_tests.customers.group import customer_resources
from finance_platform_tests.spark.parity import assert_same_table


def _materialize(lake_root, engine):
    from finance_platform.defs.customers.assets import ASSETS

    result = dg.materialize(ASSETS, resources=customer_resources(lake_root, engine))
    assert result.success
    return result


def assert_engines_agree(spark, spark_engine, tmp_path, lake_root, split_bytes: int) -> None:
    """Materialize the group on DuckDB, then on Spark over a copy of the same raw files:
    same tables, quarantines, cleaning accounting and summary metadata."""
    from finance_platform.defs.customers.common import cleaning_stats
    from finance_platform.resources.engine import LocalEngine
    from finance_platform.resources.lake import LakeResource

    local_run = _materialize(lake_root, LocalEngine(memory_bytes=1024**3, threads=1))
    expected_root = tmp_path / "local_lake"
    shutil.copytree(lake_root, expected_root)
    jobs_before = len(spark.sparkContext.statusTracker().getJobIdsForGroup())
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(split_bytes))
    try:
        spark_run = _materialize(lake_root, spark_engine)
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    spark_jobs_run = len(spark.sparkContext.statusTracker().getJobIdsForGroup()) - jobs_before

    def keys(run):
        return sorted(e.asset_key.to_user_string() for e in run.get_asset_materialization_events())

    assert keys(spark_run) == keys(local_run)
    spark_lake, local_lake = (
        LakeResource(root=str(lake_root)),
        LakeResource(root=str(expected_root)),
    )
    for table in TABLES.values():
        want = local_lake.read_table(table.path).to_pandas()
        got = spark_lake.read_table(table.path).to_pandas()
        assert_same_table(want, got, list(table.key), table.path)
    for quarantine in QUARANTINES.values():
        want = local_lake.read_table(quarantine.path).to_pandas()
        got = spark_lake.read_table(quarantine.path).to_pandas()
        assert sorted(
            zip(want["customer_id"].astype(str), want["quarantine_reason"], strict=True)
        ) == sorted(zip(got["customer_id"].astype(str), got["quarantine_reason"], strict=True))
    assert spark_jobs_run > 0, "the Spark engine did not run anything on Spark"

    # The Spark job wrote the tables itself; what the checks and the UI read must not change:
    # the cleaning accounting (incl. missing rates) and each asset's summary metadata.
    for side in ("customer_base", "customer_behavior"):
        want = cleaning_stats(local_lake, f"cleaned_{side}")
        got = cleaning_stats(spark_lake, f"cleaned_{side}")
        for field in PER_RUN_FIELDS:
            want.pop(field), got.pop(field)
        assert got == want, side
    assert _summaries(spark_run) == _summaries(local_run)


@pytest.mark.parametrize(("seed", "split_bytes"), [(11, 32 * 1024), (23, 256 * 1024)])
def test_customers_group_on_spark_writes_the_local_engines_tables(
    spark, spark_engine, tmp_path, lake_root, monkeypatch, seed, split_bytes
):
    from finance_platform.sample_data import DefectRates, generate

    monkeypatch.setenv("FINANCE_CUSTOMERS_RUN_DATE", "2026-03-02")
    generate(
        lake_root / "raw",
        customers=250,
        months=7,
        seed=seed,
        delivery_date=dt.date(2026, 3, 1),
        defects=DefectRates(
            duplicates=0.02,
            bad_ages=0.02,
            bad_dates=0.02,
            negative_balances=0.02,
            unit_errors=0.01,
        ),
    )
    assert_engines_agree(spark, spark_engine, tmp_path, lake_root, split_bytes)


def test_a_delivery_in_gb18030_with_extra_columns_and_cut_lines_gives_the_same_tables(
    spark, spark_engine, tmp_path, lake_root, monkeypatch
):
    """Both readers on what exports send: the base in GB18030 with extra columns and its last
    line cut, the behaviour with CRLF, compact dates on every 3rd row and a cut last line."""
    from finance_platform.sample_data import DefectRates, generate
    from finance_platform.sample_data.variants import Variant, as_delivered

    monkeypatch.setenv("FINANCE_CUSTOMERS_RUN_DATE", "2026-03-02")
    generated = generate(
        tmp_path / "generated",
        customers=180,
        months=6,
        seed=37,
        delivery_date=dt.date(2026, 3, 1),
        defects=DefectRates(duplicates=0.03, bad_dates=0.03, unit_errors=0.02),
    )
    variants = {
        "customer_base": Variant(encoding="gb18030", extra_columns=True, cut_last_line=True),
        "customer_behavior_assets": Variant(
            crlf=True, date_style="compact", date_every=3, cut_last_line=True
        ),
    }
    for table, variant in variants.items():
        as_delivered(
            generated[table], lake_root / "raw" / table / f"{table}_20260301.csv", variant, table
        )
    assert_engines_agree(spark, spark_engine, tmp_path, lake_root, 64 * 1024)


def test_the_real_file_as_delivered_gives_the_same_tables_on_spark(
    spark, spark_engine, tmp_path, lake_root, monkeypatch
):
    """The bank's real customer file, and behaviour for it sent the way exports go wrong:
    a BOM, CRLF, every 50th date as YYYY/MM/DD and the last line cut mid-row."""
    from finance_platform.sample_data import DefectRates, generate
    from finance_platform.sample_data.variants import Variant, as_delivered
    from finance_platform_tests.customers.test_real_file import REAL_FILE

    if not REAL_FILE.exists():
        pytest.skip(f"the bank's real customer file is not here ({REAL_FILE}): a bare clone")
    monkeypatch.setenv("FINANCE_CUSTOMERS_RUN_DATE", "2025-07-01")
    base = lake_root / "raw" / "customer_base" / "customer_base.csv"
    base.parent.mkdir(parents=True)
    shutil.copyfile(REAL_FILE, base)
    generated = generate(
        tmp_path / "generated",
        months=12,
        seed=5,
        delivery_date=dt.date(2025, 7, 1),
        defects=DefectRates(),
        base_file=base,
    )
    table = "customer_behavior_assets"
    as_delivered(
        generated[table],
        lake_root / "raw" / table / f"{table}_20250701.csv",
        Variant(bom=True, crlf=True, date_style="slash", date_every=50, cut_last_line=True),
        table,
    )
    assert_engines_agree(spark, spark_engine, tmp_path, lake_root, 512 * 1024)


PER_RUN_FIELDS = ("run_id", "written_at", "previous_row_count")
SUMMARY_KEYS = (
    "dagster/row_count",
    "quarantined_rows",
    "duplicates_removed",
    "quarantine_reasons",
    "segment_sizes",
    "customers_without_behavior",
    "customers_in_cool_period",
    "excluded_unknown_cool_period",
    "current_view_status",
    "cross_sectional_extremes",
    "targets_by_product",
)


def _summaries(run) -> dict[str, dict]:
    """Per asset: the metadata values a user compares between runs (not paths or charts)."""
    out = {}
    for event in run.get_asset_materialization_events():
        meta = event.materialization.metadata
        out[event.asset_key.to_user_string()] = {
            k: meta[k].value for k in SUMMARY_KEYS if k in meta
        } | {
            "columns": [c.name for c in meta["dagster/column_schema"].value.columns]
            if "dagster/column_schema" in meta
            else None,
            "mean_engagement_score": round(meta["mean_engagement_score"].value, 9)
            if "mean_engagement_score" in meta
            else None,
        }
    return out
