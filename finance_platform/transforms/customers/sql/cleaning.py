"""Cleaning: a raw delivery -> its typed, de-duplicated, coded table plus a quarantine.

Every delivered line ends in exactly one place: the cleaned table, the quarantine (with
``quarantine_reason``, the first rule it failed) or the count of removed duplicates (key
repeats; the first in file order, ``MIN(_row)``, is kept). The rules, in order:
malformed line, empty key, duplicate key, bad number, bad date, domain rules (age range,
negative balance), then (behaviour) months that are outliers of the customer's own history
(``rules.OUTLIER_*``), judged over the rows that passed every other rule. Cross-sectional
extremes are counted (a stats view), never removed. The quarantine holds the lines as text,
never the name; ids are trimmed in the cleaned tables, labels kept as delivered beside
their English codes.

Stats views, for the asset's metadata and checks (``<table>`` is the cleaned table's name):
``<table>_accounting`` (raw_rows, cleaned_rows, quarantined_rows, duplicates_removed),
``<table>_reasons`` (reason, rows), ``<table>_missing`` (column_name, empty_rows over every
delivered line) and ``<table>_extremes`` (column_name, rows, customers, low, high in CNY).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from finance_platform.transforms.customers import contract, rules
from finance_platform.transforms.customers.sql import Stage, View
from finance_platform.transforms.customers.sql import expressions as ex
from finance_platform.transforms.customers.sql.render import case_map, ident, lit, round_

DUPLICATE = "_duplicate"


@dataclass(frozen=True)
class CleaningConfig:
    age_min: int = rules.AGE_MIN
    age_max: int = rules.AGE_MAX
    sigma: float = rules.OUTLIER_SIGMA


@dataclass(frozen=True)
class _Spec:
    """What cleaning does to one delivery's columns (all from ``rules.py``)."""

    table: contract.Table
    floats: tuple[str, ...]
    ints: tuple[str, ...]
    times: tuple[str, ...]  # required datetimes
    optional_times: tuple[str, ...]  # datetimes that may be empty
    dates: tuple[str, ...]
    month: str | None  # the month column of the key (behaviour), read into ``month_index``
    domain: tuple[tuple[str, str], ...]  # (condition on the typed values, reason)
    codes: tuple[tuple[str, str], ...]  # (code column, expression)
    outliers: tuple[str, ...] = ()
    extremes: tuple[str, ...] = ()

    @property
    def raw(self) -> contract.Delivery:
        assert self.table.delivery is not None
        return self.table.delivery

    def view(self, part: str) -> str:
        return f"{self.table.name}__{part}"

    def typed(self) -> tuple[str, ...]:
        return (*self.floats, *self.ints, *self.times, *self.optional_times, *self.dates)


def _v(column: str) -> str:
    """The typed value of ``column`` inside the stage's views."""
    return f"v_{column}"


def _codes(pairs: tuple[tuple[str, str, dict], ...]) -> tuple[tuple[str, str], ...]:
    """(code column, CASE) per ``(raw, code, map)`` of ``rules.py``; other labels: unknown."""
    return tuple(
        (code, case_map(f"TRIM({raw})", mapping, rules.UNKNOWN)) for raw, code, mapping in pairs
    )


def _base_spec(cfg: CleaningConfig) -> _Spec:
    occupation = {label: code for label, (code, _type) in rules.OCCUPATION.items()}
    return _Spec(
        table=contract.CLEANED_CUSTOMER_BASE,
        floats=rules.BASE_FLOAT_COLUMNS,
        ints=rules.BASE_INT_COLUMNS,
        times=(),
        optional_times=(),
        dates=rules.BASE_DATE_COLUMNS,
        month=None,
        domain=(
            (f"v_age < {cfg.age_min} OR v_age > {cfg.age_max}", rules.REASON_AGE),
            (f"v_monthly_income < {lit(0.0)}", rules.REASON_NEGATIVE),
        ),
        codes=(
            ("occupation_code", case_map("TRIM(occupation)", occupation, rules.UNKNOWN)),
            *_codes(rules.BASE_LABELS),
        ),
        extremes=rules.BASE_EXTREME_COLUMNS,
    )


