"""Constants of ``rules.py`` as SQL text: literals, label maps and first-match rules.

The rules stay Python data (tests and docs read them); the SQL is generated from them,
so a threshold changed in ``rules.py`` changes every engine at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping


def lit(value: object) -> str:
    """A SQL literal both dialects read the same way (floats as DOUBLE, not DECIMAL)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"no portable SQL literal for {value!r}")
        return f"CAST({value!r} AS DOUBLE)"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def ident(name: str) -> str:
    """A column name, quoted only when it must be."""
    if name.isidentifier() and name.islower():
        return name
    return '"' + name.replace('"', '""') + '"'


def case_map(expr: str, mapping: Mapping[object, object], default: object = None) -> str:
    """``CASE expr WHEN k THEN v ... ELSE default END`` (a label map, a score table)."""
    arms = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in mapping.items())
    return f"CASE {expr} {arms} ELSE {lit(default)} END"


def first_match(arms: Iterable[tuple[str, object]], default: object = None) -> str:
    """``CASE WHEN cond THEN value ... END``: the first condition that holds wins."""
    body = " ".join(f"WHEN {cond} THEN {lit(value)}" for cond, value in arms)
    return f"CASE {body} ELSE {lit(default)} END" if body else lit(default)


def condition(column: str, op: str, value: object) -> str:
    """A ``rules.py`` ``(column, operator, value)`` triple as SQL (``==`` -> ``=``)."""
    sql_op = {"==": "=", "!=": "<>"}.get(op, op)
    if sql_op not in ("=", "<>", ">=", ">", "<=", "<"):
        raise ValueError(f"unknown operator {op!r}")
    return f"({ident(column)} {sql_op} {lit(value)})"


def columns(names: Iterable[str], prefix: str = "") -> str:
    """A select list of ``names`` (optionally qualified by ``prefix``)."""
    qual = f"{prefix}." if prefix else ""
    return ", ".join(f"{qual}{ident(n)}" for n in names)


def round_(expr: str, digits: int) -> str:
    """``expr`` (DOUBLE) rounded to ``digits`` decimals, half away from zero, the same on both
    engines: ``ROUND`` is not (Spark rounds the shortest decimal text, DuckDB the binary value).
    """
    scale = lit(float(10**digits))
    return f"(SIGN({expr}) * CAST(FLOOR(ABS({expr}) * {scale} + {lit(0.5)}) AS DOUBLE) / {scale})"


def clip(expr: str, low: float | None = 0.0, high: float | None = 1.0) -> str:
    """``expr`` limited to ``low..high``; NULL becomes ``low`` (GREATEST skips NULLs on both)."""
    if low is not None:
        expr = f"GREATEST({expr}, {lit(float(low))})"
    if high is not None:
        expr = f"LEAST({expr}, {lit(float(high))})"
    return expr


# Sums of money are exact: the same total in any order, so both engines agree to the bit
# (a float sum depends on the order the rows arrive in, which differs between engines and
# runs, and an average of cents is often exactly half a cent: the rounding would then flip).
EXACT = "DECIMAL(18, 4)"


def exact_sum(expr: str) -> str:
    """``SUM(expr)`` added exactly (as a DECIMAL of ``EXACT``'s scale), then a DOUBLE."""
    return f"CAST(SUM(CAST({expr} AS {EXACT})) AS DOUBLE)"


def exact_mean(expr: str) -> str:
    """``AVG(expr)`` from an exact sum (NULL over no values)."""
    return f"({exact_sum(expr)} / NULLIF(CAST(COUNT({expr}) AS DOUBLE), {lit(0.0)}))"
