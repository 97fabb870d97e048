"""Column lineage of the customer tables, shown on each asset's page in the Dagster UI.

Each table's columns map to the upstream (asset, column) pairs they are computed from. A
column absent here keeps the same name and meaning as in the first upstream asset that
has it (``IDENTITY_FROM``); a column with no upstream column (a constant, the run date)
has no lineage. ``finance_platform_tests/customers/test_assets.py`` checks every pair
against the tables a real run writes and ``test_contract.py`` that it explains exactly the
columns of each table's contract, so this map cannot drift from the code silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dagster as dg

from finance_platform.transforms.customers import contract, rules

Dep = tuple[str, str]  # (asset name, column)

RAW_BASE = contract.RAW_CUSTOMER_BASE.name
RAW_BEHAVIOR = contract.RAW_CUSTOMER_BEHAVIOR.name
BASE = contract.CLEANED_CUSTOMER_BASE.name
BEHAVIOR = contract.CLEANED_CUSTOMER_BEHAVIOR.name
FEATURES = contract.CUSTOMER_FEATURES.name
SEGMENTS = contract.CUSTOMER_SEGMENTS.name
RECOMMENDATIONS = contract.PRODUCT_RECOMMENDATIONS.name

# Columns not listed in DERIVED come, unchanged, from the first of these that has them.
IDENTITY_FROM: dict[str, tuple[str, ...]] = {
    BASE: (RAW_BASE,),
    BEHAVIOR: (RAW_BEHAVIOR,),
    FEATURES: (BASE, BEHAVIOR),
    "behavior_metrics": (BEHAVIOR,),
    SEGMENTS: (FEATURES,),
    "segment_profiles": (SEGMENTS,),
    RECOMMENDATIONS: (FEATURES, SEGMENTS),
    "marketing_targets": (RECOMMENDATIONS,),
}


def _from(asset: str, *columns: str) -> list[Dep]:
    return [(asset, c) for c in columns]


_LOGIN = _from(BEHAVIOR, "last_app_login_time", "stat_month")
_FREQUENCY = _from(BEHAVIOR, "app_login_count", "investment_monthly_count", "stat_month")
_MONETARY = _from(BEHAVIOR, "credit_card_monthly_expense", "total_assets")
# What the product scores read (the asset's column list), less keys and the contact inputs.
_SCORING = _from(
    FEATURES,
    *(
        c
        for c in contract.RECOMMENDATION_FEATURES
        if c not in ("customer_id", "contact_result_code", "marketing_cool_period")
    ),
)
_PROBABILITY = [*_SCORING, (FEATURES, "contact_result_code")]
_VALUE = _from(FEATURES, *sorted({column for column, _rate in rules.EXPECTED_VALUE.values()}))
_SEGMENT_RULE = _from(
    FEATURES,
    *dict.fromkeys(column for _flag, column, _op, _value in rules.SEGMENT_FLAGS),
)

DERIVED: dict[str, dict[str, list[Dep]]] = {
    BASE: {
        "occupation_code": _from(RAW_BASE, "occupation"),
        "gender_code": _from(RAW_BASE, "gender"),
        "occupation_type_code": _from(RAW_BASE, "occupation_type"),
        "lifecycle_code": _from(RAW_BASE, "lifecycle_stage"),
        "marriage_code": _from(RAW_BASE, "marriage_status"),
        "city_level_code": _from(RAW_BASE, "city_level"),
    },
    BEHAVIOR: {
        "month_index": _from(RAW_BEHAVIOR, "stat_month"),
        "asset_level_code": _from(RAW_BEHAVIOR, "asset_level"),
        "contact_result_code": _from(RAW_BEHAVIOR, "contact_result", "last_contact_time"),
        "contact_result_missing": _from(RAW_BEHAVIOR, "contact_result", "last_contact_time"),
    },
    FEATURES: {
        "latest_stat_month": _from(BEHAVIOR, "stat_month"),
        # judged on the newest month of the delivery, clean or quarantined
        "latest_raw_stat_month": _from(BEHAVIOR, "stat_month"),
        "current_view_status": _from(BEHAVIOR, "stat_month"),
        "cool_period_known": _from(BEHAVIOR, "stat_month"),
        "avg_logins_3m": _from(BEHAVIOR, "app_login_count", "stat_month"),
        "avg_investments_3m": _from(BEHAVIOR, "investment_monthly_count", "stat_month"),
        "has_behavior": _from(BEHAVIOR, "customer_id"),
        "as_of_date": _from(BEHAVIOR, "stat_month"),
        "tenure_years": [(BASE, "open_account_date"), (BEHAVIOR, "stat_month")],
        "lifecycle_score": [
            (BASE, "lifecycle_code"),
            (BASE, "open_account_date"),
            (BEHAVIOR, "stat_month"),
        ],
        "log_total_assets": _from(BEHAVIOR, "total_assets"),
        "asset_tier": _from(BEHAVIOR, "total_assets"),
        "risk_asset_share": _from(BEHAVIOR, "financial_balance", "fund_balance", "total_assets"),
        "days_since_login": _LOGIN,
        "recency_score": _LOGIN,
        "frequency_score": _FREQUENCY,
        "monetary_score": _MONETARY,
        "engagement_score": [*_LOGIN, *_FREQUENCY, *_MONETARY],
        "product_cross_sell_index": _from(BEHAVIOR, *rules.CROSS_SELL_WEIGHTS),
    },
    "behavior_metrics": {
        "months_observed": _from(BEHAVIOR, "month_index"),
        "latest_month_index": _from(BEHAVIOR, "month_index"),
        **{
            f"{metric}_{kind}_{months}m": _from(BEHAVIOR, metric, "month_index")
            for metric in rules.TREND_METRICS
            for kind in ("avg", "trend")
            for months in rules.TREND_WINDOWS
        },
    },
    SEGMENTS: {
        **{
            column: _SEGMENT_RULE for column in (*contract.SEGMENT_NAMES, "segment_characteristics")
        },
        **{flag: _from(FEATURES, column) for flag, column, _op, _value in rules.SEGMENT_FLAGS},
    },
    "segment_profiles": {
        "customers": _from(SEGMENTS, "segment_id", "customer_id"),
        "share": _from(SEGMENTS, "segment_id", "customer_id"),
        **{
            f"avg_{column}": [(SEGMENTS, "segment_id"), (FEATURES, column)]
            for column in contract.PROFILE_AVERAGES
        },
    },
    RECOMMENDATIONS: {
        "score": _SCORING,
        "purchase_probability": _PROBABILITY,
        "expected_value": _VALUE,
        "priority_score": list(dict.fromkeys([*_PROBABILITY, *_VALUE])),
        "product_rank": list(dict.fromkeys([*_PROBABILITY, *_VALUE])),
    },
    "marketing_targets": {
        "target_rank": _from(RECOMMENDATIONS, "priority_score"),
        "recommended_product": _from(RECOMMENDATIONS, "product", "priority_score"),
        "recommended_product_zh": _from(RECOMMENDATIONS, "product", "priority_score"),
        "reason": [(RECOMMENDATIONS, "product"), (SEGMENTS, "segment_name_en")],
        "marketing_cool_period": _from(FEATURES, "marketing_cool_period"),
    },
}


def lineage_pairs(
    asset: str, columns: Iterable[str], upstream_columns: Mapping[str, Iterable[str]]
) -> dict[str, list[Dep]]:
    """Column -> upstream (asset, column) pairs for ``asset``'s ``columns`` (those known)."""
    derived = DERIVED.get(asset, {})
    known = {name: set(cols) for name, cols in upstream_columns.items()}
    pairs: dict[str, list[Dep]] = {}
    for column in columns:
        if column in derived:
            pairs[column] = derived[column]
            continue
        for upstream in IDENTITY_FROM.get(asset, ()):
            if column in known.get(upstream, ()):
                pairs[column] = [(upstream, column)]
                break
    return pairs


def column_lineage(
    asset: str, columns: Iterable[str], upstream_columns: Mapping[str, Iterable[str]]
) -> dg.TableColumnLineage:
    """The ``dagster/column_lineage`` metadata value for ``asset``."""
    return dg.TableColumnLineage(
        deps_by_column={
            column: [
                dg.TableColumnDep(asset_key=dg.AssetKey(a), column_name=c)
                for a, c in dict.fromkeys(deps)  # unique, in order
            ]
            for column, deps in lineage_pairs(asset, columns, upstream_columns).items()
        }
    )
