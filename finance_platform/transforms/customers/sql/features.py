"""Features: each customer's current view, lifecycle / asset / engagement scores, and trends.

Per-customer work is a GROUP BY over the customer's own months and a join (no window), so
it spills on DuckDB and spreads on Spark. ``as_of`` is the last day of the newest clean
``stat_month``, never the wall clock: re-running on the same files gives the same features.
"""

from __future__ import annotations

import math

from finance_platform.transforms.customers import contract, rules
from finance_platform.transforms.customers.sql import Stage, View
from finance_platform.transforms.customers.sql import expressions as ex
from finance_platform.transforms.customers.sql.render import (
    case_map,
    clip,
    exact_sum,
    ident,
    lit,
    round_,
)

BEHAVIOR = contract.CLEANED_CUSTOMER_BEHAVIOR.name
BASE = contract.CLEANED_CUSTOMER_BASE.name
QUARANTINE = contract.QUARANTINE_CUSTOMER_BEHAVIOR.name


def _latest(prefix: str) -> View:
    """Each customer's newest clean month."""
    return View(
        f"{prefix}_latest",
        f"SELECT customer_id, MAX(month_index) AS latest FROM {BEHAVIOR} GROUP BY customer_id",
    )


def _as_of(prefix: str) -> View:
    """The newest clean month of the delivery and its last day (1970-01-31 with no rows)."""
    newest = f"(SELECT MAX(month_index) FROM {BEHAVIOR})"
    year = f"CAST(1970 + {newest} // 12 AS INTEGER)"
    month = f"CAST({newest} % 12 + 1 AS INTEGER)"
    query = f"""
SELECT {newest} AS newest_clean,
       COALESCE(LAST_DAY(MAKE_DATE({year}, {month}, 1)), CAST('1970-01-31' AS DATE)) AS as_of"""
    return View(f"{prefix}_as_of", query)


def _current(prefix: str) -> View:
    """Each customer's snapshot of their newest clean month (the redundant history stays in
    the cleaned table) and their averages over their last ``FREQUENCY_MONTHS`` months."""
    columns = ", ".join(f"b.{ident(c)}" for c in contract.CURRENT_COLUMNS if c != "customer_id")
    window = rules.FREQUENCY_MONTHS
    query = f"""
SELECT b.customer_id, {columns}, a.avg_logins_3m, a.avg_investments_3m
FROM {BEHAVIOR} AS b
JOIN {prefix}_latest AS l ON b.customer_id = l.customer_id AND b.month_index = l.latest
JOIN (
  SELECT b.customer_id,
         AVG(CAST(b.app_login_count AS DOUBLE)) AS avg_logins_3m,
         AVG(CAST(b.investment_monthly_count AS DOUBLE)) AS avg_investments_3m
  FROM {BEHAVIOR} AS b
  JOIN {prefix}_latest AS l ON b.customer_id = l.customer_id
  WHERE b.month_index > l.latest - {window}
  GROUP BY b.customer_id
) AS a ON a.customer_id = b.customer_id"""
    return View(f"{prefix}_current", query)


def _quarantined(prefix: str) -> View:
    """Per customer, the newest month among their quarantined snapshots, and whether one of
    them has no readable month: either makes their clean view stale."""
    query = f"""
SELECT customer_id, MAX(month) AS q_latest,
       MAX(CASE WHEN month IS NULL THEN 1 ELSE 0 END) = 1 AS q_undated
FROM (
  SELECT TRIM(customer_id) AS customer_id, {ex.parse_month("stat_month")} AS month
  FROM {QUARANTINE}
  WHERE NOT {ex.empty("customer_id")}
) AS q
GROUP BY customer_id"""
    return View(f"{prefix}_quarantined", query)


