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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg

from finance_platform.defs.customers import raw_files
from finance_platform.defs.customers.common import (
    append_quality_log,
    cleaning_stats,
    latest_metadata,
    register_quality_log,
)
from finance_platform.resources.catalog import CatalogResource
from finance_platform.resources.lake import LakeResource
from finance_platform.settings import load_customer_settings
from finance_platform.transforms.customers import contract, rules
from finance_platform.transforms.customers.contract import Delivery, Table

WARN = dg.AssetCheckSeverity.WARN
ERROR = dg.AssetCheckSeverity.ERROR


@dataclass(frozen=True)
class Verdict:
    """What a check found: passed or not, what it observed, and the rule it held it to."""

    passed: bool
    observed: dict[str, Any]
    threshold: str = ""


# Judges what is stored now: (check context, lake) -> the verdict.
Judge = Callable[[dg.AssetCheckExecutionContext, LakeResource], Verdict]


def customer_check(
    asset: str, name: str, severity: dg.AssetCheckSeverity, description: str, judge: Judge
) -> dg.AssetChecksDefinition:
    """A check of the user's rule table: ERROR checks block downstream steps, WARN ones don't.

    Every evaluation appends a row to the quality log and reports what was observed (dicts
    and lists as JSON) beside the threshold. The severity is in the spec's metadata too,
    so the UI and the definitions snapshot show it before any run.
    """

    @dg.asset_check(
        asset=asset,
        name=name,
        blocking=severity is ERROR,
        description=description,
        metadata={"severity": severity.value},
    )
    def _check(
        context: dg.AssetCheckExecutionContext, lake: LakeResource, catalog: CatalogResource
    ) -> dg.AssetCheckResult:
        verdict = judge(context, lake)
        logged = append_quality_log(
            lake,
            run_id=context.run.run_id,
            asset=asset,
            check=name,
            passed=verdict.passed,
            severity=severity.value,
            observed=verdict.observed,
            threshold=verdict.threshold,
        )
        register_quality_log(catalog, lake, logged)
        metadata: dict[str, Any] = {"threshold": verdict.threshold} if verdict.threshold else {}
        for key, value in verdict.observed.items():
            metadata[key] = (
                dg.MetadataValue.json(value) if isinstance(value, dict | list) else value
            )
        return dg.AssetCheckResult(
            passed=bool(verdict.passed), severity=severity, metadata=metadata
        )

    return _check


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

    def required_columns(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> Verdict:
        delivery = raw_files.latest_delivery(lake, table)
        if delivery is None:
            return Verdict(False, {"delivery": None, "missing_columns": list(required)})
        header = _header(lake, delivery)
        missing = [c for c in required if c not in header]
        return Verdict(
            not missing,
            {"delivery": delivery.path, "missing_columns": missing},
            "no missing required column",
        )

    def schema_drift(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> Verdict:
        delivery = raw_files.latest_delivery(lake, table)
        header = _header(lake, delivery) if delivery else []
        extra = [c for c in header if c not in required]
        return Verdict(
            not extra,
            {"delivery": delivery.path if delivery else None, "extra_columns": extra},
            "no columns beyond the contract",
        )

    def delivery_freshness(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> Verdict:
        limit = load_customer_settings().freshness_days
        delivery = raw_files.latest_delivery(lake, table)
        today = dt.datetime.now(dt.UTC).date()
        age = (today - dt.date.fromisoformat(delivery.date_iso)).days if delivery else None
        return Verdict(
            age is not None and age <= limit,
            {
                "delivery_date": delivery.date_iso if delivery else None,
                "date_source": delivery.date_source if delivery else None,
                "age_days": age,
            },
            f"age_days <= {limit}",
        )

    return [
        customer_check(
            asset,
            "required_columns",
            ERROR,
            f"[ERROR, blocking] The newest {table} delivery's header has every contract "
            "column; fails naming the missing ones.",
            required_columns,
        ),
        customer_check(
            asset,
            "schema_drift",
            WARN,
            f"[WARN] Columns in the newest {table} delivery beyond the contract (e.g. "
            "create_time, update_time); they are left out of the cleaned table.",
            schema_drift,
        ),
        customer_check(
            asset,
            "delivery_freshness",
            WARN,
            f"[WARN] The newest {table} delivery (date in its file name, else its "
            "modification time) is at most FINANCE_CUSTOMERS_FRESHNESS_DAYS (default 2) days old.",
            delivery_freshness,
        ),
    ]


# -- cleaned tables ------------------------------------------------------------------
def _cleaned_checks(table: Table) -> list[dg.AssetChecksDefinition]:
    asset, raw_asset = table.name, table.delivery.name
    path, quarantine = table.path, table.quarantine.path

    def row_count_drop(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> Verdict:
        limit = load_customer_settings().row_drop_threshold
        stats = _stats(lake, asset)
        current = lake.count_rows(path)
        previous = stats.get("previous_row_count")
        drop = (previous - current) / previous if previous else 0.0
        return Verdict(
            drop <= limit,
            {
                "previous_rows": previous if previous is not None else -1,
                "current_rows": current,
                "drop": round(drop, 4),
            },
            f"drop <= {limit:.0%}",
        )

    def missing_rate(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> Verdict:
        limit = load_customer_settings().missing_rate_threshold
        rates = _stats(lake, asset)["missing_rates"]
        over = {c: r for c, r in rates.items() if r > limit}
        return Verdict(
            not over,
            {"columns_over_threshold": over, "max_missing_rate": max(rates.values(), default=0.0)},
            f"missing rate <= {limit:.0%} per column",
        )

    def duplicates_removed(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> Verdict:
        stats = _stats(lake, asset)
        dups = int(stats["duplicates_removed"])
        return Verdict(
            dups == 0,
            {"duplicates_removed": dups, "delivery": stats["delivery"]},
            "duplicates == 0",
        )

    def outliers_quarantined(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> Verdict:
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
        return Verdict(
            counted == in_quarantine and share <= 0.01,
            {"outliers": counted, "in_quarantine": in_quarantine, "share": round(share, 6)},
            "all quarantined and share <= 1%",
        )

    def cross_sectional_extremes(
        context: dg.AssetCheckExecutionContext, lake: LakeResource
    ) -> Verdict:
        extremes = _stats(lake, asset).get("extremes", {})
        rows = sum(int(v.get("rows", 0)) for v in extremes.values())
        return Verdict(
            rows == 0,
            {"extreme_rows": rows, "by_column": extremes},
            "flagged, kept; warn when any",
        )

    def reconciliation(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> Verdict:
        stats = _stats(lake, asset)
        raw_meta = latest_metadata(context.instance, raw_asset)
        raw_rows = raw_meta.get("dagster/row_count")
        if raw_rows is None or raw_meta.get("lake_path") != stats["delivery"]:
            raw_rows = raw_files.count_rows(lake, stats["delivery"])
        cleaned = lake.count_rows(path)
        quarantined = lake.count_rows(quarantine)
        dups = int(stats["duplicates_removed"])
        return Verdict(
            int(raw_rows) == cleaned + quarantined + dups,
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
        customer_check(
            asset,
            "row_count_drop",
            ERROR,
            "[ERROR, blocking] Cleaned rows fell by more than FINANCE_CUSTOMERS_ROW_DROP "
            "(default 10%) against the previous materialization: fail, alert, re-run.",
            row_count_drop,
        ),
        customer_check(
            asset,
            "missing_rate",
            WARN,
            "[WARN] Share of empty values per column of the raw delivery is at most "
            "FINANCE_CUSTOMERS_MISSING_RATE (default 5%, the user's rule; the bank's data has ~20% "
            "missing contact results, so expect a warning naming them).",
            missing_rate,
        ),
        customer_check(
            asset,
            "duplicates_removed",
            WARN,
            "[WARN] Duplicate keys in the delivery (first occurrence kept); warns when "
            "more than 0 were removed.",
            duplicates_removed,
        ),
        customer_check(
            asset,
            "outliers_quarantined",
            WARN,
            "[WARN] Months whose amount is beyond FINANCE_CUSTOMERS_SIGMA (default 3) "
            "sigma of the same customer's other months and at least 2x off their mean (a data "
            "error such as fen exported as yuan) are quarantined, not lost: the quarantine holds "
            "every one of them, and they are at most 1% of rows (more means the rule no longer "
            "fits).",
            outliers_quarantined,
        ),
        customer_check(
            asset,
            "cross_sectional_extremes",
            WARN,
            "[WARN] Rows beyond FINANCE_CUSTOMERS_SIGMA (default 3) sigma of all rows on "
            "the log scale (the bank's richest and smallest customers). They are real "
            "customers: kept in the cleaned table and counted here (rows, customers, the bounds "
            "in CNY), never removed. Warns when there are any.",
            cross_sectional_extremes,
        ),
        customer_check(
            asset,
            "reconciliation",
            ERROR,
            "[ERROR, blocking] Source vs target: raw delivery rows (counted on ingest) = "
            "cleaned rows + quarantined rows + removed duplicates. Nothing silently dropped.",
            reconciliation,
        ),
    ]


def _ages_out_of_range(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> Verdict:
    s = load_customer_settings()
    stats = _stats(lake, "cleaned_customer_base")
    count = int(stats["quarantine_reasons"].get(rules.REASON_AGE, 0))
    return Verdict(count == 0, {"ages_out_of_range": count}, f"{s.age_min} <= age <= {s.age_max}")


def _great_expectations_suite(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> Verdict:
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
    return Verdict(not failed_errors, observed, "all ERROR expectations pass")


def _balances_non_negative(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> Verdict:
    columns = [*rules.BALANCE_COLUMNS, "credit_card_monthly_expense"]
    lowest = lake.column_minima(contract.CLEANED_CUSTOMER_BEHAVIOR.path, columns)
    minima = {c: float(v or 0.0) for c, v in lowest.items()}
    quarantined = int(
        _stats(lake, "cleaned_customer_behavior")["quarantine_reasons"].get(
            rules.REASON_NEGATIVE, 0
        )
    )
    return Verdict(
        min(minima.values()) >= 0,
        {"minimum_by_column": minima, "negative_rows_quarantined": quarantined},
        "every amount >= 0",
    )


# -- business tables ---------------------------------------------------------------
def _every_customer_in_one_segment(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> Verdict:
    import pyarrow.compute as pc

    seg = lake.read_table(contract.CUSTOMER_SEGMENTS.path, columns=["customer_id", "segment_id"])
    customers = lake.count_rows(contract.CLEANED_CUSTOMER_BASE.path)
    unique = pc.count_distinct(seg["customer_id"]).as_py()
    known = {r["id"] for r in rules.SEGMENT_RULES}
    seen = set(pc.unique(seg["segment_id"].cast("string")).to_pylist())
    return Verdict(
        seg.num_rows == customers == unique and seen <= known,
        {
            "segment_rows": seg.num_rows,
            "distinct_customers": unique,
            "cleaned_customers": customers,
            "unknown_segments": sorted(seen - known),
        },
        "rows = distinct customers = cleaned customers",
    )


def _segments_in_use(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> Verdict:
    import pyarrow.compute as pc

    seg = lake.read_table(contract.CUSTOMER_SEGMENTS.path, columns=["segment_id"])
    used = len(pc.unique(seg["segment_id"].cast("string")))
    defined = len(rules.SEGMENT_RULES)
    return Verdict(
        10 <= defined <= 12 and used >= 10,
        {"segments_defined": defined, "segments_in_use": used},
        ">= 10 in use",
    )


def _current_views(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> Verdict:
    import pyarrow.compute as pc

    status = lake.read_table(contract.CUSTOMER_FEATURES.path, columns=["current_view_status"])
    counts = {
        str(row["values"]): int(row["counts"])
        for row in pc.value_counts(status["current_view_status"].cast("string")).to_pylist()
    }
    views = {s: counts.get(s, 0) for s in rules.VIEW_STATUSES}
    not_current = views[rules.VIEW_STALE] + views[rules.VIEW_MISSING]
    return Verdict(
        not_current == 0,
        {"views": views, "not_current": not_current},
        "every current view from the newest month",
    )


def _targets_respect_rules(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> Verdict:
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
    return Verdict(
        passed,
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
    customer_check(
        "cleaned_customer_base",
        "ages_out_of_range",
        WARN,
        "[WARN] Customers aged outside 18..100 (FINANCE_CUSTOMERS_AGE_MIN/MAX) in the "
        "delivery; they are quarantined with reason age_out_of_range. Warns when any were found.",
        _ages_out_of_range,
    ),
    customer_check(
        "cleaned_customer_base",
        "great_expectations_suite",
        ERROR,
        "[ERROR, blocking] Great Expectations suite quality/customer_base_suite.json on "
        "the cleaned table: age 18..100, customer_id unique and not null, known lifecycle codes, "
        "income not negative. Fails if an ERROR expectation fails.",
        _great_expectations_suite,
    ),
    customer_check(
        "cleaned_customer_behavior",
        "balances_non_negative",
        ERROR,
        "[ERROR, blocking] No negative balance or card spend in the cleaned snapshots "
        "(negative rows are quarantined as negative_balance).",
        _balances_non_negative,
    ),
    customer_check(
        "customer_segments",
        "every_customer_in_one_segment",
        ERROR,
        "[ERROR, blocking] Every cleaned customer appears exactly once in "
        "customer_segments with a known segment_id.",
        _every_customer_in_one_segment,
    ),
    customer_check(
        "customer_segments",
        "segments_in_use",
        WARN,
        "[WARN] The catalogue defines 10-12 segments and at least 10 of them hold "
        "customers (fewer means the thresholds no longer fit the population).",
        _segments_in_use,
    ),
    customer_check(
        "customer_features",
        "current_views",
        WARN,
        "[WARN] Every customer's current view is their snapshot of the delivery's newest "
        "month. Stale views (the newest snapshot quarantined or missing) and customers without "
        "any snapshot are flagged in current_view_status and left out of marketing targets; "
        "warns with their counts when there are any.",
        _current_views,
    ),
    customer_check(
        "marketing_targets",
        "targets_respect_rules",
        ERROR,
        "[ERROR] Marketing targets: nobody inside their cool period on the run date, "
        "nobody whose cool-period status is unknown (customer_features.cool_period_known), one "
        "row per customer, priority_score = score x probability x expected value (to rounding), "
        "and no name column.",
        _targets_respect_rules,
    ),
]
