"""Which stage builds which customer table, from the parameters an asset passes.

Every engine asks this one registry: DuckDB in the asset's step, local Spark in-process,
and the Spark job on EMR / Glue (``spark_jobs/jobs.py``) from the same parameters, so the
SQL an engine runs is a function of (table, params) and nothing else. A stage's inputs
are lake tables by contract name, or a raw delivery (``contract.DELIVERIES``) that the
engine reads from ``params["deliveries"][<file>]``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from finance_platform.transforms.customers import contract, rules
from finance_platform.transforms.customers.sql import Stage


def _config(params: Mapping[str, Any]):
    from finance_platform.transforms.customers.sql.cleaning import CleaningConfig

    return CleaningConfig(
        age_min=int(params.get("age_min", rules.AGE_MIN)),
        age_max=int(params.get("age_max", rules.AGE_MAX)),
        sigma=float(params.get("sigma", rules.OUTLIER_SIGMA)),
    )


def _delivery_name(params: Mapping[str, Any], delivery: contract.Delivery) -> str:
    return str(params["deliveries"][delivery.file]).rsplit("/", 1)[-1]


def _clean_base(params: Mapping[str, Any]) -> Stage:
    from finance_platform.transforms.customers.sql.cleaning import clean_base

    return clean_base(_config(params), _delivery_name(params, contract.RAW_CUSTOMER_BASE))


def _clean_behavior(params: Mapping[str, Any]) -> Stage:
    from finance_platform.transforms.customers.sql.cleaning import clean_behavior

    return clean_behavior(_config(params), _delivery_name(params, contract.RAW_CUSTOMER_BEHAVIOR))


def _features(params: Mapping[str, Any]) -> Stage:
    from finance_platform.transforms.customers.sql.features import customer_features

    return customer_features()


def _metrics(params: Mapping[str, Any]) -> Stage:
    from finance_platform.transforms.customers.sql.features import behavior_metrics

    return behavior_metrics()


def _segments(params: Mapping[str, Any]) -> Stage:
    from finance_platform.transforms.customers.sql.segments import customer_segments

    return customer_segments()


def _profiles(params: Mapping[str, Any]) -> Stage:
    from finance_platform.transforms.customers.sql.segments import segment_profiles

    return segment_profiles()


def _recommendations(params: Mapping[str, Any]) -> Stage:
    from finance_platform.transforms.customers.sql.recommendations import (
        product_recommendations,
    )

    return product_recommendations()


def _targets(params: Mapping[str, Any]) -> Stage:
    from finance_platform.transforms.customers.sql.recommendations import marketing_targets

    return marketing_targets(dt.date.fromisoformat(str(params["run_date"])))


STAGES: dict[str, Callable[[Mapping[str, Any]], Stage]] = {
    contract.CLEANED_CUSTOMER_BASE.name: _clean_base,
    contract.CLEANED_CUSTOMER_BEHAVIOR.name: _clean_behavior,
    contract.CUSTOMER_FEATURES.name: _features,
    contract.BEHAVIOR_METRICS.name: _metrics,
    contract.CUSTOMER_SEGMENTS.name: _segments,
    contract.SEGMENT_PROFILES.name: _profiles,
    contract.PRODUCT_RECOMMENDATIONS.name: _recommendations,
    contract.MARKETING_TARGETS.name: _targets,
}


def stage_for(table: str, params: Mapping[str, Any]) -> Stage:
    """The stage that builds ``table`` (an asset's table name) with ``params``."""
    try:
        build = STAGES[table]
    except KeyError:
        raise KeyError(f"no stage builds {table!r}; known: {sorted(STAGES)}") from None
    return build(params)


def written_tables(table: str) -> tuple[contract.Table, ...]:
    """What building ``table`` writes: the table and its quarantine, if it has one."""
    main = contract.TABLES[table]
    return (main, main.quarantine) if main.quarantine is not None else (main,)
