"""The contract of the customer tables: each one's lake folder, key, columns in order, quarantine.

Plain data, no Dagster, pandas or PySpark: the assets, checks and lineage, both engines, the
Spark jobs shipped to EMR / Glue and the tests all read this one definition, so a table's
shape is changed here or nowhere. Both engines end each transform by selecting ``columns``,
so a table holds exactly those, in that order (a column computed but not listed is not
written); ``finance_platform_tests/{customers,spark}/test_contract.py`` read back what each
engine wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

from finance_platform.transforms.customers import rules

REASON = "quarantine_reason"  # why cleaning refused a row (the first rule it failed)
DELIVERY = "delivery"  # the file a quarantined row came from


@dataclass(frozen=True)
class Delivery:
    """A CSV file the bank delivers, registered by the raw asset ``name``.

    Found as ``raw/<file>/<file>[_<YYYYMMDD>].csv`` or ``raw/<file>[_<YYYYMMDD>].csv``
    (``defs/customers/raw_files.py``); ``columns`` are the ones it must carry.
    """

    name: str
    file: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class Table:
    """A table of the customer pipeline in the lake (asset ``name``, or a quarantine)."""

    name: str
    path: str  # lake-relative folder
    key: tuple[str, ...]  # one row per value of these columns; () = no key (a quarantine)
    columns: tuple[str, ...]  # every column, in the order both engines write them
    description: str
    quarantine: Table | None = None  # the rows cleaning refused, written with this table
    delivery: Delivery | None = None  # the raw file a cleaned table is cleaned from


def _quarantine_columns(delivery: Delivery) -> tuple[str, ...]:
    """A delivery's columns as text, never the PII, then the reason and the file."""
    kept = (c for c in delivery.columns if c not in rules.PII_COLUMNS)
    return (*kept, REASON, DELIVERY)


# -- raw deliveries ----------------------------------------------------------------------
RAW_CUSTOMER_BASE = Delivery(
    name="raw_customer_base",
    file="customer_base",
    key=("customer_id",),
    columns=(
        "customer_id",
        "name",
        "age",
        "gender",
        "occupation",
        "occupation_type",
        "monthly_income",
        "open_account_date",
        "lifecycle_stage",
        "marriage_status",
        "city_level",
        "branch_name",
    ),
    description="The bank's customer profiles, one row per customer.",
)
RAW_CUSTOMER_BEHAVIOR = Delivery(
    name="raw_customer_behavior_assets",
    file="customer_behavior_assets",
    key=("customer_id", "stat_month"),
    columns=(
        "id",
        "customer_id",
        "total_assets",
        "deposit_balance",
        "financial_balance",
        "fund_balance",
        "insurance_balance",
        "asset_level",
        "deposit_flag",
        "financial_flag",
        "fund_flag",
        "insurance_flag",
        "product_count",
        "financial_repurchase_count",
        "credit_card_monthly_expense",
        "investment_monthly_count",
        "app_login_count",
        "app_financial_view_time",
        "app_product_compare_count",
        "last_app_login_time",
        "last_contact_time",
        "contact_result",
        "marketing_cool_period",
        "stat_month",
    ),
    description="Monthly snapshots of each customer's assets, products and app use.",
)

# -- what one step reads of another's table ------------------------------------------------
# the features' customer profile, from the cleaned base ...
PROFILE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "age",
    "gender_code",
    "occupation_type_code",
    "monthly_income",
    "open_account_date",
    "lifecycle_code",
    "marriage_code",
    "city_level_code",
)
# ... and the fields of the current (latest) monthly snapshot, from the cleaned behaviour
CURRENT_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "stat_month",
    "month_index",
    *rules.BALANCE_COLUMNS,
    *rules.COUNT_FEATURES[:6],
    "credit_card_monthly_expense",
    *rules.COUNT_FEATURES[6:],
    "last_app_login_time",
    "contact_result_code",
    "marketing_cool_period",
)
# the features each segment profile averages (``avg_<column>``)
PROFILE_AVERAGES: tuple[str, ...] = (
    "total_assets",
    "credit_card_monthly_expense",
    "engagement_score",
    "lifecycle_score",
    "monthly_income",
    "age",
    "product_count",
    "investment_monthly_count",
)
# the features the product scores read (signals, contact offset, expected values)
RECOMMENDATION_FEATURES: tuple[str, ...] = (
    "customer_id",
    "deposit_balance",
    "total_assets",
    "monthly_income",
    "marriage_code",
    "risk_asset_share",
    "engagement_score",
    "investment_monthly_count",
    "credit_card_monthly_expense",
    "financial_flag",
    "fund_flag",
    "insurance_flag",
    "contact_result_code",
    "marketing_cool_period",
)

