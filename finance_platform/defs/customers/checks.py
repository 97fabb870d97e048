"""Quality monitoring of the customer group: the user's rule table as asset checks.

| rule | check | severity |
|---|---|---|
| row count drops > 10% vs the previous materialization | ``row_count_drop`` | ERROR, blocking |
| missing rate > 5% per column (configurable) | ``missing_rate`` | WARN |
| duplicates > 0 (removed, logged) | ``duplicates_removed`` | WARN |
| 3-sigma outliers of a customer's own history quarantined | ``outliers_quarantined`` | WARN |
| cross-sectional extremes (3 sigma of all customers), kept | ``cross_sectional_extremes`` | WARN |
| ages outside 18..100 | ``ages_out_of_range`` + GE suite | WARN / ERROR |
| freshness of the latest delivery | ``delivery_freshness`` | WARN |
| raw = cleaned + quarantined + duplicates | ``reconciliation`` | ERROR, blocking |
| extra columns in a delivery | ``schema_drift`` | WARN |
| required columns present | ``required_columns`` | ERROR, blocking |
| current views from the newest month | ``current_views`` | WARN |

Every evaluation appends a row to ``<lake>/monitoring/quality_logs/``. Checks read
what the assets wrote (Parquet footers, the cleaning stats JSON), so the daily
06:00 quality job re-evaluates them without rebuilding anything.
"""

import datetime as dt
from typing import Any

import dagster as dg

from finance_platform.defs.customers import raw_files
from finance_platform.defs.customers.common import (
    append_quality_log,
    cleaning_stats,
    latest_metadata,
)
from finance_platform.resources.lake import LakeResource
from finance_platform.settings import load_customer_settings
from finance_platform.transforms.customers import contract, rules
from finance_platform.transforms.customers.contract import Delivery, Table

WARN = dg.AssetCheckSeverity.WARN
ERROR = dg.AssetCheckSeverity.ERROR


def _result(
    context: dg.AssetCheckExecutionContext,
    lake: LakeResource,
    asset: str,
    check: str,
    passed: bool,
    severity: dg.AssetCheckSeverity,
    observed: dict[str, Any],
    threshold: str = "",
) -> dg.AssetCheckResult:
    append_quality_log(
        lake,
        run_id=context.run.run_id,
        asset=asset,
        check=check,
        passed=passed,
        severity=severity.value,
        observed=observed,
        threshold=threshold,
    )
    metadata: dict[str, Any] = {"threshold": threshold} if threshold else {}
    for key, value in observed.items():
        metadata[key] = dg.MetadataValue.json(value) if isinstance(value, dict | list) else value
    return dg.AssetCheckResult(passed=bool(passed), severity=severity, metadata=metadata)


def _stats(lake: LakeResource, asset: str) -> dict:
    stats = cleaning_stats(lake, asset)
    if stats is None:
        raise dg.Failure(f"{asset} has not been materialized yet (no published version)")
    return stats


def _header(lake: LakeResource, delivery: raw_files.Delivery) -> list[str]:
    fmt = raw_files.file_format(lake, delivery.path, load_customer_settings().encoding)
    return raw_files.read_header(lake, delivery.path, fmt)


