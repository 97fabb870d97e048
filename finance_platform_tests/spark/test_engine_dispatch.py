"""FINANCE_ENGINE=spark through the real customers assets: same keys, same lake tables as pandas."""

import datetime as dt
import shutil

import dagster as dg

from finance_platform_tests.spark.parity import assert_same_table

TABLES = {
    "cleaned/customer_base": ["customer_id"],
    "cleaned/customer_behavior": ["customer_id", "stat_month"],
    "features/customer_features": ["customer_id"],
    "features/behavior_metrics": ["customer_id"],
    "segments/customer_segments": ["customer_id"],
    "segments/segment_profiles": ["segment_id"],
    "recommendations/product_recommendations": ["customer_id", "product"],
    "recommendations/marketing_targets": ["target_rank"],
}


def _materialize(lake_root, monkeypatch, engine: str):
    from finance_platform.defs.customers.assets import ASSETS
    from finance_platform.resources.lake import LakeResource

    monkeypatch.setenv("FINANCE_ENGINE", engine)
    result = dg.materialize(ASSETS, resources={"lake": LakeResource(root=str(lake_root))})
    assert result.success
    return result


def test_customers_group_on_spark_writes_the_pandas_tables(spark, tmp_path, lake_root, monkeypatch):
    from finance_platform.defs.customers.common import cleaning_stats
    from finance_platform.resources.lake import LakeResource
    from finance_platform.sample_data import DefectRates, generate

    monkeypatch.setenv("FINANCE_CUSTOMERS_RUN_DATE", "2026-03-02")
    generate(
        lake_root / "raw",
        customers=250,
        months=7,
        seed=11,
        delivery_date=dt.date(2026, 3, 1),
        defects=DefectRates(duplicates=0.02, bad_ages=0.02, bad_dates=0.02, negative_balances=0.02),
    )
    pandas_run = _materialize(lake_root, monkeypatch, "pandas")
    expected_root = tmp_path / "pandas_lake"
    shutil.copytree(lake_root, expected_root)
    jobs_before = len(spark.sparkContext.statusTracker().getJobIdsForGroup())
    spark_run = _materialize(lake_root, monkeypatch, "spark")
    spark_jobs_run = len(spark.sparkContext.statusTracker().getJobIdsForGroup()) - jobs_before

    def keys(run):
        return sorted(e.asset_key.to_user_string() for e in run.get_asset_materialization_events())

    assert keys(spark_run) == keys(pandas_run)
    spark_lake, pandas_lake = (
        LakeResource(root=str(lake_root)),
        LakeResource(root=str(expected_root)),
    )
    for path, key in TABLES.items():
        want = pandas_lake.read_table(path).to_pandas()
        got = spark_lake.read_table(path).to_pandas()
        assert_same_table(want, got, key, path)
    for side in ("customer_base", "customer_behavior"):
        want = pandas_lake.read_table(f"quarantine/{side}").to_pandas()
        got = spark_lake.read_table(f"quarantine/{side}").to_pandas()
        assert sorted(
            zip(want["customer_id"].astype(str), want["quarantine_reason"], strict=True)
        ) == sorted(zip(got["customer_id"].astype(str), got["quarantine_reason"], strict=True))
    assert spark_jobs_run > 0, "FINANCE_ENGINE=spark did not run anything on Spark"

    # The Spark job wrote the tables itself; what the checks and the UI read must not change:
    # the cleaning accounting (incl. missing rates) and each asset's summary metadata.
    for side in ("customer_base", "customer_behavior"):
        want = cleaning_stats(pandas_lake, f"cleaned_{side}")
        got = cleaning_stats(spark_lake, f"cleaned_{side}")
        for field in PER_RUN_FIELDS:
            want.pop(field), got.pop(field)
        assert got == want, side
    assert _summaries(spark_run) == _summaries(pandas_run)


PER_RUN_FIELDS = ("run_id", "written_at", "previous_row_count")
SUMMARY_KEYS = (
    "dagster/row_count",
    "quarantined_rows",
    "duplicates_removed",
    "quarantine_reasons",
    "segment_sizes",
    "customers_without_behavior",
    "customers_in_cool_period",
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