def _behavior_spec(cfg: CleaningConfig) -> _Spec:
    negative = " OR ".join(
        f"{_v(c)} < {lit(0.0)}" for c in (*rules.BALANCE_COLUMNS, "credit_card_monthly_expense")
    )
    result_missing = ex.empty("contact_result")
    contact_code = (
        f"CASE WHEN {result_missing} AND {_v('last_contact_time')} IS NULL "
        f"THEN {lit(rules.NO_CONTACT)} "
        f"ELSE {case_map('TRIM(contact_result)', rules.CONTACT_RESULT, rules.UNKNOWN)} END"
    )
    return _Spec(
        table=contract.CLEANED_CUSTOMER_BEHAVIOR,
        floats=rules.BEHAVIOR_FLOAT_COLUMNS,
        ints=rules.BEHAVIOR_INT_COLUMNS,
        times=rules.BEHAVIOR_DATETIME_COLUMNS,
        optional_times=rules.BEHAVIOR_NULLABLE_DATETIME_COLUMNS,
        dates=rules.BEHAVIOR_DATE_COLUMNS,
        month="stat_month",
        domain=((negative, rules.REASON_NEGATIVE),),
        codes=(
            *_codes(rules.BEHAVIOR_LABELS),
            ("contact_result_code", contact_code),
            ("contact_result_missing", result_missing),
        ),
        outliers=rules.BEHAVIOR_OUTLIER_COLUMNS,
        extremes=rules.BEHAVIOR_EXTREME_COLUMNS,
    )


def _read(spec: _Spec) -> View:
    """Each typed column read once: numbers' shape and dates' format and width (an inner
    layer, so no engine evaluates an expression twice)."""
    parsed = [f"{ex.number_text(ident(c))} AS n_{c}" for c in (*spec.floats, *spec.ints)]
    parsed += [
        f"{ex.parse_time(ident(c), rules.DATETIME_FORMATS)} AS {_v(c)}"
        for c in (*spec.times, *spec.optional_times)
    ]
    parsed += [f"{ex.parse_date(ident(c), rules.DATE_FORMATS)} AS {_v(c)}" for c in spec.dates]
    if spec.month:
        parsed.append(f"{ex.parse_time(ident(spec.month), rules.MONTH_FORMATS)} AS _month")
    return View(
        spec.view("read"),
        f"SELECT *, TRIM(customer_id) AS _customer, {', '.join(parsed)} FROM {spec.raw.name}",
    )


def _text_columns(spec: _Spec) -> list[str]:
    """Delivered columns the cleaned table keeps as text (ids, labels, the name)."""
    keyed = ("customer_id", spec.month)
    return [c for c in spec.raw.columns if c not in spec.typed() and c not in keyed]


def _amounts(spec: _Spec) -> list[str]:
    """Columns whose log amount cleaning judges (outliers) or reports (extremes)."""
    return list(dict.fromkeys((*spec.outliers, *spec.extremes)))