# -- raw deliveries ---------------------------------------------------------------
def _raw_checks(raw: Delivery) -> list[dg.AssetChecksDefinition]:
    asset, table, required = raw.name, raw.file, raw.columns

    @dg.asset_check(
        asset=asset,
        name="required_columns",
        blocking=True,
        description=f"[ERROR, blocking] The newest {table} delivery's header has every contract "
        "column; fails naming the missing ones.",
    )
    def required_columns(
        context: dg.AssetCheckExecutionContext, lake: LakeResource
    ) -> dg.AssetCheckResult:
        delivery = raw_files.latest_delivery(lake, table)
        if delivery is None:
            return _result(
                context,
                lake,
                asset,
                "required_columns",
                False,
                ERROR,
                {"delivery": None, "missing_columns": list(required)},
            )
        header = _header(lake, delivery)
        missing = [c for c in required if c not in header]
        return _result(
            context,
            lake,
            asset,
            "required_columns",
            not missing,
            ERROR,
            {"delivery": delivery.path, "missing_columns": missing},
            "no missing required column",
        )

    @dg.asset_check(
        asset=asset,
        name="schema_drift",
        description=f"[WARN] Columns in the newest {table} delivery beyond the contract (e.g. "
        "create_time, update_time); they are left out of the cleaned table.",
    )
    def schema_drift(
        context: dg.AssetCheckExecutionContext, lake: LakeResource
    ) -> dg.AssetCheckResult:
        delivery = raw_files.latest_delivery(lake, table)
        header = _header(lake, delivery) if delivery else []
        extra = [c for c in header if c not in required]
        return _result(
            context,
            lake,
            asset,
            "schema_drift",
            not extra,
            WARN,
            {"delivery": delivery.path if delivery else None, "extra_columns": extra},
            "no columns beyond the contract",
        )

    @dg.asset_check(
        asset=asset,
        name="delivery_freshness",
        description=f"[WARN] The newest {table} delivery (date in its file name, else its "
        "modification time) is at most FINANCE_CUSTOMERS_FRESHNESS_DAYS (default 2) days old.",
    )
    def delivery_freshness(
        context: dg.AssetCheckExecutionContext, lake: LakeResource
    ) -> dg.AssetCheckResult:
        limit = load_customer_settings().freshness_days
        delivery = raw_files.latest_delivery(lake, table)
        today = dt.datetime.now(dt.UTC).date()
        age = (today - dt.date.fromisoformat(delivery.date_iso)).days if delivery else None
        passed = age is not None and age <= limit
        return _result(
            context,
            lake,
            asset,
            "delivery_freshness",
            passed,
            WARN,
            {
                "delivery_date": delivery.date_iso if delivery else None,
                "date_source": delivery.date_source if delivery else None,
                "age_days": age,
            },
            f"age_days <= {limit}",
        )

    return [required_columns, schema_drift, delivery_freshness]


