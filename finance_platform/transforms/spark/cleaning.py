"""Spark version of ``transforms.customers.cleaning``: typed, de-duplicated, coded, quarantined.

Same rule order as the pandas engine (first failing rule names the reason):
malformed line (wrong field count), empty key, duplicate key (first occurrence in
file order kept; ``_row`` carries the file order), bad number, bad date, domain
rules, then (behaviour) 3-sigma outliers of each customer's own history, over the
rows that passed everything else. Raw input is all strings, as read from the CSV;
dates in any of the formats of ``rules.py``; codes come from the same label maps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from finance_platform.transforms.customers import contract, rules

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from finance_platform.transforms.customers.contract import Table

ROW = "_row"
REASON = contract.REASON
MALFORMED = "_malformed"
_CORRUPT = "_corrupt_record"
_DUP = "_duplicate"


@dataclass
class SparkCleanResult:
    cleaned: DataFrame
    quarantine: DataFrame
    raw_rows: int
    duplicates_removed: int
    reasons: dict[str, int] = field(default_factory=dict)
    # share of empty values per raw column over every delivered row (the missing-rate check)
    missing_rates: dict[str, float] = field(default_factory=dict)
    extremes: dict[str, dict] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return (
            self.raw_rows
            == self.cleaned.count() + self.quarantine.count() + self.duplicates_removed
        )


def _F():
    from pyspark.sql import functions as F

    return F


def read_raw_csv(
    spark: SparkSession,
    uri: str,
    columns: tuple[str, ...],
    header: list[str] | None = None,
    encoding: str = "utf-8",
) -> DataFrame:
    """The contract columns of a delivery, all as strings, plus ``_row`` (file order) and
    ``_malformed`` (the line did not split into the header's fields, e.g. a cut last line).

    ``header``: the file's column names as the orchestrator read them (BOM and encoding
    handled there); without it the file's own header is used. ``encoding``: a Python codec
    name (``gb18030``); Spark 4 reads other charsets than UTF-8 only with
    ``spark.sql.legacy.javaCharsets``.
    """
    F = _F()
    reader = spark.read.option("header", True).option("inferSchema", False)
    if encoding.replace("_", "-").lower() not in ("utf-8", "utf8"):
        spark.conf.set("spark.sql.legacy.javaCharsets", "true")
        reader = reader.option("encoding", encoding.upper())
    if header is None:
        header = reader.csv(uri).columns
    missing = [c for c in columns if c not in header]
    if missing:
        raise KeyError(f"{uri} is missing required column(s): {', '.join(missing)}")
    names = [f"_extra_{i}" if name in header[:i] else name for i, name in enumerate(header)]
    schema = ", ".join(f"`{name}` string" for name in names) + f", `{_CORRUPT}` string"
    frame = (
        reader.schema(schema)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", _CORRUPT)
        .csv(uri)
    )
    return frame.select(
        *[F.col(f"`{c}`") for c in columns],
        F.col(_CORRUPT).isNotNull().alias(MALFORMED),
    ).withColumn(ROW, F.monotonically_increasing_id())


def _empty(col: Column) -> Column:
    F = _F()
    return col.isNull() | (F.trim(col.cast("string")) == "")


def _number(col: Column) -> Column:
    """The value as a double (null when it does not parse), pandas ``to_numeric``-like."""
    F = _F()
    return F.trim(col.cast("string")).try_cast("double")


def _bad_number(parsed: Column, integer: bool) -> Column:
    """Missing / unparseable (and for integer columns: non-finite or fractional)."""
    F = _F()
    bad = parsed.isNull() | F.isnan(parsed)
    if integer:
        infinite = F.abs(parsed) == F.lit(float("inf"))
        bad = bad | infinite | (F.coalesce(parsed, F.lit(0.0)) % 1 != 0)
    return F.coalesce(bad, F.lit(True))


def _timestamp(col: Column, formats: tuple[tuple[str, str], ...]) -> Column:
    """The first of ``formats`` (``rules.py``: strftime, Spark pattern) that reads the value."""
    F = _F()
    text = col.cast("string")
    return F.coalesce(*[F.try_to_timestamp(text, F.lit(pattern)) for _, pattern in formats])


def _codes(col: Column, mapping: dict[str, str]) -> Column:
    F = _F()
    out = None
    for label, code in mapping.items():
        out = (F.when if out is None else out.when)(col == F.lit(label), F.lit(code))
    return out.otherwise(F.lit(rules.UNKNOWN))


class _Reasons:
    """The first failing rule per row, as a nullable string column built in rule order."""

    def __init__(self) -> None:
        self.rules: list[tuple[Column, str]] = []

    def flag(self, condition: Column, label: str) -> None:
        self.rules.append((condition, label))

    def column(self) -> Column:
        F = _F()
        out = None
        for condition, label in self.rules:
            out = (F.when if out is None else out.when)(
                F.coalesce(condition, F.lit(False)), F.lit(label)
            )
        return out.otherwise(F.lit(None).cast("string"))


def _with_duplicates(df: DataFrame, keys: list[str], empty_key: Column) -> DataFrame:
    """``df`` plus ``_duplicate``: a repeat (later in file order) of a non-empty key.

    Only the keys travel through a shuffle (grouped, keeping repeated keys, usually a
    small share), and that list is broadcast back: the wide rows are never shuffled,
    which a window over the whole table would do.
    """
    F = _F()
    repeated = (
        df.where(~F.col(MALFORMED))
        .groupBy(*keys)
        .agg(F.min(ROW).alias("_first"), F.count(F.lit(1)).alias("_n"))
        .where(F.col("_n") > 1)
        .drop("_n")
    )
    flagged = df.join(F.broadcast(repeated), on=keys, how="left")
    repeat = F.coalesce(F.col(ROW) != F.col("_first"), F.lit(False))
    return flagged.withColumn(_DUP, repeat & ~empty_key & ~F.col(MALFORMED)).drop("_first")


def _log_amount(col: str) -> Column:
    F = _F()
    return F.log1p(F.greatest(F.col(f"_typed_{col}"), F.lit(0.0)))


def _outlier_flags(
    df: DataFrame, columns: tuple[str, ...], sigma: float
) -> tuple[DataFrame, list[tuple[Column, str]]]:
    """Months beyond ``sigma`` of the customer's other clean months (leave-one-out, centred
    sums over a window per customer) and at least ``OUTLIER_MIN_FACTOR`` off their mean."""
    import math

    from pyspark.sql import Window

    F = _F()
    flags = []
    customer = Window.partitionBy("customer_id")
    clean = F.col(REASON).isNull() & ~F.col(_DUP)
    for col in columns:
        x = _log_amount(col)
        usable = clean & x.isNotNull() & ~F.isnan(x)
        value = F.when(usable, x)
        df = df.withColumn(f"_log_{col}", value)
        df = df.withColumn(f"_n_{col}", F.count(value).over(customer).cast("double"))
        df = df.withColumn(f"_mean_{col}", F.avg(value).over(customer))
        d = F.col(f"_log_{col}") - F.col(f"_mean_{col}")
        df = df.withColumn(f"_ss_{col}", F.sum(d * d).over(customer))
        n, d = F.col(f"_n_{col}"), F.col(f"_log_{col}") - F.col(f"_mean_{col}")
        others = n - F.lit(1.0)
        deviation = n * d / others
        spread = F.sqrt(F.greatest(F.col(f"_ss_{col}") - n * d * d / others, F.lit(0.0)) / others)
        flag = (
            usable
            & (others >= F.lit(float(rules.OUTLIER_MIN_OTHER_MONTHS)))
            & (F.abs(deviation) > F.lit(sigma) * spread)
            & (F.abs(deviation) > F.lit(math.log(rules.OUTLIER_MIN_FACTOR)))
        )
        flags.append((flag, f"{rules.REASON_OUTLIER}:{col}"))
    return df, flags


def cross_sectional_extremes(df: DataFrame, columns: tuple[str, ...], sigma: float) -> dict:
    """Rows and customers beyond ``sigma`` of all cleaned rows on log1p scale (never removed).

    ``df``: the cleaned table (typed amounts). Same numbers as the pandas engine's.
    """
    F = _F()
    out = {}
    for col in columns:
        x = F.log1p(F.greatest(F.col(col).cast("double"), F.lit(0.0)))
        stats = df.agg(
            F.count(x).alias("n"), F.avg(x).alias("mean"), F.stddev_pop(x).alias("std")
        ).first()
        if not stats["n"] or stats["n"] < 2:
            out[col] = {"rows": 0, "customers": 0, "low": None, "high": None}
            continue
        low = stats["mean"] - sigma * stats["std"]
        high = stats["mean"] + sigma * stats["std"]
        beyond = (
            df.where((x < F.lit(low)) | (x > F.lit(high)))
            .agg(F.count(F.lit(1)).alias("rows"), F.countDistinct("customer_id").alias("customers"))
            .first()
        )
        out[col] = {
            "rows": int(beyond["rows"]),
            "customers": int(beyond["customers"]),
            "low": rules.amount_bound(low),
            "high": rules.amount_bound(high),
        }
    return out


def _accounting(
    df: DataFrame, raw_columns: tuple[str, ...]
) -> tuple[int, dict[str | None, int], dict[str, float]]:
    """One pass: rows, kept rows per quarantine reason (None = clean), empty share per column.

    Empty means null or ``""``, as the pandas engine's ``isna`` on the parsed CSV.
    """
    F = _F()
    empty = [
        F.sum((F.col(c).isNull() | (F.col(c) == "")).cast("long")).alias(f"_empty_{i}")
        for i, c in enumerate(raw_columns)
    ]
    groups = df.groupBy(REASON, _DUP).agg(F.count(F.lit(1)).alias("_n"), *empty).collect()
    rows = sum(int(g["_n"]) for g in groups)
    kept = {g[REASON]: int(g["_n"]) for g in groups if not g[_DUP]}
    rates = {
        c: (sum(int(g[f"_empty_{i}"] or 0) for g in groups) / rows if rows else 0.0)
        for i, c in enumerate(raw_columns)
    }
    return rows, kept, rates


def _with_reasons(
    df: DataFrame,
    reasons: _Reasons,
    outlier_columns: tuple[str, ...],
    sigma: float,
    parsed: DataFrame,
) -> DataFrame:
    """``df`` plus ``quarantine_reason``: the first failing rule, outliers last.

    The rule chain is evaluated once, into a cached frame (it was re-evaluated by each
    later pass: outlier statistics, accounting and both writes); the outlier rules, which
    need statistics over the rows that passed everything else, are added on top.
    """
    F = _F()
    df = df.withColumn(REASON, reasons.column()).cache()
    df.count()  # materialise, so the cache of ``parsed`` (typed columns) can go
    parsed.unpersist()
    if not outlier_columns:
        return df
    df, outliers = _outlier_flags(df, outlier_columns, sigma)
    late = _Reasons()
    for condition, label in outliers:
        late.flag(condition, label)
    return df.withColumn(REASON, F.coalesce(F.col(REASON), late.column()))


def _finish(
    df: DataFrame, table: Table, typed: dict[str, Column]
) -> tuple[DataFrame, DataFrame, int, int, dict[str, int], dict[str, float]]:
    """The cleaned ``table`` (its contract columns, ``typed`` ones parsed) and its quarantine."""
    F = _F()
    raw_columns = table.delivery.columns
    unknown = sorted(set(typed) - set(table.columns))
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {unknown} in its contract")
    raw_rows, counts, missing = _accounting(df, raw_columns)
    duplicates = raw_rows - sum(counts.values())
    cleaned = df.where(~F.col(_DUP) & F.col(REASON).isNull())
    cleaned = cleaned.select(
        *[typed.get(c, F.col(c)).alias(c) for c in table.columns],
        ROW,  # internal: file order, for order-sensitive sums downstream; never written
    )
    quarantine = df.where(~F.col(_DUP) & F.col(REASON).isNotNull()).select(
        *[c for c in raw_columns if c not in rules.PII_COLUMNS], REASON
    )
    reasons = {k: v for k, v in counts.items() if k is not None}
    return cleaned, quarantine, raw_rows, duplicates, reasons, missing


def clean_customer_base(
    raw: DataFrame,
    age_min: int = rules.AGE_MIN,
    age_max: int = rules.AGE_MAX,
    sigma: float = rules.OUTLIER_SIGMA,
) -> SparkCleanResult:
    """Typed, de-duplicated customer profiles with English codes; bad rows quarantined."""
    F = _F()
    reasons = _Reasons()
    reasons.flag(F.col(MALFORMED), rules.REASON_MALFORMED)
    reasons.flag(_empty(F.col("customer_id")), rules.REASON_EMPTY_KEY)
    df = raw
    for col in (*rules.BASE_INT_COLUMNS, *rules.BASE_FLOAT_COLUMNS):
        df = df.withColumn(f"_typed_{col}", _number(F.col(col)))
    for col in rules.BASE_DATE_COLUMNS:
        df = df.withColumn(f"_typed_{col}", _timestamp(F.col(col), rules.DATE_FORMATS))
    # Parse once: later rules (and several actions) reference the typed columns, and
    # without the cache Spark inlines every parse into one huge, slowly interpreted CASE.
    parsed = df.cache()
    df = _with_duplicates(parsed, ["customer_id"], _empty(F.col("customer_id")))
    for col in (*rules.BASE_INT_COLUMNS, *rules.BASE_FLOAT_COLUMNS):
        bad = _bad_number(F.col(f"_typed_{col}"), integer=col in rules.BASE_INT_COLUMNS)
        reasons.flag(bad, f"{rules.REASON_BAD_NUMBER}:{col}")
    for col in rules.BASE_DATE_COLUMNS:
        reasons.flag(F.col(f"_typed_{col}").isNull(), f"{rules.REASON_BAD_DATE}:{col}")
    age = F.col("_typed_age")
    reasons.flag((age < age_min) | (age > age_max), rules.REASON_AGE)
    reasons.flag(F.col("_typed_monthly_income") < 0, rules.REASON_NEGATIVE)
    df = _with_reasons(df, reasons, (), sigma, parsed)
    occupation = {label: code for label, (code, _) in rules.OCCUPATION.items()}
    typed = {
        "age": F.col("_typed_age").cast("long"),
        "monthly_income": F.col("_typed_monthly_income"),
        "open_account_date": F.col("_typed_open_account_date"),
        "occupation_code": _codes(F.col("occupation"), occupation),
        **{code: _codes(F.col(raw_col), mapping) for raw_col, code, mapping in rules.BASE_LABELS},
    }
    result = SparkCleanResult(*_finish(df, contract.CLEANED_CUSTOMER_BASE, typed))
    result.extremes = cross_sectional_extremes(result.cleaned, rules.BASE_EXTREME_COLUMNS, sigma)
    return result


def clean_customer_behavior(raw: DataFrame, sigma: float = rules.OUTLIER_SIGMA) -> SparkCleanResult:
    """Typed monthly snapshots (full history), one row per (customer_id, stat_month)."""
    F = _F()
    reasons = _Reasons()
    reasons.flag(F.col(MALFORMED), rules.REASON_MALFORMED)
    empty_key = _empty(F.col("customer_id")) | _empty(F.col("stat_month"))
    reasons.flag(empty_key, rules.REASON_EMPTY_KEY)
    month = _timestamp(F.col("stat_month"), rules.MONTH_FORMATS)
    month_index = (F.year(month) - 1970) * 12 + F.month(month) - 1
    df = raw.withColumn("_typed_month_index", month_index.cast("long"))
    df = df.withColumn("_key_month", F.coalesce(F.col("_typed_month_index"), F.lit(-1)))
    reasons.flag(F.col("_typed_month_index").isNull(), f"{rules.REASON_BAD_DATE}:stat_month")
    numbers = (*rules.BEHAVIOR_FLOAT_COLUMNS, *rules.BEHAVIOR_INT_COLUMNS)
    for col in numbers:
        df = df.withColumn(f"_typed_{col}", _number(F.col(col)))
    for col in (*rules.BEHAVIOR_DATETIME_COLUMNS, *rules.BEHAVIOR_NULLABLE_DATETIME_COLUMNS):
        df = df.withColumn(f"_typed_{col}", _timestamp(F.col(col), rules.DATETIME_FORMATS))
    for col in rules.BEHAVIOR_DATE_COLUMNS:
        df = df.withColumn(f"_typed_{col}", _timestamp(F.col(col), rules.DATE_FORMATS))
    parsed = df.cache()  # parse once (see clean_customer_base)
    df = _with_duplicates(parsed, ["customer_id", "_key_month"], empty_key)
    for col in numbers:
        bad = _bad_number(F.col(f"_typed_{col}"), integer=col in rules.BEHAVIOR_INT_COLUMNS)
        reasons.flag(bad, f"{rules.REASON_BAD_NUMBER}:{col}")
    for col in rules.BEHAVIOR_DATETIME_COLUMNS:
        reasons.flag(F.col(f"_typed_{col}").isNull(), f"{rules.REASON_BAD_DATE}:{col}")
    for col in rules.BEHAVIOR_NULLABLE_DATETIME_COLUMNS:
        reasons.flag(
            F.col(f"_typed_{col}").isNull() & ~_empty(F.col(col)),
            f"{rules.REASON_BAD_DATE}:{col}",
        )
    for col in rules.BEHAVIOR_DATE_COLUMNS:
        reasons.flag(F.col(f"_typed_{col}").isNull(), f"{rules.REASON_BAD_DATE}:{col}")
    negative = F.lit(False)
    for col in (*rules.BALANCE_COLUMNS, "credit_card_monthly_expense"):
        negative = negative | F.coalesce(F.col(f"_typed_{col}") < 0, F.lit(False))
    reasons.flag(negative, rules.REASON_NEGATIVE)
    df = _with_reasons(df, reasons, rules.BEHAVIOR_OUTLIER_COLUMNS, sigma, parsed)

    missing = _empty(F.col("contact_result"))
    contact = F.when(
        missing & F.col("_typed_last_contact_time").isNull(), F.lit(rules.NO_CONTACT)
    ).otherwise(_codes(F.col("contact_result"), rules.CONTACT_RESULT))
    typed = {
        **{c: F.col(f"_typed_{c}") for c in rules.BEHAVIOR_FLOAT_COLUMNS},
        **{c: F.col(f"_typed_{c}").cast("long") for c in rules.BEHAVIOR_INT_COLUMNS},
        **{
            c: F.col(f"_typed_{c}")
            for c in (
                *rules.BEHAVIOR_DATETIME_COLUMNS,
                *rules.BEHAVIOR_NULLABLE_DATETIME_COLUMNS,
                *rules.BEHAVIOR_DATE_COLUMNS,
            )
        },
        "month_index": F.col("_typed_month_index"),
        **{
            code: _codes(F.col(raw_col), mapping)
            for raw_col, code, mapping in rules.BEHAVIOR_LABELS
        },
        "contact_result_code": contact,
        "contact_result_missing": missing,
    }
    result = SparkCleanResult(*_finish(df, contract.CLEANED_CUSTOMER_BEHAVIOR, typed))
    result.extremes = cross_sectional_extremes(
        result.cleaned, rules.BEHAVIOR_EXTREME_COLUMNS, sigma
    )
    return result
