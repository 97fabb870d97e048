"""The Spark jobs the platform can launch, by name: what each writes and which code runs it.

Plain data, no PySpark or Dagster import: the launcher (Dagster side) reads
the outputs to know which assets a job must report, the entry point (Spark
side) imports ``runner`` lazily.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SparkJobSpec:
    """One Spark job: the lake tables it writes and the function that builds them.

    ``runner`` is ``"module:function"`` taking ``(spark, lake, params)`` and
    returning ``{table_name: DataFrame}`` for every name in ``outputs``.
    """

    name: str
    description: str
    runner: str
    outputs: dict[str, str] = field(default_factory=dict)  # table name -> lake-relative folder
    # tables written whenever their main table is (not assets of their own, e.g. quarantine)
    companions: dict[str, tuple[str, ...]] = field(default_factory=dict)


JOBS: dict[str, SparkJobSpec] = {
    spec.name: spec
    for spec in (
        SparkJobSpec(
            name="curated_quotes",
            description="Raw Alpha Vantage JSON -> curated daily bars (a row per symbol and day).",
            runner="finance_platform.spark_jobs.jobs:curated_quotes",
            outputs={"curated_quotes": "curated/quotes"},
        ),
        SparkJobSpec(
            name="customers_cleaning",
            description="Raw customer files -> cleaned base and behaviour tables (+ quarantine).",
            runner="finance_platform.spark_jobs.jobs:customers_cleaning",
            outputs={
                "cleaned_customer_base": "cleaned/customer_base",
                "cleaned_customer_behavior": "cleaned/customer_behavior",
                "quarantine_customer_base": "quarantine/customer_base",
                "quarantine_customer_behavior": "quarantine/customer_behavior",
            },
            companions={
                "cleaned_customer_base": ("quarantine_customer_base",),
                "cleaned_customer_behavior": ("quarantine_customer_behavior",),
            },
        ),
        SparkJobSpec(
            name="customer_features",
            description="Cleaned tables -> customer_features and behavior_metrics.",
            runner="finance_platform.spark_jobs.jobs:customer_features",
            outputs={
                "customer_features": "features/customer_features",
                "behavior_metrics": "features/behavior_metrics",
            },
        ),
        SparkJobSpec(
            name="customer_segments",
            description="Features -> customer_segments and segment_profiles.",
            runner="finance_platform.spark_jobs.jobs:customer_segments",
            outputs={
                "customer_segments": "segments/customer_segments",
                "segment_profiles": "segments/segment_profiles",
            },
        ),
        SparkJobSpec(
            name="marketing_targets",
            description="Features + segments -> product_recommendations and marketing_targets.",
            runner="finance_platform.spark_jobs.jobs:marketing_targets",
            outputs={
                "product_recommendations": "recommendations/product_recommendations",
                "marketing_targets": "recommendations/marketing_targets",
            },
        ),
    )
}


def job_for_table(table: str) -> SparkJobSpec:
    """The job that writes ``table`` (an asset's table name, e.g. ``customer_segments``)."""
    for spec in JOBS.values():
        if table in spec.outputs:
            return spec
    raise KeyError(f"no Spark job writes table {table!r}; known: {sorted(all_tables())}")


def all_tables() -> set[str]:
    return {table for spec in JOBS.values() for table in spec.outputs}
