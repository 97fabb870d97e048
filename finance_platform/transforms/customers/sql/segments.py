"""Segmentation: every customer in exactly one segment of ``rules.SEGMENT_RULES``.

Flags come from ``rules.SEGMENT_FLAGS``; the rules are one CASE in table order, so the first
whose conditions all hold wins, and the last (no conditions) catches everyone else.
"""

from __future__ import annotations

from finance_platform.transforms.customers import contract, rules
from finance_platform.transforms.customers.sql import Stage, View
from finance_platform.transforms.customers.sql.render import (
    condition,
    exact_mean,
    first_match,
    ident,
    lit,
    round_,
)

FEATURES = contract.CUSTOMER_FEATURES.name
SEGMENTS = contract.CUSTOMER_SEGMENTS.name


def catalogue() -> View:
    """The segments of ``rules.py``, one row each, in rule order (``rule_order`` from 0)."""
    rows = ", ".join(
        "("
        + ", ".join(
            lit(v)
            for v in (r["id"], f"{r['en']} / {r['zh']}", r["en"], r["zh"], r["characteristics"], i)
        )
        + ")"
        for i, r in enumerate(rules.SEGMENT_RULES)
    )
    columns = (*contract.SEGMENT_NAMES, "segment_characteristics", "rule_order")
    return View(
        "segment_catalogue",
        f"SELECT * FROM (VALUES {rows}) AS catalogue({', '.join(columns)})",
    )


def customer_segments() -> Stage:
    """features -> ``customer_segments``: id, names, characteristics and the flags."""
    flags = ", ".join(
        f"{condition(column, op, value)} AS {flag}"
        for flag, column, op, value in rules.SEGMENT_FLAGS
    )
    arms = [
        (" AND ".join(condition(*c) for c in rule["when"]) or "TRUE", rule["id"])
        for rule in rules.SEGMENT_RULES
    ]
    flagged = View(
        "segments_flagged",
        f"SELECT customer_id, {flags} FROM {FEATURES}",
    )
    chosen = View(
        "segments_chosen",
        f"SELECT *, {first_match(arms)} AS segment_id FROM {flagged.name}",
    )
    names = ", ".join(
        f"c.{ident(n)}"
        for n in contract.CUSTOMER_SEGMENTS.columns
        if n not in {"customer_id", "segment_id"} and not n.startswith("is_")
    )
    flag_names = ", ".join(f"s.{flag}" for flag, *_ in rules.SEGMENT_FLAGS)
    output = View(
        SEGMENTS,
        f"""
SELECT s.customer_id, s.segment_id, {names}, {flag_names}
FROM {chosen.name} AS s
JOIN {catalogue().name} AS c ON c.segment_id = s.segment_id""",
    )
    return Stage(
        name="customer_segments",
        inputs=(FEATURES,),
        views=(catalogue(), flagged, chosen, output),
        outputs=(SEGMENTS,),
    )


def segment_profiles() -> Stage:
    """segments + features -> ``segment_profiles``: every segment (empty ones with 0),
    its customers, share and the rounded means of ``contract.PROFILE_AVERAGES``."""
    averages = ", ".join(f"{exact_mean(f'f.{c}')} AS avg_{c}" for c in contract.PROFILE_AVERAGES)
    sizes = View(
        "profiles_sizes",
        f"""
SELECT s.segment_id, COUNT(*) AS customers, {averages}
FROM {SEGMENTS} AS s
LEFT JOIN {FEATURES} AS f ON f.customer_id = s.customer_id
GROUP BY s.segment_id""",
    )
    total = f"(SELECT COUNT(*) FROM {SEGMENTS})"
    select = []
    for c in contract.SEGMENT_PROFILES.columns:
        if c == "customers":
            select.append("CAST(COALESCE(z.customers, 0) AS BIGINT) AS customers")
        elif c == "share":
            share = f"CAST(COALESCE(z.customers, 0) AS DOUBLE) / GREATEST({total}, 1)"
            select.append(f"{round_(share, 4)} AS share")
        elif c.startswith("avg_"):
            select.append(f"{round_(f'z.{c}', 2)} AS {c}")
        else:
            select.append(f"c.{ident(c)}")
    output = View(
        contract.SEGMENT_PROFILES.name,
        f"""
SELECT {", ".join(select)}
FROM {catalogue().name} AS c
LEFT JOIN {sizes.name} AS z ON z.segment_id = c.segment_id""",
    )
    return Stage(
        name="segment_profiles",
        inputs=(SEGMENTS, FEATURES),
        views=(catalogue(), sizes, output),
        outputs=(output.name,),
    )
