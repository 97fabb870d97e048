"""Product recommendations and the ranked marketing target list.

score (0..100) = 100 x sum(weight x signal) with ``rules.PRODUCT_WEIGHTS``;
purchase_probability = logistic(``PROBABILITY_SLOPE`` x (score/100 - 0.5) + contact offset);
expected_value = rate x a balance or income (``rules.EXPECTED_VALUE``, CNY per year);
priority_score = score x purchase_probability x expected_value (each rounded first).
"""

from __future__ import annotations

import datetime as dt

from finance_platform.transforms.customers import contract, rules
from finance_platform.transforms.customers.sql import Stage, View
from finance_platform.transforms.customers.sql.render import case_map, clip, lit, round_

FEATURES = contract.CUSTOMER_FEATURES.name
SEGMENTS = contract.CUSTOMER_SEGMENTS.name
RECOMMENDATIONS = contract.PRODUCT_RECOMMENDATIONS.name
TARGETS = contract.MARKETING_TARGETS.name

# Why a customer's best offer is not a target, first that applies (stats view).
EXCLUDED_UNKNOWN = "unknown_cool_period"  # newest snapshot quarantined or missing
EXCLUDED_COOLING = "cool_period"  # run date before marketing_cool_period
EXCLUDED_BELOW_BAR = "below_bar"  # score or probability under the target bars


def _signal(source: str, kind: str, parameter: object) -> str:
    """One ``rules.PRODUCT_SIGNALS`` entry as a 0..1 DOUBLE (a missing value counts as 0)."""
    value = f"CAST({source} AS DOUBLE)"
    if kind == "cap":
        return clip(f"{value} / {lit(float(parameter))}")
    if kind == "score":
        return clip(f"{value} / {lit(100.0)}")
    if kind == "flag":
        return f"COALESCE({value}, {lit(0.0)})"
    if kind == "not_flag":
        return f"COALESCE({lit(1.0)} - {value}, {lit(0.0)})"
    if kind == "ge":
        return f"CASE WHEN {value} >= {lit(float(parameter))} THEN {lit(1.0)} ELSE {lit(0.0)} END"
    if kind == "eq":
        return f"CASE WHEN {source} = {lit(parameter)} THEN {lit(1.0)} ELSE {lit(0.0)} END"
    raise ValueError(f"unknown signal kind {kind!r}")


def _signals() -> View:
    signals = ", ".join(
        f"{_signal(f'f.{source}', kind, parameter)} AS {name}"
        for name, source, kind, parameter in rules.PRODUCT_SIGNALS
    )
    sources = sorted({source for source, _rate in rules.EXPECTED_VALUE.values()})
    offset = case_map("f.contact_result_code", rules.CONTACT_OFFSET, 0.0)
    query = f"""
SELECT f.customer_id, s.segment_id, {signals}, {offset} AS _offset,
       {", ".join(f"f.{c}" for c in sources)}
FROM {FEATURES} AS f
LEFT JOIN {SEGMENTS} AS s ON s.customer_id = f.customer_id"""
    return View("recommendations_signals", query)


def _product(rank: int, product: str) -> str:
    weights = rules.PRODUCT_WEIGHTS[product]
    total = " + ".join(f"{lit(w)} * {signal}" for signal, w in weights.items())
    source, rate = rules.EXPECTED_VALUE[product]
    score = round_(f"{lit(100.0)} * ({total})", 2)
    value = round_(f"{lit(rate)} * GREATEST(CAST({source} AS DOUBLE), {lit(0.0)})", 2)
    return f"""
SELECT customer_id, segment_id, {lit(product)} AS product, CAST({rank} AS BIGINT) AS product_rank,
       {score} AS score, _offset, {value} AS expected_value
FROM recommendations_signals"""