def _joined(prefix: str) -> View:
    """The profile, the current view (zeros for a customer without one) and the view's status."""
    profile = ", ".join(f"p.{ident(c)}" for c in contract.PROFILE_COLUMNS)
    zero = {c: "0" if c in rules.COUNT_FEATURES else lit(0.0) for c in rules.ZERO_FILLED_FEATURES}
    current = []
    for c in contract.CURRENT_COLUMNS:
        if c in ("customer_id", "month_index"):
            continue
        value = f"c.{ident(c)}"
        if c in zero:
            value = f"COALESCE({value}, {zero[c]})"
        elif c == "contact_result_code":
            value = f"CASE WHEN c.customer_id IS NULL THEN {lit(rules.NO_CONTACT)} ELSE {value} END"
        name = "latest_stat_month" if c == "stat_month" else c
        current.append(f"{value} AS {ident(name)}")
    for c in ("avg_logins_3m", "avg_investments_3m"):
        current.append(f"COALESCE(c.{c}, {zero[c]}) AS {c}")
    newest = f"GREATEST(d.newest_clean, (SELECT MAX(q_latest) FROM {prefix}_quarantined))"
    status = (
        f"CASE WHEN c.month_index IS NULL THEN {lit(rules.VIEW_MISSING)} "
        f"WHEN c.month_index < {newest} OR c.month_index < q.q_latest "
        f"OR COALESCE(q.q_undated, FALSE) THEN {lit(rules.VIEW_STALE)} "
        f"ELSE {lit(rules.VIEW_CURRENT)} END"
    )
    tenure = f"CAST(DATE_DIFF('day', p.open_account_date, d.as_of) AS DOUBLE) / {lit(365.25)}"
    seconds = "DATE_DIFF('second', c.last_app_login_time, CAST(d.as_of AS TIMESTAMP))"
    days = round_(f"CAST({seconds} AS DOUBLE) / {lit(86400.0)}", 2)
    query = f"""
SELECT {profile}, {", ".join(current)},
       c.customer_id IS NOT NULL AS has_behavior,
       d.as_of AS as_of_date,
       {tenure} AS _tenure,
       {days} AS days_since_login,
       {ex.month_text("GREATEST(c.month_index, q.q_latest)")} AS latest_raw_stat_month,
       {status} AS current_view_status
FROM {BASE} AS p
LEFT JOIN {prefix}_current AS c ON c.customer_id = p.customer_id
LEFT JOIN {prefix}_quarantined AS q ON q.customer_id = p.customer_id
CROSS JOIN {prefix}_as_of AS d"""
    return View(f"{prefix}_joined", query)


def _share(part: str, cap: float) -> str:
    """``log1p(part) / log1p(cap)`` in 0..1 (amounts are right-skewed)."""
    return clip(f"{ex.log1p(part)} / {lit(math.log1p(cap))}")


def _scored(prefix: str) -> View:
    """Lifecycle, asset, RFM engagement and cross-sell scores (``rules.py`` for the weights)."""
    base = case_map("lifecycle_code", rules.LIFECYCLE_BASE_SCORE, 0)
    tenure = clip(f"COALESCE(_tenure, {lit(0.0)})", 0.0, float(rules.TENURE_CAP_YEARS))
    lifecycle = clip(f"{base} + {tenure} * {lit(rules.TENURE_POINTS_PER_YEAR)}", 0.0, 100.0)
    window = lit(float(rules.RECENCY_WINDOW_DAYS))
    recency = clip(f"{lit(1.0)} - COALESCE(days_since_login, {window}) / {window}")
    frequency = (
        f"({lit(0.5)} * {clip(f'avg_logins_3m / {lit(rules.LOGIN_CAP)}')} + "
        f"{lit(0.5)} * {clip(f'avg_investments_3m / {lit(rules.INVESTMENT_CAP)}')})"
    )
    monetary = (
        f"({lit(0.5)} * {_share('credit_card_monthly_expense', rules.SPEND_CAP)} + "
        f"{lit(0.5)} * {_share('total_assets', rules.ASSET_CAP)})"
    )
    w = rules.ENGAGEMENT_WEIGHTS
    engagement = (
        f"{lit(100.0)} * ({lit(w['recency'])} * _recency + {lit(w['frequency'])} * _frequency "
        f"+ {lit(w['monetary'])} * _monetary)"
    )
    cross_sell = " + ".join(
        f"{lit(weight)} * CAST({flag} AS DOUBLE)"
        for flag, weight in rules.CROSS_SELL_WEIGHTS.items()
    )
    assets = f"CASE WHEN total_assets > {lit(0.0)} THEN total_assets END"
    risky = f"(financial_balance + fund_balance) / {assets}"
    query = f"""
SELECT *,
       {round_(f"{engagement}", 2)} AS engagement_score,
       {round_("_recency", 4)} AS recency_score,
       {round_("_frequency", 4)} AS frequency_score,
       {round_("_monetary", 4)} AS monetary_score
FROM (
  SELECT *,
         {round_("_tenure", 2)} AS tenure_years,
         {round_(lifecycle, 2)} AS lifecycle_score,
         {round_(ex.log1p("total_assets"), 6)} AS log_total_assets,
         {round_(clip(f"COALESCE({risky}, {lit(0.0)})"), 4)} AS risk_asset_share,
         {recency} AS _recency,
         {frequency} AS _frequency,
         {monetary} AS _monetary,
         {round_(f"{lit(100.0)} * ({cross_sell})", 2)} AS product_cross_sell_index,
         current_view_status = {lit(rules.VIEW_CURRENT)} AS cool_period_known
  FROM {prefix}_joined
) AS scored"""
    return View(f"{prefix}_scored", query)


