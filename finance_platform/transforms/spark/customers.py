"""Spark versions of the customer transforms: features, trends, segments, recommendations, targets.

Same rules as ``transforms.customers`` (read from ``rules.py``), same columns in
the same order (``contract.py``). Arithmetic is written in the pandas engine's evaluation order
and rounding is numpy's (``rint(x * 10**d) / 10**d``, half to even), so both
engines give the same numbers, not merely close ones. Spark DataFrames in and out.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

from finance_platform.transforms.customers import contract, rules

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


# -- numeric helpers with pandas / numpy semantics ----------------------------------
def _F():
    from pyspark.sql import functions as F

    return F


def np_round(col: Column, decimals: int) -> Column:
    """numpy's round: ``rint(x * 10**d) / 10**d`` (half to even on the scaled double)."""
    F = _F()
    scale = float(10**decimals)
    return F.rint(col * F.lit(scale)) / F.lit(scale)


def nan_to_null(col: Column) -> Column:
    F = _F()
    return F.when(F.isnan(col), F.lit(None)).otherwise(col)


def clip(col: Column, lower: float | None = None, upper: float | None = None) -> Column:
    """pandas ``clip``: bounds applied, missing stays missing (no NaN-is-largest surprises)."""
    F = _F()
    out = F.when(col.isNull(), F.lit(None).cast("double"))
    if lower is not None:
        out = out.when(col < F.lit(lower), F.lit(float(lower)))
    if upper is not None:
        out = out.when(col > F.lit(upper), F.lit(float(upper)))
    return out.otherwise(col.cast("double"))


def log1p(col: Column) -> Column:
    return _F().log1p(col)


def _map_column(col: Column, mapping: dict[str, Any], default: Any) -> Column:
    F = _F()
    out = None
    for key, value in mapping.items():
        out = (F.when if out is None else out.when)(col == F.lit(key), F.lit(value))
    return out.otherwise(F.lit(default)) if out is not None else F.lit(default)


ROW = "_row"  # internal file-order column (see cleaning); dropped before writing


def kahan_mean(items: str, field: str) -> Column:
    """Mean of ``field`` over an ordered array with pandas' groupby Kahan summation.

    pandas' ``groupby().mean()`` compensates its sums; a plain ``avg`` can land
    on the other side of a half-cent tie. Same order + same operations = same bits.
    """
    F = _F()
    start = F.struct(F.lit(0.0).alias("s"), F.lit(0.0).alias("c"), F.lit(0).cast("long").alias("n"))

    def step(acc, item):
        value = item[field]
        y = value - acc["c"]
        t = acc["s"] + y
        return F.when(value.isNull() | F.isnan(value), acc).otherwise(
            F.struct(t.alias("s"), ((t - acc["s"]) - y).alias("c"), (acc["n"] + 1).alias("n"))
        )

    return F.aggregate(
        items, start, step, lambda acc: F.when(acc["n"] > 0, acc["s"] / acc["n"].cast("double"))
    )