# -- the tables ------------------------------------------------------------------------------
QUARANTINE_CUSTOMER_BASE = Table(
    name="quarantine_customer_base",
    path="quarantine/customer_base",
    key=(),
    columns=_quarantine_columns(RAW_CUSTOMER_BASE),
    description="Customer rows cleaning refused, as delivered (no name), with the reason.",
)
QUARANTINE_CUSTOMER_BEHAVIOR = Table(
    name="quarantine_customer_behavior",
    path="quarantine/customer_behavior",
    key=(),
    columns=_quarantine_columns(RAW_CUSTOMER_BEHAVIOR),
    description="Monthly snapshots cleaning refused, as delivered, with the reason.",
)
CLEANED_CUSTOMER_BASE = Table(
    name="cleaned_customer_base",
    path="cleaned/customer_base",
    key=RAW_CUSTOMER_BASE.key,
    columns=(
        *RAW_CUSTOMER_BASE.columns,
        "occupation_code",
        *(code for _raw, code, _labels in rules.BASE_LABELS),
    ),
    description="One row per customer: typed, de-duplicated, English codes beside the labels.",
    quarantine=QUARANTINE_CUSTOMER_BASE,
    delivery=RAW_CUSTOMER_BASE,
)
CLEANED_CUSTOMER_BEHAVIOR = Table(
    name="cleaned_customer_behavior",
    path="cleaned/customer_behavior",
    key=RAW_CUSTOMER_BEHAVIOR.key,
    columns=(
        *RAW_CUSTOMER_BEHAVIOR.columns,
        "month_index",
        *(code for _raw, code, _labels in rules.BEHAVIOR_LABELS),
        "contact_result_code",
        "contact_result_missing",
    ),
    description="Every monthly snapshot (the history trends need): typed, de-duplicated, coded.",
    quarantine=QUARANTINE_CUSTOMER_BEHAVIOR,
    delivery=RAW_CUSTOMER_BEHAVIOR,
)
CUSTOMER_FEATURES = Table(
    name="customer_features",
    path="features/customer_features",
    key=("customer_id",),
    columns=(
        *PROFILE_COLUMNS,
        "latest_stat_month",
        *(c for c in CURRENT_COLUMNS if c not in ("customer_id", "stat_month", "month_index")),
        "avg_logins_3m",
        "avg_investments_3m",
        "has_behavior",
        "as_of_date",
        "tenure_years",
        "lifecycle_score",
        "log_total_assets",
        "asset_tier",
        "risk_asset_share",
        "days_since_login",
        "recency_score",
        "frequency_score",
        "monetary_score",
        "engagement_score",
        "product_cross_sell_index",
        "latest_raw_stat_month",
        "current_view_status",
        "cool_period_known",
    ),
    description="One row per cleaned customer: the current view, scores and tiers (no names).",
)
BEHAVIOR_METRICS = Table(
    name="behavior_metrics",
    path="features/behavior_metrics",
    key=("customer_id",),
    columns=(
        "customer_id",
        "months_observed",
        *(
            f"{metric}_{kind}_{months}m"
            for months in rules.TREND_WINDOWS
            for metric in rules.TREND_METRICS
            for kind in ("avg", "trend")
        ),
        "latest_month_index",
    ),
    description="Per customer: window averages and relative trends of assets, spend and logins.",
)
SEGMENT_NAMES: tuple[str, ...] = (
    "segment_id",
    "segment_name",
    "segment_name_en",
    "segment_name_zh",
)
CUSTOMER_SEGMENTS = Table(
    name="customer_segments",
    path="segments/customer_segments",
    key=("customer_id",),
    columns=(
        "customer_id",
        *SEGMENT_NAMES,
        "segment_characteristics",
        *(flag for flag, _column, _op, _value in rules.SEGMENT_FLAGS),
    ),
    description="Every customer in exactly one segment (the first rule that matches), with flags.",
)
SEGMENT_PROFILES = Table(
    name="segment_profiles",
    path="segments/segment_profiles",
    key=("segment_id",),
    columns=(
        *SEGMENT_NAMES,
        "customers",
        "share",
        "segment_characteristics",
        *(f"avg_{column}" for column in PROFILE_AVERAGES),
    ),
    description="One row per segment (empty ones too): size, share and feature averages.",
)
PRODUCT_RECOMMENDATIONS = Table(
    name="product_recommendations",
    path="recommendations/product_recommendations",
    key=("customer_id", "product"),
    columns=(
        "customer_id",
        "segment_id",
        "product",
        "product_rank",
        "score",
        "purchase_probability",
        "expected_value",
        "priority_score",
    ),
    description="Every customer x every product: score, probability, expected value, priority.",
)
MARKETING_TARGETS = Table(
    name="marketing_targets",
    path="recommendations/marketing_targets",
    key=("customer_id",),
    columns=(
        "target_rank",
        "customer_id",
        "recommended_product",
        "recommended_product_zh",
        "priority_score",
        "expected_value",
        "score",
        "purchase_probability",
        "segment_id",
        "reason",
        "marketing_cool_period",
        "run_date",
    ),
    description="One ranked row per targeted customer: their best product and why.",
)

# -- registries ------------------------------------------------------------------------------
DELIVERIES: dict[str, Delivery] = {d.name: d for d in (RAW_CUSTOMER_BASE, RAW_CUSTOMER_BEHAVIOR)}
# The tables the customer assets publish, in pipeline order (asset name -> table).
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        CLEANED_CUSTOMER_BASE,
        CLEANED_CUSTOMER_BEHAVIOR,
        CUSTOMER_FEATURES,
        BEHAVIOR_METRICS,
        CUSTOMER_SEGMENTS,
        SEGMENT_PROFILES,
        PRODUCT_RECOMMENDATIONS,
        MARKETING_TARGETS,
    )
}
# Companions: written with their table, not assets of their own.
QUARANTINES: dict[str, Table] = {
    t.quarantine.name: t.quarantine for t in TABLES.values() if t.quarantine is not None
}


def table(name: str) -> Table:
    """A published table or a quarantine, by name."""
    found = TABLES.get(name) or QUARANTINES.get(name)
    if found is None:
        raise KeyError(f"no customer table {name!r}; known: {[*TABLES, *QUARANTINES]}")
    return found


def table_at(path: str) -> Table | None:
    """The table stored in lake folder ``path`` (None if no customer table lives there)."""
    return next((t for t in (*TABLES.values(), *QUARANTINES.values()) if t.path == path), None)
