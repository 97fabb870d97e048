"""The Spark engine never converts between pandas and Spark, and PySpark's pandas warning is gone.

PySpark 4.3 supports pandas < 3 only; the project pins pandas 3. That pairing is safe only
because no path of the engine hands a DataFrame across: the stages are SQL, Spark writes
Parquet, the Dagster side reads it with pyarrow. These tests fail if a conversion creeps in.
"""

import datetime as dt
import os
import subprocess
import sys

import dagster as dg
import pytest

from finance_platform_tests.customers.group import customer_resources


@pytest.fixture
def conversions_refused(monkeypatch):
    """pandas <-> Spark conversion raises for the duration of a test."""
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

    def refuse(*_args, **_kwargs):
        raise AssertionError("a Spark DataFrame was converted to pandas")

    create = SparkSession.createDataFrame

    def create_without_pandas(self, data, *args, **kwargs):
        if isinstance(data, pd.DataFrame):
            raise AssertionError("a pandas DataFrame was handed to Spark")
        return create(self, data, *args, **kwargs)

    monkeypatch.setattr(DataFrame, "toPandas", refuse)
    monkeypatch.setattr(SparkSession, "createDataFrame", create_without_pandas)


def test_the_customer_group_on_spark_converts_nothing_to_pandas(
    spark, spark_engine, lake_root, monkeypatch, conversions_refused
):
    from finance_platform.defs.customers.assets import ASSETS
    from finance_platform.resources.lake import LakeResource
    from finance_platform.sample_data import generate

    monkeypatch.setenv("FINANCE_CUSTOMERS_RUN_DATE", "2026-03-02")
    generate(lake_root / "raw", customers=60, months=4, seed=2, delivery_date=dt.date(2026, 3, 1))
    lake = LakeResource(root=str(lake_root))
    result = dg.materialize(ASSETS, resources=customer_resources(lake_root, spark_engine))
    assert result.success
    assert lake.count_rows("recommendations/marketing_targets") > 0


def test_a_spark_session_starts_without_the_pandas_warning(tmp_path):
    """A fresh interpreter that turns FutureWarning into an error can start a session."""
    probe = (
        "from finance_platform.spark_jobs.session import local_session\n"
        "spark = local_session(master='local[1]', driver_memory='512m')\n"
        "assert spark.range(3).count() == 3\n"
        "spark.stop()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-W", "error::FutureWarning", "-c", probe],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "error::FutureWarning"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "pandas" not in proc.stderr
