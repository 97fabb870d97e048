"""Market partitions: trading day (weekdays from FINANCE_QUOTES_START) x symbol (FINANCE_SYMBOLS).

Weekday partitions include exchange holidays on purpose: a holiday partition
materializes as an explicit "market closed" result with zero rows, so the
partition grid in the UI has no unexplained holes.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from finance_platform.settings import load_settings
from finance_platform.transforms.trading_calendar import (
    MARKET_TIMEZONE,
    is_trading_day,
    market_today,
)

DATE_FORMAT = "%Y-%m-%d"

_settings = load_settings()

# end_offset=1: the current day's partition exists from midnight New York time,
# so the after-close schedule can target today (a Friday is not only complete on Monday).
date_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 * * 1-5",
    start=_settings.quotes_start.strftime(DATE_FORMAT),
    fmt=DATE_FORMAT,
    timezone=MARKET_TIMEZONE,
    end_offset=1,
)
symbol_partitions = dg.StaticPartitionsDefinition(list(_settings.symbols))
quote_partitions = dg.MultiPartitionsDefinition(
    {"date": date_partitions, "symbol": symbol_partitions}
)


def quote_partition_key(trade_date: str | dt.date, symbol: str) -> dg.MultiPartitionKey:
    """The partition key of (day, symbol), e.g. ``2023-11-10|IBM``."""
    day = trade_date if isinstance(trade_date, str) else trade_date.strftime(DATE_FORMAT)
    return dg.MultiPartitionKey({"date": day, "symbol": symbol})


def split_partition_key(
    context: dg.AssetExecutionContext | dg.OpExecutionContext,
) -> tuple[str, str]:
    """(trade_date, symbol) of the running partition."""
    key = context.partition_key
    keys = key.keys_by_dimension if isinstance(key, dg.MultiPartitionKey) else None
    if keys is None:
        day, symbol = str(key).split("|")
        return day, symbol
    return keys["date"], keys["symbol"]


def latest_trading_days(n: int, today: dt.date | None = None) -> list[str]:
    """The most recent ``n`` trading-day partition keys on or before ``today``, oldest first.

    ``today`` defaults to ``market_today()`` (today once the US close has settled,
    else yesterday). Never earlier than ``FINANCE_QUOTES_START``.
    """
    if n <= 0:
        return []
    start = load_settings().quotes_start
    day = today or market_today()
    out: list[str] = []
    while len(out) < n and day >= start:
        if is_trading_day(day):
            out.append(day.strftime(DATE_FORMAT))
        day -= dt.timedelta(days=1)
    return list(reversed(out))