def _typed(spec: _Spec) -> View:
    """Each line typed, kept once (materialized: the duplicate and outlier rules, the cleaned
    table and the statistics all read it), with the first rule it fails apart from
    duplicates and outliers: ``_early`` (malformed, empty key) comes before the duplicate
    rule, ``_late`` after it; ``x_<column>`` the log amounts the outlier and extreme rules
    judge; ``_empty`` one bit per delivered column that was empty. Only the text the cleaned
    table keeps is kept: the quarantine reads its lines from the delivery again."""
    numbers = [f"{ex.number(f'n_{c}')} AS {_v(c)}" for c in spec.floats]
    numbers += [f"{ex.number(f'n_{c}', integer=True)} AS {_v(c)}" for c in spec.ints]
    if spec.month:
        numbers.append(f"{ex.month_index('_month')} AS month_index")
    keys = [ex.empty("customer_id")] + ([ex.empty(spec.month)] if spec.month else [])
    early = (
        f"CASE WHEN _malformed THEN {lit(rules.REASON_MALFORMED)} "
        f"WHEN {' OR '.join(keys)} THEN {lit(rules.REASON_EMPTY_KEY)} END"
    )
    late: list[tuple[str, str]] = []
    if spec.month:
        late.append(("month_index IS NULL", f"{rules.REASON_BAD_DATE}:{spec.month}"))
    late += [
        (f"{_v(c)} IS NULL", f"{rules.REASON_BAD_NUMBER}:{c}") for c in (*spec.floats, *spec.ints)
    ]
    late += [(f"{_v(c)} IS NULL", f"{rules.REASON_BAD_DATE}:{c}") for c in spec.times]
    late += [
        (f"{_v(c)} IS NULL AND {ident(c)} IS NOT NULL", f"{rules.REASON_BAD_DATE}:{c}")
        for c in spec.optional_times
    ]
    late += [(f"{_v(c)} IS NULL", f"{rules.REASON_BAD_DATE}:{c}") for c in spec.dates]
    late += [(f"({condition})", reason) for condition, reason in spec.domain]
    late_case = "CASE " + " ".join(f"WHEN {c} THEN {lit(r)}" for c, r in late) + " END"
    empty = " + ".join(
        f"CASE WHEN {ident(c)} IS NULL THEN {2**i} ELSE 0 END"
        for i, c in enumerate(spec.raw.columns)
    )
    kept = [
        "_row",
        "_customer",
        *(ident(c) for c in _text_columns(spec)),
        *(_v(c) for c in spec.typed()),
        *(["month_index"] if spec.month else []),
        *(f"{ex.log1p(_v(c))} AS x_{c}" for c in _amounts(spec)),
    ]
    query = f"""
SELECT {", ".join(kept)}, {early} AS _early, {late_case} AS _late,
       CAST({empty} AS BIGINT) AS _empty
FROM (SELECT *, {", ".join(numbers)} FROM {spec.view("read")}) AS numbers"""
    return View(spec.view("typed"), query, materialize=True)


def _key(spec: _Spec) -> list[str]:
    """The key duplicates are judged on: the trimmed id (and the month index)."""
    return ["_customer", *(["month_index"] if spec.month else [])]


def _duplicates(spec: _Spec) -> View:
    """Keys delivered more than once, with the first line (in file order) that holds each."""
    key = ", ".join(_key(spec))
    query = f"""
SELECT {key}, MIN(_row) AS _first_row
FROM {spec.view("typed")}
WHERE _early IS NULL{" AND month_index IS NOT NULL" if spec.month else ""}
GROUP BY {key}
HAVING COUNT(*) > 1"""
    return View(spec.view("duplicates"), query)


def _candidates(spec: _Spec) -> View:
    """Every line with ``_duplicate`` (a later repeat of a key, not malformed, key present)."""
    on = " AND ".join(f"k.{c} = d.{c}" for c in _key(spec))
    query = f"""
SELECT k.*, COALESCE(k._early IS NULL AND k._row <> d._first_row, FALSE) AS {DUPLICATE}
FROM {spec.view("typed")} AS k
LEFT JOIN {spec.view("duplicates")} AS d ON {on} AND k._early IS NULL"""
    return View(spec.view("candidates"), query)


def _history(spec: _Spec) -> View:
    """Per customer, over the lines that passed every other rule: count, mean and population
    variance of each outlier column's log amount."""
    stats = []
    for c in spec.outliers:
        stats += [f"AVG(x_{c}) AS mean_{c}", f"VAR_POP(x_{c}) AS var_{c}"]
    query = f"""
SELECT _customer, COUNT(*) AS _months, {", ".join(stats)}
FROM {spec.view("candidates")}
WHERE _early IS NULL AND NOT {DUPLICATE} AND _late IS NULL
GROUP BY _customer"""
    return View(spec.view("history"), query)


