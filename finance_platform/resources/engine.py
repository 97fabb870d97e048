"""The engine that builds the customer tables: one resource per engine, picked in build_resources.

Every engine runs the same SQL stages (``transforms/customers/sql``, chosen by
``sql/steps.py`` from the asset's table and parameters) and writes the table and its
companions to the staged versions the asset names; the asset then describes and publishes
them. ``FINANCE_ENGINE`` (``Settings.engine``) chooses which engine is registered as
``customer_engine``; a test hands in the engine it wants.

- ``local`` (default): DuckDB in the asset's own step, out of core within
  ``FINANCE_LOCAL_MEMORY`` (it spills to disk beyond that);
- ``spark``: a local SparkSession shared by the run's steps (the cluster code, locally);
- ``emr-serverless`` / ``glue``: the Spark job package through Dagster Pipes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import dagster as dg
from pydantic import Field

from finance_platform.resources.lake import LakeResource
from finance_platform.resources.spark import SparkJobLauncher, SparkSessionResource
from finance_platform.settings import Settings, load_spark_settings
from finance_platform.transforms.customers import contract

CUSTOMER_ENGINE = "customer_engine"  # the resource key the customer assets declare
# Bytes of the local budget kept for the step's own process: Dagster and the libraries it has
# loaded (~0.3 GB), the columns the asset reads back for its charts, and what DuckDB holds
# beyond its limit. Keeping 2 GB (DuckDB 2 GB) the 5M-customer behaviour metrics ran out of
# DuckDB memory in one of two runs; 1.5 GB kept, they pass (benchmarks/customers.py).
RESERVED_FOR_PROCESS = 3 * 1024**3 // 2

Stats = dict[str, list[dict[str, Any]]]  # a stage's small stats views, as rows


def stage_reads(
    lake: LakeResource, inputs: tuple[str, ...], params: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Where each input view of a stage comes from, lake-relative.

    A raw delivery: the file the asset registered (``params["deliveries"]``) with its
    header and encoding; a table: its published version.
    """
    reads: dict[str, dict[str, Any]] = {}
    for view in inputs:
        delivery = contract.DELIVERIES.get(view)
        if delivery is not None:
            file = delivery.file
            reads[view] = {
                "csv": params["deliveries"][file],
                "columns": list(delivery.columns),
                "header": list((params.get("headers") or {}).get(file) or []),
                "encoding": (params.get("encodings") or {}).get(file, "utf-8"),
            }
        else:
            path = contract.table(view).path
            resolved = lake.resolve(path)  # its published version, else the path itself
            if resolved == path:
                raise dg.Failure(f"{view} has never been written: materialize it first")
            reads[view] = {"parquet": resolved}
    return reads


class CustomerEngine(dg.ConfigurableResource):
    """What every engine offers the customer assets: who it is and how it builds a table."""

    name: ClassVar[str]  # the FINANCE_ENGINE value that selects it
    kind: ClassVar[str]  # the asset kind the UI shows: "duckdb" or "spark"

    def build(
        self,
        context: dg.AssetExecutionContext,
        lake: LakeResource,
        table: str,
        params: Mapping[str, Any],
        writes: Mapping[str, str],
    ) -> Stats:
        """Build ``table`` (and its companions) into ``writes`` ({view: staged lake path})."""
        raise NotImplementedError


def release_freed_memory() -> None:
    """Hand memory that Python code has freed back to the operating system.

    A run's steps share one process (the in-process executor): the columns earlier steps
    read for charts and checks are freed, but Arrow's allocator and the C library keep the
    pages for reuse, and DuckDB, which allocates on its own, cannot reuse them. Measured at
    5M customers: the process held 3.6 GB going into a 2.5 GB DuckDB stage. (DuckDB returns
    its own memory when a stage's connection closes: 643 MB resident after a 5M-customer
    stage, 121 MB after closing it.)
    """
    import ctypes
    import ctypes.util

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = ctypes.util.find_library("c")
    if libc and "libc.so" in libc:  # glibc: malloc_trim gives free heap pages back
        ctypes.CDLL(libc).malloc_trim(0)


