"""FINANCE_ENGINE=spark end to end: the Pipes subprocess runs the real entry point on a lake."""

import datetime as dt

import dagster as dg

from finance_platform.resources.spark import SparkJobLauncher
from finance_platform.transforms.customers import contract

BASE = contract.CLEANED_CUSTOMER_BASE


def _small_delivery(lake_root) -> str:
    """A 40-customer delivery with repeated rows; returns the base file's lake path."""
    from finance_platform.sample_data import DefectRates, generate

    paths = generate(
        lake_root / "raw",
        customers=40,
        months=1,
        seed=3,
        delivery_date=dt.date(2026, 3, 1),
        defects=DefectRates(duplicates=0.1),
    )
    return paths[BASE.delivery.file].relative_to(lake_root).as_posix()


def test_local_spark_job_writes_the_cleaned_table_and_reports_it(lake, lake_root):
    delivery = _small_delivery(lake_root)

    @dg.asset(name=BASE.name, group_name="customers")
    def cleaned(context: dg.AssetExecutionContext, spark_launcher: SparkJobLauncher):
        (result,) = spark_launcher.run(
            context, params={"deliveries": {BASE.delivery.file: delivery}}
        )
        return result

    launcher = SparkJobLauncher(engine="spark", lake_root=str(lake_root))
    result = dg.materialize([cleaned], resources={"spark_launcher": launcher})

    assert result.success
    (mat,) = result.asset_materializations_for_node(BASE.name)
    table = lake.read_table(BASE.path).to_pandas()
    (job,) = mat.metadata["job_metadata"].value[f"{BASE.name}_accounting"]
    assert job["duplicates_removed"] > 0  # the delivery repeated rows; the table does not
    assert mat.metadata["dagster/row_count"].value == len(table) > 0
    assert mat.metadata["check/duplicate_keys"].value == 0
    assert mat.metadata["check/unique_keys_passed"].value is True
    assert table["customer_id"].is_unique
    columns = [c.name for c in mat.metadata["dagster/column_schema"].schema.columns]
    assert columns == list(BASE.columns) == list(table.columns)
    quarantined = lake.read_table(BASE.quarantine.path).to_pandas()
    assert mat.metadata[f"{BASE.quarantine.name}/row_count"].value == len(quarantined)
    assert job["raw_rows"] == len(table) + len(quarantined) + job["duplicates_removed"]


def test_local_spark_job_failure_carries_the_error_message(lake_root):
    """The entry point's exception text ends up in the failed Dagster step."""

    @dg.asset(name="customer_segments")
    def wrong_job(context: dg.AssetExecutionContext, spark_launcher: SparkJobLauncher):
        (result,) = spark_launcher.run(context, job="customers_cleaning")
        return result

    launcher = SparkJobLauncher(engine="spark", lake_root=str(lake_root))
    result = dg.materialize(
        [wrong_job], resources={"spark_launcher": launcher}, raise_on_error=False
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = str(failure.step_failure_data.error)
    assert "local Spark job customers_cleaning exited with code 1" in message
    assert "ValueError: job customers_cleaning does not write ['customer_segments']" in message