# -- features --------------------------------------------------------------------------
def as_of_date(behavior: DataFrame) -> dt.date:
    """Last day of the newest snapshot month (same rule as the pandas engine)."""
    F = _F()
    newest = behavior.agg(F.max("month_index")).first()[0]
    if newest is None:
        return dt.date(1970, 1, 31)
    year, month = divmod(int(newest), 12)
    first_next = dt.date(1970 + year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def _with_latest(behavior: DataFrame) -> DataFrame:
    from pyspark.sql import Window

    F = _F()
    return behavior.withColumn(
        "_latest", F.max("month_index").over(Window.partitionBy("customer_id"))
    )


def current_view(behavior: DataFrame) -> DataFrame:
    """Each customer's latest monthly snapshot."""
    F = _F()
    latest = _with_latest(behavior)
    cols = [c for c in contract.CURRENT_COLUMNS if c in behavior.columns]
    return latest.where(F.col("month_index") == F.col("_latest")).select(*cols)


def _window_averages(behavior: DataFrame, window: int, columns: tuple[str, ...]) -> DataFrame:
    F = _F()
    inside = _with_latest(behavior).where(F.col("month_index") > F.col("_latest") - window)
    return inside.groupBy("customer_id").agg(
        *[(F.sum(F.col(c).cast("double")) / F.count(F.lit(1))).alias(c) for c in columns]
    )


def month_text(index: Column) -> Column:
    """Months since 1970-01 -> ``YYYY-MM`` (missing -> empty), as the pandas engine."""
    F = _F()
    year = F.floor(index / F.lit(12)) + F.lit(1970)
    month = index - F.floor(index / F.lit(12)) * F.lit(12) + F.lit(1)
    return F.coalesce(
        F.format_string("%04d-%02d", year.cast("long"), month.cast("long")), F.lit("")
    )


def view_status(
    features: DataFrame, quarantined: DataFrame | None, newest_clean: int | None
) -> DataFrame:
    """``features`` plus ``latest_raw_stat_month``, ``current_view_status`` and
    ``cool_period_known`` (``transforms.customers.features.view_status``).

    ``features`` carries ``month_index`` (the customer's newest clean month, null if none).
    """
    from finance_platform.transforms.spark.cleaning import _empty, _timestamp

    F = _F()
    newest = F.lit(newest_clean).cast("double") if newest_clean is not None else None
    df = features
    if quarantined is not None:
        month = _timestamp(F.col("stat_month"), rules.MONTH_FORMATS)
        q = quarantined.where(~_empty(F.col("customer_id"))).select(
            F.col("customer_id").cast("string").alias("customer_id"),
            ((F.year(month) - 1970) * 12 + F.month(month) - 1).cast("double").alias("_q_month"),
        )
        q_newest = q.agg(F.max("_q_month")).first()[0]
        if q_newest is not None:
            top = (
                max(float(q_newest), float(newest_clean)) if newest_clean is not None else q_newest
            )
            newest = F.lit(float(top))
        per = q.groupBy("customer_id").agg(
            F.max("_q_month").alias("_q_latest"),
            F.max(F.col("_q_month").isNull()).alias("_q_undated"),
        )
        df = df.join(per, "customer_id", "left")
    else:
        df = df.withColumn("_q_latest", F.lit(None).cast("double")).withColumn(
            "_q_undated", F.lit(False)
        )
    latest = F.col("month_index").cast("double")
    behind = F.coalesce(F.col("_q_undated"), F.lit(False))
    if newest is not None:
        behind = behind | F.coalesce(latest < newest, F.lit(False))
    behind = behind | F.coalesce(latest < F.col("_q_latest"), F.lit(False))
    status = (
        F.when(latest.isNull(), F.lit(rules.VIEW_MISSING))
        .when(behind, F.lit(rules.VIEW_STALE))
        .otherwise(F.lit(rules.VIEW_CURRENT))
    )
    raw_latest = F.greatest(latest, F.col("_q_latest"))  # nulls ignored, as numpy's fmax
    return (
        df.withColumn("latest_raw_stat_month", month_text(raw_latest))
        .withColumn("current_view_status", status)
        .withColumn("cool_period_known", status == F.lit(rules.VIEW_CURRENT))
        .drop("_q_latest", "_q_undated")
    )


def customer_features(
    base: DataFrame, behavior: DataFrame, quarantined: DataFrame | None = None
) -> DataFrame:
    """One row per cleaned customer (no name): current view, scores, tiers, view status."""
    from pyspark.sql import Window

    F = _F()
    as_of = as_of_date(behavior)
    as_of_ts = dt.datetime(as_of.year, as_of.month, as_of.day)
    current = current_view(behavior)
    averages = _window_averages(
        behavior, rules.FREQUENCY_MONTHS, ("app_login_count", "investment_monthly_count")
    ).select(
        "customer_id",
        F.col("app_login_count").alias("avg_logins_3m"),
        F.col("investment_monthly_count").alias("avg_investments_3m"),
    )
    row = [ROW] if ROW in base.columns else []
    df = (
        base.select(*contract.PROFILE_COLUMNS, *row)
        .join(current, "customer_id", "left")
        .join(averages, "customer_id", "left")
    )
    df = df.withColumn("has_behavior", F.col("month_index").isNotNull())
    for col in rules.ZERO_FILLED_FEATURES:
        df = df.withColumn(col, F.coalesce(F.col(col), F.lit(0)))
    for col in rules.COUNT_FEATURES:
        df = df.withColumn(col, F.col(col).cast("long"))
    df = df.withColumn(
        "contact_result_code",
        F.when(F.col("has_behavior"), F.col("contact_result_code").cast("string")).otherwise(
            F.lit(rules.NO_CONTACT)
        ),
    )
    as_of_col = F.lit(as_of_ts).cast("timestamp")
    df = df.withColumn("as_of_date", as_of_col)
    tenure = F.datediff(F.lit(as_of), F.to_date("open_account_date")) / F.lit(365.25)
    df = df.withColumn("tenure_years", np_round(tenure, 2))
    base_score = _map_column(F.col("lifecycle_code"), rules.LIFECYCLE_BASE_SCORE, 0).cast("double")
    tenure_capped = F.coalesce(clip(tenure, 0, rules.TENURE_CAP_YEARS), F.lit(0.0))
    life = clip(base_score + tenure_capped * F.lit(rules.TENURE_POINTS_PER_YEAR), 0, 100)
    df = df.withColumn("lifecycle_score", np_round(life, 2))
    df = df.withColumn("log_total_assets", np_round(log1p(clip(F.col("total_assets"), 0)), 6))
    n = F.count(F.lit(1)).over(Window.partitionBy())
    rank = F.row_number().over(Window.orderBy("log_total_assets", "customer_id")) - 1
    df = df.withColumn(
        "asset_tier", (F.floor(rank * F.lit(rules.ASSET_TIER_BINS) / n) + 1).cast("long")
    )
    risky = F.col("financial_balance") + F.col("fund_balance")
    assets = F.col("total_assets")
    share = risky / F.when(assets > 0, assets)
    df = df.withColumn("risk_asset_share", np_round(clip(F.coalesce(share, F.lit(0.0)), 0, 1), 4))
    seconds = F.unix_timestamp(as_of_col) - F.unix_timestamp(F.col("last_app_login_time"))
    df = df.withColumn("days_since_login", np_round(seconds / F.lit(86_400.0), 2))
    df = _engagement(df)
    total = F.lit(0.0)
    for col, weight in rules.CROSS_SELL_WEIGHTS.items():
        total = total + F.lit(weight) * F.col(col).cast("double")
    df = df.withColumn("product_cross_sell_index", np_round(F.lit(100.0) * total, 2))
    newest = behavior.agg(F.max("month_index")).first()[0]
    df = view_status(df, quarantined, int(newest) if newest is not None else None)
    df = df.withColumnRenamed("stat_month", "latest_stat_month").withColumn(
        "latest_stat_month", F.col("latest_stat_month").cast("string")
    )
    return df.select(*contract.CUSTOMER_FEATURES.columns, *row)


def _engagement(df: DataFrame) -> DataFrame:
    F = _F()
    days = F.coalesce(F.col("days_since_login"), F.lit(float(rules.RECENCY_WINDOW_DAYS)))
    recency = clip(F.lit(1.0) - days / F.lit(float(rules.RECENCY_WINDOW_DAYS)), 0, 1)
    frequency = F.lit(0.5) * clip(F.col("avg_logins_3m") / F.lit(rules.LOGIN_CAP), 0, 1) + F.lit(
        0.5
    ) * clip(F.col("avg_investments_3m") / F.lit(rules.INVESTMENT_CAP), 0, 1)
    spend = log1p(clip(F.col("credit_card_monthly_expense"), 0)) / F.lit(
        math.log1p(rules.SPEND_CAP)
    )
    assets = log1p(clip(F.col("total_assets"), 0)) / F.lit(math.log1p(rules.ASSET_CAP))
    monetary = F.lit(0.5) * clip(spend, 0, 1) + F.lit(0.5) * clip(assets, 0, 1)
    w = rules.ENGAGEMENT_WEIGHTS
    score = F.lit(100.0) * (
        F.lit(w["recency"]) * recency
        + F.lit(w["frequency"]) * frequency
        + F.lit(w["monetary"]) * monetary
    )
    return (
        df.withColumn("recency_score", np_round(recency, 4))
        .withColumn("frequency_score", np_round(frequency, 4))
        .withColumn("monetary_score", np_round(monetary, 4))
        .withColumn("engagement_score", np_round(score, 2))
    )


def behavior_metrics(behavior: DataFrame) -> DataFrame:
    """3- and 6-month trends (least-squares slope / mean) of assets, spend and logins.

    Sums run in month order per customer (``aggregate`` over the sorted months),
    the order the pandas engine adds them in for a delivery listed month by month:
    amounts have two decimals, so a mean is often an exact half cent and the
    summation order decides how it rounds.
    """
    F = _F()
    metrics = list(rules.TREND_METRICS)
    items = F.struct(
        F.col("month_index").alias("m"),
        *[F.col(metric).cast("double").alias(metric) for metric in metrics],
    )
    grouped = behavior.groupBy("customer_id").agg(
        F.count(F.lit(1)).cast("long").alias("months_observed"),
        F.max("month_index").alias("latest_month_index"),
        F.array_sort(F.collect_list(items)).alias("_items"),
    )
    latest = F.col("latest_month_index")

    # All sums of both windows in one ordered pass over each customer's months: a struct
    # accumulator, so the interpreted lambda walks the array once, not once per sum.
    def x(item) -> Column:
        return (item["m"] - latest).cast("double")

    terms: dict[str, tuple[int, Any]] = {}  # sum name -> (window, term of one month)
    for window in rules.TREND_WINDOWS:
        terms[f"n{window}"] = (window, lambda item: F.lit(1.0))
        terms[f"sx{window}"] = (window, x)
        terms[f"sxx{window}"] = (window, lambda item: x(item) * x(item))
        for metric in metrics:
            terms[f"sy{window}_{metric}"] = (window, lambda item, metric=metric: item[metric])
            terms[f"sxy{window}_{metric}"] = (
                window,
                lambda item, metric=metric: x(item) * item[metric],
            )
    start = F.struct(*[F.lit(0.0).alias(name) for name in terms])

    def step(acc, item):
        fields = []
        for name, (window, term) in terms.items():
            inside = item["m"] > latest - F.lit(window)
            fields.append(
                (acc[name] + F.when(inside, term(item)).otherwise(F.lit(0.0))).alias(name)
            )
        return F.struct(*fields)

    sums = grouped.select("*", F.aggregate("_items", start, step).alias("_sums"))

    def total(name: str) -> Column:
        return F.col("_sums")[name]

    columns = [F.col("customer_id"), F.col("months_observed")]
    for window in rules.TREND_WINDOWS:
        n, sx, sxx = total(f"n{window}"), total(f"sx{window}"), total(f"sxx{window}")
        denom = n * sxx - sx * sx
        for metric in metrics:
            sy, sxy = total(f"sy{window}_{metric}"), total(f"sxy{window}_{metric}")
            slope = (n * sxy - sx * sy) / denom
            mean = sy / n
            valid = (n >= 2) & (denom != 0) & (mean != 0)
            columns.append(F.when(n > 0, np_round(mean, 2)).alias(f"{metric}_avg_{window}m"))
            columns.append(
                F.when(valid, np_round(slope / mean, 6)).alias(f"{metric}_trend_{window}m")
            )
    columns.append(latest)
    return sums.select(*columns).select(*contract.BEHAVIOR_METRICS.columns)


# -- segments --------------------------------------------------------------------------
_OPS = {
    "==": lambda c, v: c == v,
    "!=": lambda c, v: c != v,
    ">=": lambda c, v: c >= v,
    ">": lambda c, v: c > v,
    "<=": lambda c, v: c <= v,
    "<": lambda c, v: c < v,
}


def condition(column: str, op: str, value: Any) -> Column:
    """One ``(column, op, value)`` rule condition; missing values never match (as in numpy)."""
    F = _F()
    col = F.col(column).cast("string") if isinstance(value, str) else F.col(column)
    return F.coalesce(_OPS[op](col, F.lit(value)), F.lit(op == "!="))


def assign_segments(features: DataFrame) -> DataFrame:
    """``customer_id``, segment id / names / characteristics, and the flags."""
    F = _F()
    flags = [condition(col, op, value).alias(flag) for flag, col, op, value in rules.SEGMENT_FLAGS]
    row = [ROW] if ROW in features.columns else []
    df = features.select("customer_id", *flags, *row)
    index = None
    for i, rule in enumerate(rules.SEGMENT_RULES):
        match = F.lit(True)
        for column, op, value in rule["when"]:
            match = match & condition(column, op, value)
        index = (F.when if index is None else index.when)(match, F.lit(i))
    df = df.withColumn("_segment", index.otherwise(F.lit(-1)))

    def pick(values: list[str]) -> Column:
        out = None
        for i, value in enumerate(values):
            out = (F.when if out is None else out.when)(F.col("_segment") == i, F.lit(value))
        return out

    table = rules.SEGMENT_RULES
    return df.select(
        "customer_id",
        pick([r["id"] for r in table]).alias("segment_id"),
        pick([f"{r['en']} / {r['zh']}" for r in table]).alias("segment_name"),
        pick([r["en"] for r in table]).alias("segment_name_en"),
        pick([r["zh"] for r in table]).alias("segment_name_zh"),
        pick([r["characteristics"] for r in table]).alias("segment_characteristics"),
        *[flag for flag, *_ in rules.SEGMENT_FLAGS],
        *row,
    ).select(*contract.CUSTOMER_SEGMENTS.columns, *row)


def segment_table(spark) -> DataFrame:
    rows = [
        (r["id"], f"{r['en']} / {r['zh']}", r["en"], r["zh"], r["characteristics"])
        for r in rules.SEGMENT_RULES
    ]
    return spark.createDataFrame(
        rows,
        "segment_id string, segment_name string, segment_name_en string, "
        "segment_name_zh string, segment_characteristics string",
    )


def segment_profiles(segments: DataFrame, features: DataFrame) -> DataFrame:
    """One row per segment (empty ones too): size, share and averages."""
    from pyspark.sql import Window

    F = _F()
    averaged = contract.PROFILE_AVERAGES
    order = F.col(ROW) if ROW in features.columns else F.col("customer_id")
    joined = segments.select("customer_id", "segment_id").join(
        features.select("customer_id", order.alias("_order"), *averaged),
        "customer_id",
        "left",
    )
    items = F.struct(F.col("_order"), *[F.col(c).cast("double").alias(c) for c in averaged])
    stats = joined.groupBy("segment_id").agg(
        F.array_sort(F.collect_list(items)).alias("_items"),
        F.count(F.lit(1)).alias("customers"),
    )
    stats = stats.select(
        "segment_id",
        *[np_round(kahan_mean("_items", c), 2).alias(f"avg_{c}") for c in averaged],
        "customers",
    )
    table = segment_table(segments.sparkSession).join(stats, "segment_id", "left")
    table = table.withColumn("customers", F.coalesce(F.col("customers"), F.lit(0)).cast("long"))
    total = F.greatest(F.sum("customers").over(Window.partitionBy()), F.lit(1))
    table = table.withColumn("share", np_round(F.col("customers") / total, 4))
    return table.select(*contract.SEGMENT_PROFILES.columns)


# -- recommendations -------------------------------------------------------------------
def _signal(source: str, kind: str, param: Any) -> Column:
    F = _F()
    col = F.col(source)
    if kind == "cap":
        value = clip(col.cast("double") / F.lit(float(param)), 0, 1)
    elif kind == "flag":
        value = col.cast("double")
    elif kind == "not_flag":
        value = F.lit(1.0) - col.cast("double")
    elif kind == "ge":
        value = F.coalesce(col.cast("double") >= F.lit(float(param)), F.lit(False)).cast("double")
    elif kind == "eq":
        value = F.coalesce(col.cast("string") == F.lit(param), F.lit(False)).cast("double")
    elif kind == "score":
        value = clip(col.cast("double") / F.lit(100.0), 0, 1)
    else:
        raise ValueError(f"unknown signal kind {kind!r}")
    return F.coalesce(value, F.lit(0.0))


def product_recommendations(features: DataFrame, segments: DataFrame) -> DataFrame:
    """Every customer x every product: score, probability, expected value, priority."""
    F = _F()
    signals = [
        _signal(source, kind, param).alias(name)
        for name, source, kind, param in rules.PRODUCT_SIGNALS
    ]
    offset = _map_column(
        F.col("contact_result_code").cast("string"), rules.CONTACT_OFFSET, 0.0
    ).cast("double")
    sources = sorted({source for source, _rate in rules.EXPECTED_VALUE.values()})
    base = features.select(
        "customer_id",
        *signals,
        offset.alias("_offset"),
        *[F.col(s).alias(f"_ev_{s}") for s in sources],
    ).join(segments.select("customer_id", "segment_id"), "customer_id", "left")
    frames = []
    for rank, product in enumerate(rules.PRODUCTS):
        score = F.lit(0.0)
        for signal, weight in rules.PRODUCT_WEIGHTS[product].items():
            score = score + F.lit(weight) * F.col(signal)
        score = np_round(F.lit(100.0) * score, 2)
        logit = F.lit(rules.PROBABILITY_SLOPE) * (score / F.lit(100.0) - F.lit(0.5)) + F.col(
            "_offset"
        )
        prob = np_round(F.lit(1.0) / (F.lit(1.0) + F.exp(-logit)), 4)
        source, rate = rules.EXPECTED_VALUE[product]
        value = np_round(F.lit(rate) * clip(F.col(f"_ev_{source}").cast("double"), 0), 2)
        frames.append(
            base.select(
                "customer_id",
                "segment_id",
                F.lit(product).alias("product"),
                F.lit(rank).cast("long").alias("product_rank"),
                score.alias("score"),
                prob.alias("purchase_probability"),
                value.alias("expected_value"),
            ).withColumn(
                "priority_score",
                np_round(
                    F.col("score") * F.col("purchase_probability") * F.col("expected_value"), 2
                ),
            )
        )
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out.select(*contract.PRODUCT_RECOMMENDATIONS.columns)


def marketing_targets(
    recommendations: DataFrame, features: DataFrame, segments: DataFrame, run_date: dt.date
) -> DataFrame:
    """One ranked row per targeted customer: their best product by priority."""
    from pyspark.sql import Window

    F = _F()
    best_first = Window.partitionBy("customer_id").orderBy(
        F.col("priority_score").desc(), F.col("product_rank").asc()
    )
    best = (
        recommendations.withColumn("_r", F.row_number().over(best_first))
        .where(F.col("_r") == 1)
        .drop("_r")
        .join(
            features.select("customer_id", "marketing_cool_period", "cool_period_known"),
            "customer_id",
            "left",
        )
    )
    cool = F.to_date("marketing_cool_period")
    cooling = cool.isNotNull() & (cool > F.lit(run_date))
    eligible = (
        ~cooling
        & F.coalesce(F.col("cool_period_known"), F.lit(False))
        & (F.col("score") >= F.lit(rules.MIN_TARGET_SCORE))
        & (F.col("purchase_probability") >= F.lit(rules.MIN_TARGET_PROBABILITY))
    )
    targets = best.where(eligible)
    ranking = Window.orderBy(F.col("priority_score").desc(), F.col("customer_id").asc())
    targets = targets.withColumn("target_rank", F.row_number().over(ranking).cast("long"))
    targets = targets.join(segments.select("customer_id", "segment_name_en"), "customer_id", "left")
    reason = F.concat(
        _map_column(F.col("product"), rules.PRODUCT_REASONS, None),
        F.lit("; segment "),
        F.coalesce(F.col("segment_id").cast("string"), F.lit("nan")),
        F.lit(" "),
        F.coalesce(F.col("segment_name_en").cast("string"), F.lit("nan")),
    )
    run_day = dt.datetime(run_date.year, run_date.month, run_date.day)
    return targets.withColumns(
        {
            "recommended_product": F.col("product"),
            "recommended_product_zh": _map_column(F.col("product"), rules.PRODUCT_NAMES_ZH, None),
            "reason": reason,
            "run_date": F.lit(run_day).cast("timestamp"),
        }
    ).select(*contract.MARKETING_TARGETS.columns)