def _outlier(column: str, sigma: float) -> str:
    """The line's log amount is beyond ``sigma`` of the customer's *other* months (mean and
    population spread with this month left out, from the whole history's mean and variance)
    and at least ``OUTLIER_MIN_FACTOR`` off their mean, with enough other months."""
    n = "CAST(h._months AS DOUBLE)"
    others = f"NULLIF({n} - {lit(1.0)}, {lit(0.0)})"
    d = f"(c.x_{column} - h.mean_{column})"
    deviation = f"({n} * {d} / {others})"
    centred = f"({n} * h.var_{column} - {n} * {d} * {d} / {others})"
    spread = f"SQRT(GREATEST({centred}, {lit(0.0)}) / {others})"
    return (
        f"(h._months - 1 >= {rules.OUTLIER_MIN_OTHER_MONTHS} "
        f"AND ABS({deviation}) > {lit(float(sigma))} * {spread} "
        f"AND ABS({deviation}) > {lit(math.log(rules.OUTLIER_MIN_FACTOR))})"
    )


def _verdict(spec: _Spec, cfg: CleaningConfig) -> View:
    """Every line that is not cleaned: its ``_row`` and reason (NULL: a removed duplicate)."""
    arms = [
        ("c._early IS NOT NULL", "c._early"),
        (f"c.{DUPLICATE}", "NULL"),
        ("c._late IS NOT NULL", "c._late"),
    ]
    arms += [
        (_outlier(col, cfg.sigma), lit(f"{rules.REASON_OUTLIER}:{col}")) for col in spec.outliers
    ]
    reason = "CASE " + " ".join(f"WHEN {c} THEN {v}" for c, v in arms) + " END"
    history = (
        f"LEFT JOIN {spec.view('history')} AS h ON c._customer = h._customer"
        if spec.outliers
        else ""
    )
    query = f"""
SELECT c._row, {reason} AS {contract.REASON}
FROM {spec.view("candidates")} AS c
{history}
WHERE {" OR ".join(c for c, _v in arms)}"""
    return View(spec.view("verdict"), query, materialize=True)


def _cleaned(spec: _Spec) -> View:
    """The cleaned table: its contract columns, typed, for every line no rule refused."""
    codes = dict(spec.codes)
    typed = set(spec.typed())
    select = []
    for column in spec.table.columns:
        if column in typed:
            value = _v(column)
        elif column == "customer_id":
            value = "_customer"
        elif column == spec.month:
            value = ex.month_text("month_index")
        elif column in codes:
            value = codes[column]
        else:
            value = ident(column)
        select.append(f"{value} AS {ident(column)}")
    query = f"""
SELECT {", ".join(select)}
FROM {spec.view("typed")} AS t
ANTI JOIN {spec.view("verdict")} AS v ON t._row = v._row"""
    return View(spec.table.name, query)


def _quarantine(spec: _Spec, delivery: str) -> View:
    """The refused lines as delivered (text, no name), with their reason and file."""
    quarantine = spec.table.quarantine
    assert quarantine is not None
    text = ", ".join(f"r.{ident(c)}" for c in spec.raw.columns if c not in rules.PII_COLUMNS)
    query = f"""
SELECT {text}, v.{contract.REASON}, {lit(delivery)} AS {contract.DELIVERY}
FROM {spec.raw.name} AS r
JOIN {spec.view("verdict")} AS v ON r._row = v._row
WHERE v.{contract.REASON} IS NOT NULL"""
    return View(quarantine.name, query)


def _accounting(spec: _Spec) -> View:
    """Lines delivered, quarantined and removed as duplicates. The asset checks that they
    balance with the rows written (from the Parquet files), so a lost row cannot hide."""
    verdict = spec.view("verdict")
    query = f"""
SELECT
  (SELECT COUNT(*) FROM {spec.view("typed")}) AS raw_rows,
  (SELECT COUNT(*) FROM {verdict} WHERE {contract.REASON} IS NOT NULL) AS quarantined_rows,
  (SELECT COUNT(*) FROM {verdict} WHERE {contract.REASON} IS NULL) AS duplicates_removed"""
    return View(f"{spec.table.name}_accounting", query)


def _reasons(spec: _Spec) -> View:
    query = f"""
SELECT {contract.REASON} AS reason, COUNT(*) AS rows
FROM {spec.view("verdict")}
WHERE {contract.REASON} IS NOT NULL
GROUP BY {contract.REASON}"""
    return View(f"{spec.table.name}_reasons", query)


