"""The Spark jobs the platform can launch, by name: what each writes and which code runs it.

Plain data, no PySpark or Dagster import: the launcher (Dagster side) reads
the outputs to know which assets a job must report, the entry point (Spark
side) imports ``runner`` lazily. The customer tables' folders and quarantine
companions come from ``transforms/customers/contract.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from finance_platform.transforms.customers import contract


@dataclass(frozen=True)
class SparkJobSpec:
    """One Spark job: the lake tables it writes and the function that builds them.

    ``runner`` is ``"module:function"`` taking ``(spark, lake, params)`` and
    returning ``{table_name: DataFrame}`` for every name in ``outputs`` it builds.
    """

    name: str
    description: str
    runner: str
    outputs: dict[str, str] = field(default_factory=dict)  # table name -> lake-relative folder
    # tables written whenever their main table is (not assets of their own, e.g. quarantine)
    companions: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _customer_job(name: str, description: str, tables: tuple[str, ...]) -> SparkJobSpec:
    """A job of ``spark_jobs.jobs`` writing customer ``tables`` and their quarantines."""
    written = [contract.TABLES[t] for t in tables]
    quarantines = [t.quarantine for t in written if t.quarantine is not None]
    return SparkJobSpec(
        name=name,
        description=description,
        runner="finance_platform.spark_jobs.jobs:customer_stage",
        outputs={t.name: t.path for t in (*written, *quarantines)},
        companions={t.name: (t.quarantine.name,) for t in written if t.quarantine is not None},
    )


JOBS: dict[str, SparkJobSpec] = {
    spec.name: spec
    for spec in (
        _customer_job(
            "customers_cleaning",
            "Raw customer files -> cleaned base and behaviour tables (+ quarantine).",
            ("cleaned_customer_base", "cleaned_customer_behavior"),
        ),
        _customer_job(
            "customer_features",
            "Cleaned tables -> customer_features and behavior_metrics.",
            ("customer_features", "behavior_metrics"),
        ),
        _customer_job(
            "customer_segments",
            "Features -> customer_segments and segment_profiles.",
            ("customer_segments", "segment_profiles"),
        ),
        _customer_job(
            "marketing_targets",
            "Features + segments -> product_recommendations and marketing_targets.",
            ("product_recommendations", "marketing_targets"),
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