class LocalEngine(CustomerEngine):
    """DuckDB in the asset's step: reads the CSVs and Parquet out of core, writes Parquet.

    On an S3 lake (the cheapest production option) a step's inputs are streamed to local
    disk first and its outputs streamed up, so DuckDB needs no network extension.
    """

    name: ClassVar[str] = "local"
    kind: ClassVar[str] = "duckdb"

    memory_bytes: int = Field(
        default=4 * 1024**3, description="Memory budget of the step (FINANCE_LOCAL_MEMORY)."
    )
    threads: int = Field(default=0, description="DuckDB threads; 0 = every core.")

    @property
    def duckdb_memory_bytes(self) -> int:
        """DuckDB's share of the budget (the rest: ``RESERVED_FOR_PROCESS``)."""
        return max(self.memory_bytes - RESERVED_FOR_PROCESS, self.memory_bytes // 2)

    @property
    def thread_count(self) -> int:
        import os

        return self.threads or os.cpu_count() or 1

    def build(self, context, lake, table, params, writes) -> Stats:
        import tempfile

        from finance_platform.transforms.customers.sql import steps
        from finance_platform.transforms.customers.sql.duckdb_engine import (
            CsvRead,
            DuckDBEngine,
            ParquetRead,
        )

        stage = steps.stage_for(table, params)
        context.log.info(
            f"{table}: DuckDB stage {stage.name}, {self.duckdb_memory_bytes / 1024**3:.1f} GB "
            f"of the {self.memory_bytes / 1024**3:.1f} GB budget, {self.thread_count} threads"
        )
        with tempfile.TemporaryDirectory(prefix="finance-duckdb-") as work:

            def local(relative: str, name: str) -> str:
                # an S3 lake: inputs are streamed to the work folder (memory stays bounded;
                # disk holds one step's inputs and outputs), outputs streamed up below
                return (
                    lake.download(relative, f"{work}/in/{name}")
                    if lake.is_s3
                    else lake.uri(relative)
                )

            reads: dict[str, Any] = {}
            for view, read in stage_reads(lake, stage.inputs, params).items():
                if "csv" in read:
                    reads[view] = CsvRead(
                        path=local(read["csv"], f"{view}.csv"),
                        columns=tuple(read["columns"]),
                        header=tuple(read["header"]),
                        encoding=read["encoding"],
                    )
                else:
                    reads[view] = ParquetRead(path=local(read["parquet"], view))
            targets = {
                view: f"{work}/out/{view}" if lake.is_s3 else lake.uri(path)
                for view, path in writes.items()
            }
            release_freed_memory()  # what earlier steps freed is the OS's again, not ours
            engine = DuckDBEngine(
                memory_limit_bytes=self.duckdb_memory_bytes,
                threads=self.thread_count,
                work_dir=work,
            )
            try:
                stats = engine.build(stage, reads, targets, progress=context.log.info)
            finally:
                engine.close()
            if lake.is_s3:
                for view, path in writes.items():
                    lake.upload(targets[view], path)
        return {name: t.to_pylist() for name, t in stats.items()}


class LocalSparkEngine(CustomerEngine):
    """The Spark job's body in this process on one local session shared by the run's steps.

    Same job code as EMR / Glue, without a JVM start per step.
    """

    name: ClassVar[str] = "spark"
    kind: ClassVar[str] = "spark"

    session: SparkSessionResource
    lake_root: str = Field(description="Lake root the jobs read and write (folder or s3://).")

    def build(self, context, lake, table, params, writes) -> Stats:
        from finance_platform.spark_jobs.registry import job_for_table
        from finance_platform.spark_jobs.run import LakePaths, run_job

        spec = job_for_table(table)
        spark = self.session.get_session()
        context.log.info(f"{table}: running on local Spark {spark.version} (engine spark)")
        root = LakePaths(LakeResource(root=self.lake_root).uri(""))
        job_params = {**params, **_lake_versions(lake, stage_inputs(table, params), writes)}
        try:
            _written, stats = run_job(spark, spec, root, [table], job_params)
        finally:
            spark.catalog.clearCache()
        return dict(stats.get(table) or {})


class _PipesSparkEngine(CustomerEngine):
    """The Spark job run remotely through Dagster Pipes; its statistics come back as metadata."""

    kind: ClassVar[str] = "spark"

    launcher: SparkJobLauncher

    def build(self, context, lake, table, params, writes) -> Stats:
        from finance_platform.spark_jobs.registry import job_for_table

        if self.launcher.engine != self.name:
            raise dg.Failure(
                description=f"{type(self).__name__} needs a launcher for {self.name!r}, "
                f"got {self.launcher.engine!r}"
            )
        spec = job_for_table(table)
        context.log.info(f"{table}: running on {self.name} (job {spec.name})")
        job_params = {**params, **_lake_versions(lake, stage_inputs(table, params), writes)}
        (result,) = self.launcher.run(context, job=spec.name, tables=[table], params=job_params)
        job_meta = (result.metadata or {}).get("job_metadata")
        return dict(getattr(job_meta, "value", job_meta) or {})


def stage_inputs(table: str, params: Mapping[str, Any]) -> tuple[str, ...]:
    from finance_platform.transforms.customers.sql import steps

    return steps.stage_for(table, params).inputs


def _lake_versions(
    lake: LakeResource, inputs: tuple[str, ...], writes: Mapping[str, str]
) -> dict[str, dict[str, str]]:
    """What a Spark job reads and writes: published versions in, staged versions out."""
    reads = {}
    for view in inputs:
        if view in contract.DELIVERIES:
            continue
        path = contract.table(view).path
        reads[path] = lake.resolve(path)
    outputs = {contract.table(view).path: staged for view, staged in writes.items()}
    return {"lake_reads": reads, "lake_writes": outputs}


class EmrServerlessEngine(_PipesSparkEngine):
    """The Spark job on EMR Serverless (``PipesEMRServerlessClient``)."""

    name: ClassVar[str] = "emr-serverless"


class GlueEngine(_PipesSparkEngine):
    """The Spark job on AWS Glue (``PipesGlueClient``, execution class FLEX by default)."""

    name: ClassVar[str] = "glue"


BY_NAME: dict[str, type[CustomerEngine]] = {
    e.name: e for e in (LocalEngine, LocalSparkEngine, EmrServerlessEngine, GlueEngine)
}


def engine_kind(engine: str) -> str:
    """The asset kind the UI shows for the engine named ``engine`` (``Settings.engine``)."""
    if engine not in BY_NAME:
        raise dg.DagsterInvariantViolationError(f"unknown engine {engine!r}")
    return BY_NAME[engine].kind


def local_spark_session() -> SparkSessionResource:
    """The local session as ``SparkSettings`` (environment) describes it."""
    spark = load_spark_settings()
    return SparkSessionResource(
        master=spark.master,
        driver_memory=spark.driver_memory,
        shuffle_partitions=spark.shuffle_partitions,
        conf=dict(spark.conf),
    )


def build_customer_engine(settings: Settings) -> CustomerEngine:
    """The engine ``settings.engine`` names, configured for ``settings``' lake and region."""
    if settings.engine == LocalEngine.name:
        return LocalEngine(memory_bytes=settings.local_memory_bytes)
    if settings.engine == LocalSparkEngine.name:
        return LocalSparkEngine(session=local_spark_session(), lake_root=settings.lake_root)
    engine = BY_NAME.get(settings.engine)
    if engine is None or not issubclass(engine, _PipesSparkEngine):
        raise dg.DagsterInvariantViolationError(f"unknown engine {settings.engine!r}")
    launcher = SparkJobLauncher(
        engine=settings.engine,
        lake_root=settings.lake_root,
        region=None if settings.is_local else settings.aws_region,
    )
    return engine(launcher=launcher)
