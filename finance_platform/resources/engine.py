"""The engine that builds the customer tables: one resource per engine, picked in build_resources.

``FINANCE_ENGINE`` (``Settings.engine``) chooses which one is registered as
``customer_engine``; the customer assets take it as a parameter, so a test hands
in the engine it wants. Spark engines write the table (and its companions) to the
lake themselves and return the job's statistics; the pandas engine builds in the
asset's own step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import dagster as dg
from pydantic import Field

from finance_platform.resources.spark import SparkJobLauncher, SparkSessionResource
from finance_platform.settings import Settings, load_spark_settings

CUSTOMER_ENGINE = "customer_engine"  # the resource key the customer assets declare


class CustomerEngine(dg.ConfigurableResource):
    """What every engine offers the customer assets: who it is and how a Spark step runs."""

    name: ClassVar[str]  # the FINANCE_ENGINE value that selects it
    kind: ClassVar[str]  # the asset kind the UI shows: "pandas" or "spark"

    @property
    def is_spark(self) -> bool:
        return self.kind == "spark"

    def run_step(
        self, context: dg.AssetExecutionContext, table: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Build ``table`` with the registry job that owns it; returns the job's statistics."""
        raise dg.Failure(description=f"engine {self.name!r} does not run Spark jobs")


class PandasEngine(CustomerEngine):
    """The customer transforms in pandas, in the asset's own step (the local default)."""

    name: ClassVar[str] = "pandas"
    kind: ClassVar[str] = "pandas"


class LocalSparkEngine(CustomerEngine):
    """The registry jobs' bodies in this process on one local session shared by the run's steps.

    Same job code as EMR / Glue, without a JVM start per step.
    """

    name: ClassVar[str] = "spark"
    kind: ClassVar[str] = "spark"

    session: SparkSessionResource
    lake_root: str = Field(description="Lake root the jobs read and write (folder or s3://).")

    def run_step(
        self, context: dg.AssetExecutionContext, table: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        from finance_platform.resources.lake import LakeResource
        from finance_platform.spark_jobs.registry import job_for_table
        from finance_platform.spark_jobs.run import LakePaths, run_job

        spec = job_for_table(table)
        spark = self.session.get_session()
        context.log.info(f"{table}: running on local Spark {spark.version} (engine spark)")
        lake = LakePaths(LakeResource(root=self.lake_root).uri(""))
        try:
            _written, stats = run_job(spark, spec, lake, [table], dict(params))
        finally:
            spark.catalog.clearCache()  # the step's cached inputs; the next step reads the lake
        return dict(stats.get(table) or {})


class _PipesSparkEngine(CustomerEngine):
    """The registry job run remotely through Dagster Pipes; its statistics come back as metadata."""

    kind: ClassVar[str] = "spark"

    launcher: SparkJobLauncher

    def run_step(
        self, context: dg.AssetExecutionContext, table: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        from finance_platform.spark_jobs.registry import job_for_table

        if self.launcher.engine != self.name:
            raise dg.Failure(
                description=f"{type(self).__name__} needs a launcher for {self.name!r}, "
                f"got {self.launcher.engine!r}"
            )
        spec = job_for_table(table)
        context.log.info(f"{table}: running on {self.name} (job {spec.name})")
        (result,) = self.launcher.run(context, job=spec.name, tables=[table], params=dict(params))
        job_meta = (result.metadata or {}).get("job_metadata")
        return dict(getattr(job_meta, "value", job_meta) or {})


class EmrServerlessEngine(_PipesSparkEngine):
    """The registry job on EMR Serverless (``PipesEMRServerlessClient``)."""

    name: ClassVar[str] = "emr-serverless"


class GlueEngine(_PipesSparkEngine):
    """The registry job on AWS Glue (``PipesGlueClient``, execution class FLEX by default)."""

    name: ClassVar[str] = "glue"


BY_NAME: dict[str, type[CustomerEngine]] = {
    e.name: e for e in (PandasEngine, LocalSparkEngine, EmrServerlessEngine, GlueEngine)
}


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
    if settings.engine == PandasEngine.name:
        return PandasEngine()
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