# -- cleaned tables ------------------------------------------------------------------
def _cleaned_checks(table: Table) -> list[dg.AssetChecksDefinition]:
    asset, raw_asset = table.name, table.delivery.name
    path, quarantine = table.path, table.quarantine.path

    @dg.asset_check(
        asset=asset,
        name="row_count_drop",
        blocking=True,
        description="[ERROR, blocking] Cleaned rows fell by more than FINANCE_CUSTOMERS_ROW_DROP "
        "(default 10%) against the previous materialization: fail, alert, re-run.",
    )
    def row_count_drop(
        context: dg.AssetCheckExecutionContext, lake: LakeResource
    ) -> dg.AssetCheckResult:
        limit = load_customer_settings().row_drop_threshold
        stats = _stats(lake, asset)
        current = lake.count_rows(path)
        previous = stats.get("previous_row_count")
        drop = (previous - current) / previous if previous else 0.0
        return _result(
            context,
            lake,
            asset,
            "row_count_drop",
            drop <= limit,
            ERROR,
            {
                "previous_rows": previous if previous is not None else -1,
                "current_rows": current,
                "drop": round(drop, 4),
            },
            f"drop <= {limit:.0%}",
        )

    @dg.asset_check(
        asset=asset,
        name="missing_rate",
        description="[WARN] Share of empty values per column of the raw delivery is at most "
        "FINANCE_CUSTOMERS_MISSING_RATE (default 5%, the user's rule; the bank's data has ~20% "
        "missing contact results, so expect a warning naming them).",
    )
    def missing_rate(
        context: dg.AssetCheckExecutionContext, lake: LakeResource
    ) -> dg.AssetCheckResult:
        limit = load_customer_settings().missing_rate_threshold
        rates = _stats(lake, asset)["missing_rates"]
        over = {c: r for c, r in rates.items() if r > limit}
        return _result(
            context,
            lake,
            asset,
            "missing_rate",
            not over,
            WARN,
            {"columns_over_threshold": over, "max_missing_rate": max(rates.values(), default=0.0)},
            f"missing rate <= {limit:.0%} per column",
        )

    @dg.asset_check(
        asset=asset,
        name="duplicates_removed",
        description="[WARN] Duplicate keys in the delivery (first occurrence kept); warns when "
        "more than 0 were removed.",
    )
    def duplicates_removed(
        context: dg.AssetCheckExecutionContext, lake: LakeResource
    ) -> dg.AssetCheckResult:
        stats = _stats(lake, asset)
        dups = int(stats["duplicates_removed"])
        return _result(
            context,
            lake,
            asset,
            "duplicates_removed",
            dups == 0,
            WARN,
            {"duplicates_removed": dups, "delivery": stats["delivery"]},
            "duplicates == 0",
        )

    @dg.asset_check(
        asset=asset,
        name="outliers_quarantined",
        description="[WARN] Months whose amount is beyond FINANCE_CUSTOMERS_SIGMA (default 3) "
        "sigma of the same customer's other months and at least 2x off their mean (a data error "
        "such as fen exported as yuan) are quarantined, not lost: the quarantine holds every one "
        "of them, and they are at most 1% of rows (more means the rule no longer fits).",
    )
    def outliers_quarantined(
        context: dg.AssetCheckExecutionContext, lake: LakeResource
    ) -> dg.AssetCheckResult:
        import pyarrow as pa
        import pyarrow.compute as pc

        stats = _stats(lake, asset)
        counted = sum(
            v for k, v in stats["quarantine_reasons"].items() if k.startswith(rules.REASON_OUTLIER)
        )
        in_quarantine = 0
        if lake.published(quarantine) is not None:
            reasons = lake.read_table(quarantine, columns=[contract.REASON])
            text = pc.fill_null(reasons[contract.REASON].cast(pa.string()), "")
            in_quarantine = int(pc.sum(pc.starts_with(text, rules.REASON_OUTLIER)).as_py() or 0)
        share = counted / max(int(stats["raw_rows_parsed"]), 1)
        passed = counted == in_quarantine and share <= 0.01
        return _result(
            context,
            lake,
            asset,
            "outliers_quarantined",
            passed,
            WARN,
            {"outliers": counted, "in_quarantine": in_quarantine, "share": round(share, 6)},
            "all quarantined and share <= 1%",
        )

    @dg.asset_check(
        asset=asset,
        name="cross_sectional_extremes",
        description="[WARN] Rows beyond FINANCE_CUSTOMERS_SIGMA (default 3) sigma of all rows on "
        "the log scale (the bank's richest and smallest customers). They are real customers: "
        "kept in the cleaned table and counted here (rows, customers, the bounds in CNY), never "
        "removed. Warns when there are any.",
    )
    def cross_sectional_extremes(
        context: dg.AssetCheckExecutionContext, lake: LakeResource
    ) -> dg.AssetCheckResult:
        extremes = _stats(lake, asset).get("extremes", {})
        rows = sum(int(v.get("rows", 0)) for v in extremes.values())
        return _result(
            context,
            lake,
            asset,
            "cross_sectional_extremes",
            rows == 0,
            WARN,
            {"extreme_rows": rows, "by_column": extremes},
            "flagged, kept; warn when any",
        )

    @dg.asset_check(
        asset=asset,
        name="reconciliation",
        blocking=True,
        description="[ERROR, blocking] Source vs target: raw delivery rows (counted on ingest) = "
        "cleaned rows + quarantined rows + removed duplicates. Nothing silently dropped.",
    )
    def reconciliation(
        context: dg.AssetCheckExecutionContext, lake: LakeResource
    ) -> dg.AssetCheckResult:
        stats = _stats(lake, asset)
        raw_meta = latest_metadata(context.instance, raw_asset)
        raw_rows = raw_meta.get("dagster/row_count")
        if raw_rows is None or raw_meta.get("lake_path") != stats["delivery"]:
            raw_rows = raw_files.count_rows(lake, stats["delivery"])
        cleaned = lake.count_rows(path)
        quarantined = lake.count_rows(quarantine)
        dups = int(stats["duplicates_removed"])
        passed = int(raw_rows) == cleaned + quarantined + dups
        return _result(
            context,
            lake,
            asset,
            "reconciliation",
            passed,
            ERROR,
            {
                "raw_rows": int(raw_rows),
                "cleaned_rows": cleaned,
                "quarantined_rows": quarantined,
                "duplicates_removed": dups,
                "unaccounted": int(raw_rows) - cleaned - quarantined - dups,
            },
            "raw = cleaned + quarantined + duplicates",
        )

    return [
        row_count_drop,
        missing_rate,
        duplicates_removed,
        outliers_quarantined,
        cross_sectional_extremes,
        reconciliation,
    ]


