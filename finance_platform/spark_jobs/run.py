"""The one entry point every Spark engine runs: ``python -m finance_platform.spark_jobs.run <job>``.

Local Spark (a Pipes subprocess), EMR Serverless and Glue all start this same
file. It opens Dagster Pipes (parameters from the environment on EMR / local,
from ``--dagster-pipes-*`` arguments on Glue; context and messages on S3 when
the orchestrator put them there), builds the tables the orchestrator asked
for, writes them to the lake and reports each one back as a materialization
with its row count, schema and check results as metadata. If anything raises,
the exception travels back through Pipes and the process exits non-zero, so
the remote job ends FAILED with the message.

No Dagster import: only ``dagster_pipes`` (bundled in the job package) and PySpark.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from finance_platform.spark_jobs.registry import JOBS, SparkJobSpec
from finance_platform.transforms.customers import contract

if TYPE_CHECKING:
    from dagster_pipes import PipesContext
    from pyspark.sql import DataFrame, SparkSession


class LakePaths:
    """Lake-relative folders to full URIs (local folder or ``s3://bucket/prefix``).

    Versioned tables (``LakeResource.publish``) are read and written where the orchestrator
    says: ``reads`` maps a table's folder to its published version, ``writes`` to the staged
    version this job fills (published by the orchestrator once the step succeeded).
    """

    def __init__(
        self,
        root: str,
        reads: Mapping[str, str] | None = None,
        writes: Mapping[str, str] | None = None,
    ):
        self.root = root.rstrip("/")
        self.reads = dict(reads or {})
        self.writes = dict(writes or {})

    def _full(self, relative: str) -> str:
        rel = relative.strip("/")
        if ".." in rel.split("/"):
            raise ValueError(f"lake paths may not leave the lake root: {relative!r}")
        return f"{self.root}/{rel}" if rel else self.root

    def uri(self, relative: str) -> str:
        """Where to read ``relative`` (its published version, for a versioned table)."""
        rel = relative.strip("/")
        return self._full(self.reads.get(rel, rel))

    def output_uri(self, relative: str) -> str:
        """Where this job writes ``relative`` (a staged version, for a versioned table)."""
        rel = relative.strip("/")
        return self._full(self.writes.get(rel, rel))

    def with_versions(self, params: Mapping[str, Any]) -> LakePaths:
        return LakePaths(self.root, params.get("lake_reads"), params.get("lake_writes"))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", nargs="?", help=f"one of {', '.join(JOBS)}")
    # Glue passes job parameters as --key value; it also adds its own (--JOB_ID, ...).
    parser.add_argument("--finance-job", dest="finance_job")
    args, _unknown = parser.parse_known_args(argv)
    args.job = args.finance_job or args.job
    if args.job not in JOBS:
        parser.error(f"unknown or missing job {args.job!r}; known: {', '.join(JOBS)}")
    return args


def open_pipes(argv: Sequence[str] | None = None) -> PipesContext:
    """Open Pipes with the loaders matching how the orchestrator injected its parameters."""
    from dagster_pipes import (
        DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT,
        PipesCliArgsParamsLoader,
        PipesDefaultContextLoader,
        PipesDefaultMessageWriter,
        PipesEnvVarParamsLoader,
        PipesS3ContextLoader,
        PipesS3MessageWriter,
        open_dagster_pipes,
    )

    argv = list(sys.argv if argv is None else argv)
    params_loader = (
        PipesCliArgsParamsLoader()
        if DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT in argv
        else PipesEnvVarParamsLoader()
    )
    if not params_loader.is_dagster_pipes_process():
        raise SystemExit(
            "not started by Dagster Pipes: launch this job from Dagster (FINANCE_ENGINE=spark, "
            "emr-serverless or glue), see deploy/spark.md"
        )
    context_params = params_loader.load_context_params()
    message_params = params_loader.load_messages_params()
    s3 = None
    if "bucket" in context_params or "bucket" in message_params:
        import boto3

        s3 = boto3.client("s3")
    context_loader = PipesS3ContextLoader(s3) if "bucket" in context_params else None
    message_writer = PipesS3MessageWriter(s3, interval=5) if "bucket" in message_params else None
    return open_dagster_pipes(
        params_loader=params_loader,
        context_loader=context_loader or PipesDefaultContextLoader(),
        message_writer=message_writer or PipesDefaultMessageWriter(),
    )


def load_runner(spec: SparkJobSpec):
    module_name, _, func = spec.runner.partition(":")
    return getattr(importlib.import_module(module_name), func)


def table_metadata(df: DataFrame, uri: str, keys: Sequence[str]) -> dict[str, Any]:
    """Row count, schema and the job's own checks on a written table, as Pipes metadata."""
    from pyspark.sql import functions as F

    aggs = [F.count(F.lit(1)).alias("rows")]
    if keys:
        aggs.append(F.countDistinct(*[F.col(k) for k in keys]).alias("distinct_keys"))
        any_null = F.col(keys[0]).isNull()
        for key in keys[1:]:
            any_null = any_null | F.col(key).isNull()
        aggs.append(F.sum(F.when(any_null, 1).otherwise(0)).alias("null_keys"))
    stats = df.agg(*aggs).first().asDict()
    rows = int(stats["rows"])
    metadata: dict[str, Any] = {
        "dagster/row_count": {"raw_value": rows, "type": "int"},
        "path": {"raw_value": uri, "type": "path"},
        "engine": {"raw_value": "spark", "type": "text"},
        "dagster/column_schema": {
            "raw_value": {
                "columns": [
                    {"name": f.name, "type": f.dataType.simpleString()} for f in df.schema.fields
                ]
            },
            "type": "table_schema",
        },
    }
    if keys:
        duplicates = rows - int(stats["distinct_keys"] or 0) - int(stats["null_keys"] or 0)
        metadata["check/unique_keys_passed"] = {"raw_value": duplicates <= 0, "type": "bool"}
        metadata["check/duplicate_keys"] = {"raw_value": max(duplicates, 0), "type": "int"}
        metadata["check/null_keys"] = {"raw_value": int(stats["null_keys"] or 0), "type": "int"}
        metadata["check/keys"] = {"raw_value": ", ".join(keys), "type": "text"}
    return metadata


def writable(df: DataFrame) -> DataFrame:
    """What lands in the lake: no internal ``_`` columns, wall-clock timestamps without a zone.

    Spark's TIMESTAMP is stored UTC-adjusted and reads back zone-aware in pandas;
    the pandas engine writes naive timestamps, so Spark writes TIMESTAMP_NTZ.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    columns = []
    for f in df.schema.fields:
        if f.name.startswith("_"):
            continue
        col = F.col(f.name)
        if isinstance(f.dataType, TimestampType):
            col = col.cast("timestamp_ntz")
        columns.append(col.alias(f.name))
    return df.select(*columns)


def write_table(df: DataFrame, uri: str) -> None:
    writable(df).write.mode("overwrite").parquet(uri)


def run_job(
    spark: SparkSession,
    spec: SparkJobSpec,
    lake: LakePaths,
    tables: Sequence[str],
    params: Mapping[str, Any],
) -> tuple[dict[str, tuple[str, DataFrame]], dict[str, dict[str, Any]]]:
    """Build and write ``tables`` (and their companions); returns (uri, frame) per table
    and the job's extra metadata per table."""
    unknown = sorted(set(tables) - set(spec.outputs))
    if unknown:
        raise ValueError(f"job {spec.name} does not write {unknown}")
    lake = lake.with_versions(params)
    frames: dict[str, DataFrame] = {}
    extra: dict[str, dict[str, Any]] = {}
    for table in tables:  # each table's stage on its own (a stage's views are named by it)
        built = dict(load_runner(spec)(spark, lake, {**params, "table": table}))
        extra.update(built.pop("__metadata__", {}))
        frames.update(built)
    wanted = list(tables)
    for table in tables:
        wanted += [c for c in spec.companions.get(table, ()) if c not in wanted]
    written: dict[str, tuple[str, DataFrame]] = {}
    for table in wanted:
        uri = lake.output_uri(spec.outputs[table])
        write_table(frames[table], uri)
        written[table] = (uri, spark.read.parquet(uri))
    return written, extra


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with open_pipes() as pipes:
        serve(pipes, JOBS[args.job])
    return 0


def serve(pipes: PipesContext, spec: SparkJobSpec) -> None:
    """Build what the orchestrator asked for and report each table back through ``pipes``."""
    extras = pipes.extras
    lake = LakePaths(extras["lake_root"])
    # by default every table the job builds (its quarantines come with their cleaned table)
    tables: list[str] = list(
        extras.get("tables") or [t for t in spec.outputs if t not in contract.QUARANTINES]
    )
    asset_keys: dict[str, str] = extras.get("asset_keys") or {}
    unknown = sorted(set(tables) - set(spec.outputs))
    if unknown:  # before paying for a JVM
        raise ValueError(f"job {spec.name} does not write {unknown}")
    conf = [tuple(pair) for pair in extras.get("spark_conf", [])]
    from finance_platform.spark_jobs import session

    if extras.get("spark_mode") == "local":
        spark = session.local_session(
            master=extras.get("master", "local[*]"),
            driver_memory=extras.get("driver_memory", "2g"),
            shuffle_partitions=int(extras.get("shuffle_partitions", 4)),
            conf=conf,
            app_name=f"finance_platform.{spec.name}",
        )
    else:
        spark = session.cluster_session(conf, app_name=f"finance_platform.{spec.name}")
    pipes.log.info(f"Spark {spark.version}: job {spec.name} building {', '.join(tables)}")
    from finance_platform.spark_jobs.jobs import TABLE_KEYS

    written, extra = run_job(spark, spec, lake, tables, extras.get("params") or {})
    for table in tables:
        uri, df = written[table]
        metadata = table_metadata(df, uri, TABLE_KEYS.get(table, ()))
        for companion in spec.companions.get(table, ()):
            c_uri, c_df = written[companion]
            metadata[f"{companion}/path"] = {"raw_value": c_uri, "type": "path"}
            metadata[f"{companion}/row_count"] = {"raw_value": c_df.count(), "type": "int"}
        if table in extra:
            metadata["job_metadata"] = {"raw_value": extra[table], "type": "json"}
        pipes.report_asset_materialization(
            asset_key=asset_keys.get(table, table), metadata=metadata
        )


if __name__ == "__main__":
    sys.exit(main())
