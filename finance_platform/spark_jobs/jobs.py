"""Spark job body: build a customer table with its SQL stage, as every other engine does.

``customer_stage(spark, lake, params)`` returns ``{table: DataFrame}`` (lazy; ``run``
writes only the tables the orchestrator asked for) plus ``__metadata__`` (the stage's
stats views, as rows). The rules are ``transforms/customers/sql`` (the stage comes from
``sql/steps.py`` by table and parameters); the tables' folders and keys are
``transforms/customers/contract.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from finance_platform.transforms.customers import contract

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from finance_platform.spark_jobs.run import LakePaths

# Natural keys per table: the job reports duplicate / null key counts on them.
TABLE_KEYS: dict[str, tuple[str, ...]] = {name: t.key for name, t in contract.TABLES.items()}


def customer_stage(spark: SparkSession, lake: LakePaths, params: dict[str, Any]):
    """``params["table"]``'s stage on ``spark``: its outputs, and its stats as metadata.

    ``params``: what the asset passes every engine (``deliveries``, ``encodings``,
    ``headers`` for cleaning; ``run_date`` for targets; thresholds), and ``lake_reads``.
    """
    from finance_platform.transforms.customers.sql import steps
    from finance_platform.transforms.customers.sql.spark_engine import SparkEngine

    table = params["table"]
    stage = steps.stage_for(table, params)
    engine = SparkEngine(spark)
    for view in stage.inputs:
        delivery = contract.DELIVERIES.get(view)
        if delivery is not None:
            file = delivery.file
            engine.read_csv(
                view,
                lake.uri(params["deliveries"][file]),
                delivery.columns,
                tuple((params.get("headers") or {}).get(file) or ()),
                (params.get("encodings") or {}).get(file, "utf-8"),
            )
        else:
            engine.read_parquet(view, lake.uri(contract.table(view).path))
    engine.run(stage)
    out: dict[str, DataFrame | dict] = {view: spark.table(view) for view in stage.outputs}
    stats = {view: engine.rows(view) for view in stage.stats}
    out["__metadata__"] = {table: stats}
    return out
