"""The customer group end to end on generated deliveries in a temporary lake."""

import datetime as dt
import json

import dagster as dg
import pyarrow.csv as pacsv
import pytest

from finance_platform.defs.customers import defs as customer_defs
from finance_platform.defs.customers.assets import ASSETS
from finance_platform.defs.customers.common import QUALITY_LOGS
from finance_platform.sample_data import generate
from finance_platform.transforms.customers.contract import TABLES
from finance_platform_tests.customers.group import checks_by_name, customer_resources, materialize

pytestmark = pytest.mark.slow

CLEANING = [
    "raw_customer_base",
    "raw_customer_behavior_assets",
    "cleaned_customer_base",
    "cleaned_customer_behavior",
]


def test_group_rebuilds_from_raw_files_without_losing_rows_or_leaking_names(delivered, lake):
    with dg.instance_for_test() as instance:
        result = materialize(delivered, instance)
        # the 06:00 quality job re-evaluates the checks on what is stored, rebuilding nothing
        quality = (
            dg.Definitions.merge(
                customer_defs,
                dg.Definitions(resources=customer_resources(delivered)),
            )
            .resolve_job_def("customers_quality_job")
            .execute_in_process(instance=instance, raise_on_error=False)
        )
    assert result.success
    assert quality.success and not quality.get_asset_materialization_events()
    rechecked = checks_by_name(quality)
    assert rechecked["cleaned_customer_behavior:reconciliation"].passed
    assert len(rechecked) >= 20
    built = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert built == {a.key.to_user_string() for a in ASSETS}
    for table in TABLES.values():
        assert lake.count_rows(table.path) > 0, table.name
    checks = checks_by_name(result)
    for name in (
        "cleaned_customer_base:reconciliation",
        "cleaned_customer_behavior:reconciliation",
        "customer_segments:every_customer_in_one_segment",
        "marketing_targets:targets_respect_rules",
        "cleaned_customer_base:great_expectations_suite",
        "cleaned_customer_behavior:balances_non_negative",
    ):
        assert checks[name].passed, name
    # the generator's defects are caught
    assert not checks["cleaned_customer_base:duplicates_removed"].passed
    assert not checks["cleaned_customer_base:ages_out_of_range"].passed
    assert not checks["cleaned_customer_behavior:missing_rate"].passed  # ~20% contact results
    assert checks["cleaned_customer_behavior:missing_rate"].severity == dg.AssetCheckSeverity.WARN
    reasons = lake.read_table(TABLES["cleaned_customer_behavior"].quarantine.path).to_pandas()
    assert {"negative_balance", "bad_date:last_app_login_time"} <= set(reasons["quarantine_reason"])

    # every customer in exactly one segment; S001-S004 exist in the catalogue
    segments = lake.read_table(TABLES["customer_segments"].path).to_pandas()
    assert segments["customer_id"].is_unique
    assert len(segments) == lake.count_rows(TABLES["cleaned_customer_base"].path)
    profiles = lake.read_table(TABLES["segment_profiles"].path).to_pandas()
    assert {"S001", "S002", "S003", "S004"} <= set(profiles["segment_id"])

    # targets: the required columns, nobody in their cool period on the run date
    targets = lake.read_table(TABLES["marketing_targets"].path).to_pandas()
    assert {
        "customer_id",
        "recommended_product",
        "priority_score",
        "expected_value",
        "reason",
    } <= set(targets.columns)
    assert (targets["marketing_cool_period"] <= dt.date(2026, 1, 5)).all()
    assert targets["target_rank"].tolist() == list(range(1, len(targets) + 1))

    # names never leave raw/cleaned storage: not in outputs, metadata or quality logs
    raw_base = next((delivered / "raw" / "customer_base").glob("*.csv"))
    names = set(pacsv.read_csv(raw_base).column("name").to_pylist())
    for key in (
        "customer_features",
        "customer_segments",
        "product_recommendations",
        "marketing_targets",
        "behavior_metrics",
    ):
        assert "name" not in lake.read_table(TABLES[key].path).column_names
    assert (
        "name" not in lake.read_table(TABLES["cleaned_customer_base"].quarantine.path).column_names
    )
    metadata_text = json.dumps(
        [
            {
                k: str(v.value)
                for k, v in e.step_materialization_data.materialization.metadata.items()
            }
            for e in result.get_asset_materialization_events()
        ]
        + [
            {k: str(v.value) for k, v in e.metadata.items()}
            for e in result.get_asset_check_evaluations()
        ],
        ensure_ascii=False,
    )
    assert not [n for n in names if n in metadata_text]

    mats = {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    # the UI's pictures: segment sizes, profiles and score distributions
    for asset, chart in {
        "customer_segments": "segment_size_chart",
        "segment_profiles": "avg_total_assets_chart",
        "product_recommendations": "score_distribution_chart",
        "marketing_targets": "priority_score_chart",
    }.items():
        assert "data:image/png;base64," in mats[asset][chart].value, asset
    # column lineage: every column but a constant has upstream columns that really exist
    from finance_platform.defs.customers.common import table_columns

    unexplained = {}
    for asset in TABLES:
        lineage = mats[asset]["dagster/column_lineage"].value.deps_by_column
        columns = table_columns(lake, asset)
        unexplained[asset] = [c for c in columns if c not in lineage]
        for column, deps in lineage.items():
            assert column in columns, (asset, column)
            for dep in deps:
                upstream = table_columns(lake, dep.asset_key.to_user_string())
                assert dep.column_name in upstream, (asset, column, dep)
    assert {a: c for a, c in unexplained.items() if c} == {
        "product_recommendations": ["product"],  # the product catalogue, not a column
        "marketing_targets": ["run_date"],
    }
    marriage = mats["cleaned_customer_base"]["dagster/column_lineage"].value
    assert [
        (d.asset_key.to_user_string(), d.column_name)
        for d in marriage.deps_by_column["marriage_code"]
    ] == [("raw_customer_base", "marriage_status")]

    logs = lake.read_table(QUALITY_LOGS).to_pandas()
    ours = logs[logs["check"] != "freshness_check"]
    assert len(ours) == len([c for c in checks if not c.endswith("freshness_check")]) + len(
        [c for c in rechecked if not c.endswith("freshness_check")]
    )
    assert not [n for n in names if n in logs.to_json(force_ascii=False)]


def test_row_count_drop_fails_and_blocks_downstream(delivered, lake):
    with dg.instance_for_test() as instance:
        assert materialize(delivered, instance, selection=CLEANING).success
        generate(
            delivered / "raw", customers=200, months=6, seed=12, delivery_date=dt.date(2026, 1, 6)
        )
        result = materialize(delivered, instance, selection=[*CLEANING, "customer_features"])
    checks = checks_by_name(result)
    drop = checks["cleaned_customer_base:row_count_drop"]
    assert not drop.passed and drop.severity == dg.AssetCheckSeverity.ERROR
    assert drop.metadata["drop"].value > 0.4
    built = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "customer_features" not in built  # blocked by the failed blocking check


def test_missing_required_column_fails_naming_it(delivered, lake):
    path = next((delivered / "raw" / "customer_base").glob("*.csv"))
    table = pacsv.read_csv(path).drop_columns(["lifecycle_stage"])
    pacsv.write_csv(table, delivered / "raw" / "customer_base" / "customer_base_20260107.csv")
    with dg.instance_for_test() as instance:
        result = materialize(delivered, instance, selection=["raw_customer_base"])
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "lifecycle_stage" in failure.event_specific_data.error.message


def test_schema_drift_warns_and_extra_columns_stay_out_of_cleaned(delivered, lake):
    path = next((delivered / "raw" / "customer_base").glob("*.csv"))
    table = pacsv.read_csv(path)
    table = table.append_column("create_time", table.column("open_account_date"))
    pacsv.write_csv(table, delivered / "raw" / "customer_base" / "customer_base_20260107.csv")
    with dg.instance_for_test() as instance:
        result = materialize(
            delivered, instance, selection=["raw_customer_base", "cleaned_customer_base"]
        )
    assert result.success
    drift = checks_by_name(result)["raw_customer_base:schema_drift"]
    assert not drift.passed and drift.severity == dg.AssetCheckSeverity.WARN
    assert drift.metadata["extra_columns"].value == ["create_time"]
    assert "create_time" not in lake.read_table(TABLES["cleaned_customer_base"].path).column_names