def product_recommendations() -> Stage:
    """features + segments -> ``product_recommendations``: every customer x every product."""
    scored = View(
        "recommendations_scored",
        " UNION ALL ".join(_product(i, p) for i, p in enumerate(rules.PRODUCTS)),
    )
    slope = lit(rules.PROBABILITY_SLOPE)
    logit = f"{slope} * (score / {lit(100.0)} - {lit(0.5)}) + _offset"
    probability = round_(f"{lit(1.0)} / ({lit(1.0)} + EXP(-({logit})))", 4)
    priority = round_("score * purchase_probability * expected_value", 2)
    output = View(
        RECOMMENDATIONS,
        f"""
SELECT customer_id, segment_id, product, product_rank, score, purchase_probability,
       expected_value, {priority} AS priority_score
FROM (SELECT *, {probability} AS purchase_probability FROM {scored.name}) AS p""",
    )
    return Stage(
        name="product_recommendations",
        inputs=(FEATURES, SEGMENTS),
        views=(_signals(), scored, output),
        outputs=(RECOMMENDATIONS,),
    )


def marketing_targets(run_date: dt.date) -> Stage:
    """recommendations + features + segments -> ``marketing_targets``, ranked.

    Each customer's best offer (highest priority, then product order) is a target unless
    their cool-period status is unknown (``cool_period_known`` false: the newest snapshot was
    quarantined or is missing, so the cool period on hand may be outdated), ``run_date`` is
    before their ``marketing_cool_period``, or it misses ``MIN_TARGET_SCORE`` /
    ``MIN_TARGET_PROBABILITY``. Rank: priority, then ``customer_id``; global by definition.
    Stats view ``marketing_targets_excluded``: (reason, current_view_status, customers).
    """
    day = f"CAST({lit(run_date.isoformat())} AS DATE)"
    excluded = (
        f"CASE WHEN NOT COALESCE(f.cool_period_known, FALSE) THEN {lit(EXCLUDED_UNKNOWN)} "
        f"WHEN f.marketing_cool_period > {day} THEN {lit(EXCLUDED_COOLING)} "
        f"WHEN b.score < {lit(rules.MIN_TARGET_SCORE)} "
        f"OR b.purchase_probability < {lit(rules.MIN_TARGET_PROBABILITY)} "
        f"THEN {lit(EXCLUDED_BELOW_BAR)} END"
    )
    judged = View(
        "targets_judged",
        f"""
SELECT b.*, f.marketing_cool_period, f.current_view_status, s.segment_name_en,
       {excluded} AS _excluded
FROM (
  SELECT *, ROW_NUMBER() OVER (
    PARTITION BY customer_id ORDER BY priority_score DESC, product_rank
  ) AS _choice
  FROM {RECOMMENDATIONS}
) AS b
LEFT JOIN {FEATURES} AS f ON f.customer_id = b.customer_id
LEFT JOIN {SEGMENTS} AS s ON s.customer_id = b.customer_id
WHERE b._choice = 1""",
        materialize=True,
    )
    reason = (
        f"{case_map('product', rules.PRODUCT_REASONS)} || '; segment ' || segment_id "
        f"|| ' ' || segment_name_en"
    )
    output = View(
        TARGETS,
        f"""
SELECT CAST(ROW_NUMBER() OVER (ORDER BY priority_score DESC, customer_id) AS BIGINT) AS target_rank,
       customer_id, product AS recommended_product,
       {case_map("product", rules.PRODUCT_NAMES_ZH)} AS recommended_product_zh,
       priority_score, expected_value, score, purchase_probability, segment_id,
       {reason} AS reason, marketing_cool_period, {day} AS run_date
FROM {judged.name}
WHERE _excluded IS NULL""",
    )
    stats = View(
        f"{TARGETS}_excluded",
        f"""
SELECT _excluded AS reason, current_view_status, COUNT(*) AS customers
FROM {judged.name}
WHERE _excluded IS NOT NULL
GROUP BY _excluded, current_view_status""",
    )
    return Stage(
        name="marketing_targets",
        inputs=(RECOMMENDATIONS, FEATURES, SEGMENTS),
        views=(judged, output, stats),
        outputs=(TARGETS,),
        stats=(stats.name,),
    )
