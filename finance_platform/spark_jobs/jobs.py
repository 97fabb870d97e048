"""Spark job bodies: read the lake tables a job needs, call the Spark transforms, return tables.

Each function takes ``(spark, lake, params)`` and returns ``{table: DataFrame}``
(lazy; ``run`` writes only the tables the orchestrator asked for). The
business logic lives in ``finance_platform.transforms.spark`` and reuses the
pandas engine's rule constants; the customer tables' folders and keys are
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


def _not_ready(name: str) -> dict[str, DataFrame]:
    raise NotImplementedError(f"the Spark port of {name} is not available yet")


def _read(spark: SparkSession, lake: LakePaths, table: str) -> DataFrame:
    """A customer table's published version (the orchestrator names it in ``lake_reads``)."""
    return spark.read.parquet(lake.uri(contract.table(table).path))


def customers_cleaning(spark: SparkSession, lake: LakePaths, params: dict[str, Any]):
    """Raw deliveries -> cleaned tables + quarantine; accounting reported as metadata.

    ``params``: ``deliveries`` ({table: lake-relative CSV path}), ``encodings`` ({table:
    codec}, as detected by the orchestrator), ``age_min``, ``age_max``, ``sigma``.
    """
    from pyspark.sql import functions as F

    from finance_platform.transforms.customers import rules
    from finance_platform.transforms.spark import cleaning

    deliveries = params["deliveries"]
    out: dict[str, Any] = {"__metadata__": {}}
    for cleaned in (contract.CLEANED_CUSTOMER_BASE, contract.CLEANED_CUSTOMER_BEHAVIOR):
        table, raw_table = cleaned.name, cleaned.delivery.file
        if raw_table not in deliveries:
            continue
        raw = cleaning.read_raw_csv(
            spark,
            lake.uri(deliveries[raw_table]),
            cleaned.delivery.columns,
            header=(params.get("headers") or {}).get(raw_table),
            encoding=(params.get("encodings") or {}).get(raw_table, "utf-8"),
        )
        if cleaned is contract.CLEANED_CUSTOMER_BASE:
            result = cleaning.clean_customer_base(
                raw,
                age_min=int(params.get("age_min", rules.AGE_MIN)),
                age_max=int(params.get("age_max", rules.AGE_MAX)),
                sigma=float(params.get("sigma", rules.OUTLIER_SIGMA)),
            )
        else:
            result = cleaning.clean_customer_behavior(
                raw, sigma=float(params.get("sigma", rules.OUTLIER_SIGMA))
            )
        delivery = deliveries[raw_table].rsplit("/", 1)[-1]
        out[table] = result.cleaned
        out[cleaned.quarantine.name] = result.quarantine.withColumn(
            contract.DELIVERY, F.lit(delivery)
        )
        out["__metadata__"][table] = {
            "raw_rows": result.raw_rows,
            "duplicates_removed": result.duplicates_removed,
            "quarantine_reasons": result.reasons,
            "missing_rates": result.missing_rates,
            "extremes": result.extremes,
        }
    return out


def customer_features(spark: SparkSession, lake: LakePaths, params: dict[str, Any]):
    from finance_platform.transforms.spark import customers as sp

    behavior = _read(spark, lake, "cleaned_customer_behavior")
    quarantined = _read(spark, lake, "quarantine_customer_behavior").select(
        "customer_id", "stat_month"
    )
    return {
        "customer_features": sp.customer_features(
            _read(spark, lake, "cleaned_customer_base"), behavior, quarantined
        ),
        "behavior_metrics": sp.behavior_metrics(behavior),
    }


def customer_segments(spark: SparkSession, lake: LakePaths, params: dict[str, Any]):
    from finance_platform.transforms.spark import customers as sp

    features = _read(spark, lake, "customer_features")
    # profiles sum in the features table's row order, as the pandas engine does
    from pyspark.sql import functions as F

    features = features.withColumn(sp.ROW, F.monotonically_increasing_id())
    segments = sp.assign_segments(features)
    return {
        "customer_segments": segments,
        "segment_profiles": sp.segment_profiles(
            _read(spark, lake, "customer_segments") if params.get("profiles_only") else segments,
            features,
        ),
    }


def marketing_targets(spark: SparkSession, lake: LakePaths, params: dict[str, Any]):
    import datetime as dt

    from finance_platform.transforms.spark import customers as sp

    features = _read(spark, lake, "customer_features")
    segments = _read(spark, lake, "customer_segments")
    recs = sp.product_recommendations(features, segments)
    run_date = dt.date.fromisoformat(
        params.get("run_date") or dt.datetime.now(dt.UTC).date().isoformat()
    )
    targets_from = (
        _read(spark, lake, "product_recommendations") if params.get("targets_only") else recs
    )
    return {
        "product_recommendations": recs,
        "marketing_targets": sp.marketing_targets(targets_from, features, segments, run_date),
    }
