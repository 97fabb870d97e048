"""Spark version of ``transforms.quotes``: raw Alpha Vantage replies -> curated daily bars.

Same contract as the pandas engine, taken from its constants (``REPLY_FIELDS``,
``CURATED_COLUMNS``, ``WAREHOUSE_KEY`` ...): one curated row per (symbol,
trade_date) partition, the partition's own bar, last occurrence of a repeated
date wins, volume rounded half-to-even to an integer. Spark DataFrames in and out.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from finance_platform.transforms.quotes import (
    ADJUSTED_COLUMNS,
    CURATED_COLUMNS,
    PRICE_COLUMNS,
    REPLY_FIELDS,
    REQUIRED_BAR_COLUMNS,
    TIME_SERIES_KEYS,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

BODY_SCHEMA_DDL = ", ".join(f"`{key}` MAP<STRING, MAP<STRING, STRING>>" for key in TIME_SERIES_KEYS)


def parse_replies(replies: DataFrame) -> DataFrame:
    """One row per bar of each reply: ``replies`` has ``symbol``, ``body`` (+ any other columns).

    Repeated dates collapse to their last occurrence in the reply, the bar the
    pandas engine keeps after ``dedupe_bars``. Numbers are doubles;
    a field that is present but not a number becomes null (``curate_replies``
    refuses those, as the pandas parser does).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    parsed = replies.withColumn("_reply_id", F.monotonically_increasing_id()).withColumn(
        "_reply", F.from_json("body", BODY_SCHEMA_DDL)
    )
    series = F.coalesce(*[F.col("_reply").getField(k) for k in TIME_SERIES_KEYS])
    exploded = parsed.select(
        *[c for c in replies.columns if c != "body"],
        "_reply_id",
        F.posexplode(series).alias("_pos", "_day", "_fields"),
    )
    # A JSON map keeps repeated keys as separate entries: the last one wins.
    latest = Window.partitionBy("_reply_id", "_day").orderBy(F.col("_pos").desc())
    exploded = (
        exploded.withColumn("_rank", F.row_number().over(latest))
        .where(F.col("_rank") == 1)
        .drop("_rank", "_pos", "_reply_id")
    )
    out = exploded.withColumn("bar_date", F.col("_day"))
    for column in (*REQUIRED_BAR_COLUMNS, *ADJUSTED_COLUMNS):
        sources = [src for src, col in REPLY_FIELDS.items() if col == column]
        raw = F.coalesce(*[F.col("_fields").getItem(src) for src in sources])
        out = out.withColumn(f"_raw_{column}", raw).withColumn(
            column, F.col(f"_raw_{column}").cast("double")
        )
    return out.drop("_day", "_fields")


def unparseable_bars(bars: DataFrame) -> DataFrame:
    """Bars with a required field missing or not a number (the pandas parser raises on these)."""
    from pyspark.sql import functions as F

    bad = [
        F.col(f"_raw_{c}").isNull() | (F.col(c).isNull() & ~F.lower(F.col(f"_raw_{c}")).isin("nan"))
        for c in REQUIRED_BAR_COLUMNS
    ]
    condition = bad[0]
    for b in bad[1:]:
        condition = condition | b
    return bars.where(condition)


def curate_replies(replies: DataFrame, source: str, ingested_at: dt.datetime) -> DataFrame:
    """Curated rows for each ``(symbol, trade_date)`` reply: that day's own bar, typed.

    ``replies`` columns: ``symbol``, ``trade_date`` (the partition, ``YYYY-MM-DD``)
    and ``body``. A reply without a bar for its day gives no row (market closed).
    """
    from pyspark.sql import functions as F

    moment = ingested_at if ingested_at.tzinfo else ingested_at.replace(tzinfo=dt.UTC)
    bars = parse_replies(replies)
    own = bars.where(F.to_date("bar_date", "yyyy-MM-dd") == F.to_date("trade_date", "yyyy-MM-dd"))
    columns = {
        "symbol": F.col("symbol").cast("string"),
        "trade_date": F.date_format(F.to_date("trade_date", "yyyy-MM-dd"), "yyyy-MM-dd"),
        **{c: F.col(c).cast("double") for c in PRICE_COLUMNS},
        "volume": F.bround(F.col("volume"), 0).cast("long"),
        **{c: F.col(c).cast("double") for c in ADJUSTED_COLUMNS},
        "source": F.lit(source).cast("string"),
        "ingested_at": F.lit(moment.astimezone(dt.UTC).replace(tzinfo=None)).cast("timestamp"),
    }
    return own.select(*[columns[c].alias(c) for c in CURATED_COLUMNS])