def customer_features() -> Stage:
    """cleaned base + behaviour (+ its quarantine) -> ``customer_features``.

    ``asset_tier`` is a quantile bin of ``log_total_assets`` over all customers (rank by
    value then ``customer_id``, ``rules.py``): global by definition, the one window here.
    """
    prefix = "features"
    tier = (
        f"CAST((ROW_NUMBER() OVER (ORDER BY log_total_assets, customer_id) - 1) * "
        f"{rules.ASSET_TIER_BINS} // (SELECT COUNT(*) FROM {BASE}) + 1 AS BIGINT)"
    )
    select = [
        tier + " AS asset_tier" if c == "asset_tier" else ident(c)
        for c in contract.CUSTOMER_FEATURES.columns
    ]
    output = View(
        contract.CUSTOMER_FEATURES.name,
        f"SELECT {', '.join(select)} FROM {prefix}_scored",
    )
    return Stage(
        name="customer_features",
        inputs=(BASE, BEHAVIOR, QUARANTINE),
        views=(
            _latest(prefix),
            _as_of(prefix),
            _current(prefix),
            _quarantined(prefix),
            _joined(prefix),
            _scored(prefix),
            output,
        ),
        outputs=(output.name,),
    )


def behavior_metrics() -> Stage:
    """cleaned behaviour -> ``behavior_metrics``: per customer and window (``TREND_WINDOWS``
    months up to their newest), the mean of each ``TREND_METRICS`` column and its trend: the
    least-squares slope per month divided by that mean (NULL with fewer than two months or a
    zero mean). Sums only: one GROUP BY."""
    prefix = "metrics"
    sums = []
    for w in rules.TREND_WINDOWS:
        inside = f"x > -{w}"
        sums += [
            f"SUM(CASE WHEN {inside} THEN {lit(1.0)} ELSE {lit(0.0)} END) AS n{w}",
            f"SUM(CASE WHEN {inside} THEN x ELSE {lit(0.0)} END) AS sx{w}",
            f"SUM(CASE WHEN {inside} THEN x * x ELSE {lit(0.0)} END) AS sxx{w}",
        ]
        for m in rules.TREND_METRICS:
            y = f"CAST({m} AS DOUBLE)"
            sums += [
                f"{exact_sum(f'CASE WHEN {inside} THEN {y} ELSE {lit(0.0)} END')} AS sy_{m}_{w}",
                f"{exact_sum(f'CASE WHEN {inside} THEN x * {y} ELSE {lit(0.0)} END')} "
                f"AS sxy_{m}_{w}",
            ]
    grouped = View(
        f"{prefix}_sums",
        f"""
SELECT customer_id, COUNT(*) AS months_observed, MAX(latest) AS latest_month_index,
       {", ".join(sums)}
FROM (
  SELECT b.customer_id, l.latest, CAST(b.month_index - l.latest AS DOUBLE) AS x,
         {", ".join(f"b.{m}" for m in rules.TREND_METRICS)}
  FROM {BEHAVIOR} AS b JOIN {prefix}_latest AS l ON b.customer_id = l.customer_id
) AS h
GROUP BY customer_id""",
    )
    out = []
    for c in contract.BEHAVIOR_METRICS.columns:
        if c in ("customer_id", "months_observed", "latest_month_index"):
            out.append(c)
            continue
        metric, kind, window = c.rsplit("_", 2)
        w = int(window.removesuffix("m"))
        mean = f"sy_{metric}_{w} / NULLIF(n{w}, {lit(0.0)})"
        if kind == "avg":
            out.append(f"{round_(mean, 2)} AS {c}")
            continue
        denom = f"(n{w} * sxx{w} - sx{w} * sx{w})"
        covariance = f"(n{w} * sxy_{metric}_{w} - sx{w} * sy_{metric}_{w})"
        slope = f"{covariance} / NULLIF({denom}, {lit(0.0)})"
        trend = f"{slope} / NULLIF({mean}, {lit(0.0)})"
        out.append(f"CASE WHEN n{w} >= 2 THEN {round_(trend, 6)} END AS {c}")
    output = View(contract.BEHAVIOR_METRICS.name, f"SELECT {', '.join(out)} FROM {grouped.name}")
    return Stage(
        name="behavior_metrics",
        inputs=(BEHAVIOR,),
        views=(_latest(prefix), grouped, output),
        outputs=(output.name,),
    )