@dg.asset_check(
    asset="cleaned_customer_base",
    name="ages_out_of_range",
    description="[WARN] Customers aged outside 18..100 (FINANCE_CUSTOMERS_AGE_MIN/MAX) in the "
    "delivery; they are quarantined with reason age_out_of_range. Warns when any were found.",
)
def ages_out_of_range(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    s = load_customer_settings()
    stats = _stats(lake, "cleaned_customer_base")
    count = int(stats["quarantine_reasons"].get(rules.REASON_AGE, 0))
    return _result(
        context,
        lake,
        "cleaned_customer_base",
        "ages_out_of_range",
        count == 0,
        WARN,
        {"ages_out_of_range": count},
        f"{s.age_min} <= age <= {s.age_max}",
    )


@dg.asset_check(
    asset="cleaned_customer_base",
    name="great_expectations_suite",
    blocking=True,
    description="[ERROR, blocking] Great Expectations suite quality/customer_base_suite.json on "
    "the cleaned table: age 18..100, customer_id unique and not null, known lifecycle codes, "
    "income not negative. Fails if an ERROR expectation fails.",
)
def great_expectations_suite(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    from finance_platform.quality.expectations import run_suite

    columns = ["customer_id", "age", "lifecycle_code", "monthly_income"]
    frame = lake.read_table(contract.CLEANED_CUSTOMER_BASE.path, columns=columns).to_pandas()
    frame["lifecycle_code"] = frame["lifecycle_code"].astype("str")
    outcome = run_suite("customer_base_suite.json", frame, result_format="BASIC")
    failed_errors = [
        o.check_name for o in outcome.outcomes if not o.success and o.spec.severity == "ERROR"
    ]
    observed = {
        "expectations": {
            o.check_name: {
                "success": o.success,
                **{k: v for k, v in o.observed.items() if k != "partial_unexpected_list"},
            }
            for o in outcome.outcomes
        },
        "failed": [o.check_name for o in outcome.outcomes if not o.success],
    }
    return _result(
        context,
        lake,
        "cleaned_customer_base",
        "great_expectations_suite",
        not failed_errors,
        ERROR,
        observed,
        "all ERROR expectations pass",
    )


@dg.asset_check(
    asset="cleaned_customer_behavior",
    name="balances_non_negative",
    blocking=True,
    description="[ERROR, blocking] No negative balance or card spend in the cleaned snapshots "
    "(negative rows are quarantined as negative_balance).",
)
def balances_non_negative(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    columns = [*rules.BALANCE_COLUMNS, "credit_card_monthly_expense"]
    lowest = lake.column_minima(contract.CLEANED_CUSTOMER_BEHAVIOR.path, columns)
    minima = {c: float(v or 0.0) for c, v in lowest.items()}
    quarantined = int(
        _stats(lake, "cleaned_customer_behavior")["quarantine_reasons"].get(
            rules.REASON_NEGATIVE, 0
        )
    )
    return _result(
        context,
        lake,
        "cleaned_customer_behavior",
        "balances_non_negative",
        min(minima.values()) >= 0,
        ERROR,
        {"minimum_by_column": minima, "negative_rows_quarantined": quarantined},
        "every amount >= 0",
    )


# -- business tables ---------------------------------------------------------------
@dg.asset_check(
    asset="customer_segments",
    name="every_customer_in_one_segment",
    blocking=True,
    description="[ERROR, blocking] Every cleaned customer appears exactly once in "
    "customer_segments with a known segment_id.",
)
def every_customer_in_one_segment(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    import pyarrow.compute as pc

    seg = lake.read_table(contract.CUSTOMER_SEGMENTS.path, columns=["customer_id", "segment_id"])
    customers = lake.count_rows(contract.CLEANED_CUSTOMER_BASE.path)
    unique = pc.count_distinct(seg["customer_id"]).as_py()
    known = {r["id"] for r in rules.SEGMENT_RULES}
    seen = set(pc.unique(seg["segment_id"].cast("string")).to_pylist())
    passed = seg.num_rows == customers == unique and seen <= known
    return _result(
        context,
        lake,
        "customer_segments",
        "every_customer_in_one_segment",
        passed,
        ERROR,
        {
            "segment_rows": seg.num_rows,
            "distinct_customers": unique,
            "cleaned_customers": customers,
            "unknown_segments": sorted(seen - known),
        },
        "rows = distinct customers = cleaned customers",
    )


@dg.asset_check(
    asset="customer_segments",
    name="segments_in_use",
    description="[WARN] The catalogue defines 10-12 segments and at least 10 of them hold "
    "customers (fewer means the thresholds no longer fit the population).",
)
def segments_in_use(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    import pyarrow.compute as pc

    seg = lake.read_table(contract.CUSTOMER_SEGMENTS.path, columns=["segment_id"])
    used = len(pc.unique(seg["segment_id"].cast("string")))
    defined = len(rules.SEGMENT_RULES)
    return _result(
        context,
        lake,
        "customer_segments",
        "segments_in_use",
        10 <= defined <= 12 and used >= 10,
        WARN,
        {"segments_defined": defined, "segments_in_use": used},
        ">= 10 in use",
    )


@dg.asset_check(
    asset="customer_features",
    name="current_views",
    description="[WARN] Every customer's current view is their snapshot of the delivery's newest "
    "month. Stale views (the newest snapshot quarantined or missing) and customers without any "
    "snapshot are flagged in current_view_status and left out of marketing targets; warns with "
    "their counts when there are any.",
)
def current_views(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    import pyarrow.compute as pc

    status = lake.read_table(contract.CUSTOMER_FEATURES.path, columns=["current_view_status"])
    counts = {
        str(row["values"]): int(row["counts"])
        for row in pc.value_counts(status["current_view_status"].cast("string")).to_pylist()
    }
    views = {s: counts.get(s, 0) for s in rules.VIEW_STATUSES}
    not_current = views[rules.VIEW_STALE] + views[rules.VIEW_MISSING]
    return _result(
        context,
        lake,
        "customer_features",
        "current_views",
        not_current == 0,
        WARN,
        {"views": views, "not_current": not_current},
        "every current view from the newest month",
    )


@dg.asset_check(
    asset="marketing_targets",
    name="targets_respect_rules",
    blocking=True,
    description="[ERROR] Marketing targets: nobody inside their cool period on the run date, "
    "nobody whose cool-period status is unknown (customer_features.cool_period_known), one row "
    "per customer, priority_score = score x probability x expected value (to rounding), and no "
    "name column.",
)
def targets_respect_rules(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    import numpy as np

    targets = lake.read_table(contract.MARKETING_TARGETS.path).to_pandas()
    known = lake.read_table(
        contract.CUSTOMER_FEATURES.path, columns=["customer_id", "cool_period_known"]
    ).to_pandas()
    unknown_ids = set(known.loc[~known["cool_period_known"].astype(bool), "customer_id"])
    unknown = int(targets["customer_id"].astype("str").isin(unknown_ids).sum())
    cooling = int((targets["marketing_cool_period"] > targets["run_date"]).sum())
    duplicates = int(targets["customer_id"].duplicated().sum())
    expected = targets["score"] * targets["purchase_probability"] * targets["expected_value"]
    formula_off = int(
        (~np.isclose(targets["priority_score"], expected, rtol=1e-6, atol=0.01)).sum()
    )
    pii = [c for c in rules.PII_COLUMNS if c in targets.columns]
    passed = cooling == 0 and unknown == 0 and duplicates == 0 and formula_off == 0 and not pii
    return _result(
        context,
        lake,
        "marketing_targets",
        "targets_respect_rules",
        passed,
        ERROR,
        {
            "targets": len(targets),
            "in_cool_period": cooling,
            "unknown_cool_period": unknown,
            "duplicate_customers": duplicates,
            "priority_mismatches": formula_off,
            "pii_columns": pii,
        },
        "all zero",
    )


CHECKS = [
    *(c for raw in contract.DELIVERIES.values() for c in _raw_checks(raw)),
    *_cleaned_checks(contract.CLEANED_CUSTOMER_BASE),
    *_cleaned_checks(contract.CLEANED_CUSTOMER_BEHAVIOR),
    ages_out_of_range,
    great_expectations_suite,
    balances_non_negative,
    every_customer_in_one_segment,
    segments_in_use,
    current_views,
    targets_respect_rules,
]