def _missing(spec: _Spec) -> tuple[View, View]:
    """Empty fields per delivered column over every delivered line (one pass, unpivoted)."""
    columns = spec.raw.columns
    sums = ", ".join(
        f"SUM(CAST(_empty // {2**i} % 2 AS BIGINT)) AS {ident(c)}" for i, c in enumerate(columns)
    )
    counts = View(spec.view("empty"), f"SELECT {sums} FROM {spec.view('typed')}", materialize=True)
    rows = " UNION ALL ".join(
        f"SELECT {lit(c)} AS column_name, CAST(COALESCE({ident(c)}, 0) AS BIGINT) AS empty_rows "
        f"FROM {counts.name}"
        for c in columns
    )
    return counts, View(f"{spec.table.name}_missing", rows)


def _amount_bound(log_value: str) -> str:
    """A bound on the log1p scale back in CNY, to the cent (NULL where EXP would overflow)."""
    amount = round_(f"(EXP({log_value}) - {lit(1.0)})", 2)
    return f"CASE WHEN {log_value} < {lit(700.0)} THEN {amount} END"


def _extremes(spec: _Spec, sigma: float) -> View:
    """Cleaned lines (and customers) beyond ``sigma`` population std of all cleaned lines on
    the log1p scale: the bank's richest and smallest, reported, never removed."""
    cleaned = (
        f"(SELECT k.* FROM {spec.view('typed')} AS k "
        f"ANTI JOIN {spec.view('verdict')} AS v ON k._row = v._row)"
    )
    parts = []
    for c in spec.extremes:
        x = f"x_{c}"
        sigma_ = lit(float(sigma))
        beyond = f"(a.{x} < b.low OR a.{x} > b.high)"
        parts.append(
            f"""
SELECT {lit(c)} AS column_name,
  CAST(COALESCE(SUM(CASE WHEN {beyond} THEN 1 ELSE 0 END), 0) AS BIGINT) AS rows,
  COUNT(DISTINCT CASE WHEN {beyond} THEN a._customer END) AS customers,
  MIN({_amount_bound("b.low")}) AS low,
  MIN({_amount_bound("b.high")}) AS high
FROM {cleaned} AS a
CROSS JOIN (
  SELECT CASE WHEN COUNT(*) >= 2 THEN AVG({x}) - {sigma_} * STDDEV_POP({x}) END AS low,
         CASE WHEN COUNT(*) >= 2 THEN AVG({x}) + {sigma_} * STDDEV_POP({x}) END AS high
  FROM {cleaned} AS s
) AS b"""
        )
    return View(f"{spec.table.name}_extremes", " UNION ALL ".join(parts))


def _stage(spec: _Spec, cfg: CleaningConfig, delivery: str) -> Stage:
    views = [_read(spec), _typed(spec), _duplicates(spec), _candidates(spec)]
    if spec.outliers:
        views.append(_history(spec))
    views += [_verdict(spec, cfg), _cleaned(spec), _quarantine(spec, delivery)]
    counts, missing = _missing(spec)
    stats = [_accounting(spec), _reasons(spec), missing, _extremes(spec, cfg.sigma)]
    views += [counts, *stats]
    assert spec.table.quarantine is not None
    return Stage(
        name=f"clean_{spec.raw.file}",
        inputs=(spec.raw.name,),
        views=tuple(views),
        outputs=(spec.table.name, spec.table.quarantine.name),
        stats=tuple(v.name for v in stats),
    )


def clean_base(config: CleaningConfig, delivery: str) -> Stage:
    """``raw_customer_base`` -> ``cleaned_customer_base`` + its quarantine.

    ``delivery``: the file name, written beside each quarantined line.
    """
    return _stage(_base_spec(config), config, delivery)


def clean_behavior(config: CleaningConfig, delivery: str) -> Stage:
    """``raw_customer_behavior_assets`` -> ``cleaned_customer_behavior`` + its quarantine."""
    return _stage(_behavior_spec(config), config, delivery)
