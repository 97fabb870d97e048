"""SQL expressions several stages share: numbers and dates read strictly, months as indexes.

A value is a number or a date only in an exact shape, checked before the cast: each engine's
cast alone accepts its own extras (DuckDB ``1_000``, Spark ``1d`` and hex floats, DuckDB's
strptime ``2023-1-5``), so they would disagree on them. The checks are cheap string tests
(characters, length), not regular expressions, which cost more than parsing the file.
"""

from __future__ import annotations

import datetime as dt

from finance_platform.transforms.customers.sql.render import EXACT, lit

# A number is read as a DECIMAL(18, 4) first: both engines' decimal parsers accept the same
# text (digits, sign, point, exponent; blanks around), where their DOUBLE casts do not (Spark
# takes Java's ``1d`` and hex floats). DuckDB alone also reads ``1_000``, hence the check.
# Four decimals hold any amount in CNY; more are rounded.
NUMBER_TYPE = EXACT
# Integers up to 2^53 are exact in a DOUBLE.
INTEGER_LIMIT = 2.0**53
FINITE_LIMIT = 1.7976931348623157e308


def empty(expr: str) -> str:
    """Missing or blank text."""
    return f"({expr} IS NULL OR TRIM({expr}) = '')"


def number_text(text: str) -> str:
    """``text`` as a DOUBLE when it is written as a decimal number, else NULL.

    The first half of reading a number; ``number`` finishes it on the value (kept apart so
    the text is checked and cast once, in an inner query).
    """
    return (
        f"CASE WHEN INSTR({text}, '_') = 0 "
        f"THEN CAST(TRY_CAST({text} AS {NUMBER_TYPE}) AS DOUBLE) END"
    )


def number(value: str, integer: bool = False) -> str:
    """``value`` (from ``number_text``) if finite (and whole, for ``integer``), else NULL."""
    limit = lit(INTEGER_LIMIT if integer else FINITE_LIMIT)
    valid = f"{value} BETWEEN -{limit} AND {limit}"
    if integer:
        return f"CASE WHEN {valid} AND {value} = FLOOR({value}) THEN CAST({value} AS BIGINT) END"
    return f"CASE WHEN {valid} THEN {value} END"


def format_width(strftime: str) -> int:
    """How many characters ``strftime`` writes (the formats of ``rules.py`` are fixed-width)."""
    return len(dt.datetime(2000, 1, 1).strftime(strftime))


def parse_time(text: str, formats: tuple[tuple[str, str], ...]) -> str:
    """``text`` as a TIMESTAMP read with the first of ``formats`` that fits, else NULL.

    ``formats``: ``rules.py`` pairs ``(strftime, Spark pattern)``. A value must have the
    format's exact width, which rules out DuckDB's short fields (``2023-1-5``); a value of
    the right shape that is no real date (``2023-02-30``) is NULL.
    """
    attempts = [
        f"CASE WHEN LENGTH({text}) = {format_width(fmt)} THEN TRY_STRPTIME({text}, {lit(fmt)}) END"
        for fmt, _spark in formats
    ]
    return f"CAST(COALESCE({', '.join(attempts)}) AS TIMESTAMP)"


def parse_date(text: str, formats: tuple[tuple[str, str], ...]) -> str:
    """``parse_time`` as a DATE."""
    return f"CAST({parse_time(text, formats)} AS DATE)"


def month_index(month: str) -> str:
    """A month's TIMESTAMP (``parse_time`` with ``rules.MONTH_FORMATS``) as months since 1970-01."""
    return f"(CAST(YEAR({month}) AS BIGINT) * 12 - 23640 + MONTH({month}) - 1)"


def parse_month(text: str) -> str:
    """``YYYY-MM`` text (any of ``rules.MONTH_FORMATS``) as a month index, else NULL."""
    from finance_platform.transforms.customers import rules

    return month_index(parse_time(text, rules.MONTH_FORMATS))


def month_text(index: str) -> str:
    """Months since 1970-01 as ``YYYY-MM`` text (NULL stays NULL)."""
    year = f"LPAD(CAST(1970 + ({index}) // 12 AS VARCHAR), 4, '0')"
    month = f"LPAD(CAST(({index}) % 12 + 1 AS VARCHAR), 2, '0')"
    return f"({year} || '-' || {month})"


def log1p(column: str) -> str:
    """log1p of an amount (negatives as 0): amounts are right-skewed, their logs are not."""
    return f"LN({lit(1.0)} + GREATEST({column}, {lit(0.0)}))"
