"""FINANCE_ENGINE=spark end to end: the Pipes subprocess runs the real entry point on a lake."""

import datetime as dt
import json

import dagster as dg

from finance_platform.resources.spark import SparkJobLauncher
from finance_platform_tests.market.replay_server import FIXTURES, IBM_COMPACT

FIXTURE = FIXTURES / IBM_COMPACT


def _curated_asset():
    @dg.asset(name="curated_quotes", group_name="market")
    def curated_quotes(context: dg.AssetExecutionContext, spark_launcher: SparkJobLauncher):
        (result,) = spark_launcher.run(
            context, params={"source": "fixture", "ingested_at": "2023-11-11T06:30:00+00:00"}
        )
        return result

    return curated_quotes


def test_local_spark_job_writes_curated_partitions_and_reports_them(lake, lake_root):
    body = FIXTURE.read_bytes()
    days = sorted(json.loads(body)["Time Series (Daily)"])[-3:]
    for day in days:
        lake.write_bytes(f"raw/quotes/symbol=IBM/date={day}.json", body)
    lake.write_bytes("raw/quotes/symbol=IBM/date=2023-11-11.json", body)  # a Saturday: no bar

    launcher = SparkJobLauncher(engine="spark", lake_root=str(lake_root))
    result = dg.materialize([_curated_asset()], resources={"spark_launcher": launcher})

    assert result.success
    (mat,) = result.asset_materializations_for_node("curated_quotes")
    assert mat.metadata["dagster/row_count"].value == 3
    assert mat.metadata["check/duplicate_keys"].value == 0
    assert mat.metadata["check/unique_keys_passed"].value is True
    columns = [c.name for c in mat.metadata["dagster/column_schema"].schema.columns]
    assert columns[:2] == ["open", "high"]  # partition columns live in the folder names
    table = lake.read_table("curated/quotes").to_pandas()
    assert sorted(table["trade_date"].astype(str)) == days
    assert set(table["source"]) == {"fixture"}
    assert table["ingested_at"].iloc[0] == dt.datetime(2023, 11, 11, 6, 30, tzinfo=dt.UTC) or str(
        table["ingested_at"].iloc[0]
    ).startswith("2023-11-11 06:30:00")


def test_local_spark_job_failure_carries_the_error_message(lake_root):
    """The entry point's exception text ends up in the failed Dagster step."""

    @dg.asset(name="customer_segments")
    def wrong_job(context: dg.AssetExecutionContext, spark_launcher: SparkJobLauncher):
        (result,) = spark_launcher.run(context, job="curated_quotes")
        return result

    launcher = SparkJobLauncher(engine="spark", lake_root=str(lake_root))
    result = dg.materialize(
        [wrong_job], resources={"spark_launcher": launcher}, raise_on_error=False
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = str(failure.step_failure_data.error)
    assert "local Spark job curated_quotes exited with code 1" in message
    assert "ValueError: job curated_quotes does not write ['customer_segments']" in message
