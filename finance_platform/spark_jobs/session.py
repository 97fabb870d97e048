"""The SparkSession every engine uses: one builder for tests, local runs and remote jobs.

No Dagster import here: this module ships to EMR Serverless / Glue inside the
job package, where only PySpark is guaranteed.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING

from finance_platform.transforms.customers.sql.spark_engine import SESSION_CONF

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Settings that keep a laptop / CI runner responsive: few shuffle partitions
# (the default 200 makes a few-thousand-row join spend its time scheduling),
# no web UI (port clashes between parallel sessions), UTC everywhere, Arrow
# for pandas conversions, and exact (non-ANSI-surprising) float semantics.
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # Locally the driver is this machine and each step's table comes back to pandas, so
    # Spark's 1 GB guard on collected results refused the 12M-row history (1.7 GB) at
    # 1M customers; the bound that matters is FINANCE_SPARK_DRIVER_MEMORY.
    "spark.driver.maxResultSize": "0",
}

# PySpark 4.3 warns at session start that it "does not yet fully support pandas >= 3.0.0": its
# type converters import its own test helpers, which check the installed pandas. Nothing
# here converts between pandas and Spark (the stages are SQL, tables go to Parquet, the
# Dagster side reads them with pyarrow; finance_platform_tests/spark/test_no_pandas.py), so
# the warning is about a path this platform never takes.
PANDAS_WARNING = "PySpark does not yet fully support pandas"


def _quiet_pandas_warning() -> None:
    warnings.filterwarnings("ignore", message=PANDAS_WARNING, category=FutureWarning)


# Applied to remote sessions too (they are runtime-settable SQL options).
PORTABLE_DEFAULTS: dict[str, str] = {
    **SESSION_CONF,
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


def local_session(
    *,
    master: str = "local[*]",
    driver_memory: str = "2g",
    shuffle_partitions: int = 4,
    conf: Iterable[tuple[str, str]] = (),
    app_name: str = "finance_platform",
) -> SparkSession:
    """Start (or reuse) a local SparkSession with small-machine settings."""
    from pyspark.sql import SparkSession

    _quiet_pandas_warning()
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in LOCAL_DEFAULTS.items():
        builder = builder.config(key, value)
    builder = builder.config("spark.driver.memory", driver_memory)
    builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    builder = builder.config("spark.default.parallelism", str(max(2, shuffle_partitions)))
    for key, value in conf:
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def cluster_session(
    conf: Iterable[tuple[str, str]] = (), app_name: str = "finance_platform"
) -> SparkSession:
    """The session inside EMR Serverless / Glue: the cluster decides master and memory."""
    from pyspark.sql import SparkSession

    _quiet_pandas_warning()
    builder = SparkSession.builder.appName(app_name)
    for key, value in [*PORTABLE_DEFAULTS.items(), *conf]:
        builder = builder.config(key, value)
    return builder.getOrCreate()
