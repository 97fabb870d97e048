"""Market partitions: trading day (weekdays from ``Settings.quotes_start``) x symbol
(``Settings.symbols``).

Weekday partitions include exchange holidays on purpose: a holiday partition
materializes as an explicit "market closed" result with zero rows, so the
partition grid in the UI has no unexplained holes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import dagster as dg

from finance_platform.settings import Settings
from finance_platform.transforms.trading_calendar import (
    MARKET_TIMEZONE,
    is_trading_day,
    market_today,
)

DATE_FORMAT = "%Y-%m-%d"

# A backfill of any range runs each asset once over the whole range, not once per partition:
# one API call per symbol. Dagster splits a (date x symbol) selection into one run per
# rectangle of keys (in practice one per symbol, ranged over the dates).
quote_backfill_policy = dg.BackfillPolicy.single_run()


@dataclass(frozen=True)
class QuotePartitions:
    """Which symbols, from which day: the one answer for a build of the definitions.

    ``build_definitions`` makes one from its ``Settings``; the market assets, their check,
    the job and the schedule of that build all hold this same value, so the partitions a
    run targets, the order symbols are fetched in and the days a schedule asks for agree.
    """

    symbols: tuple[str, ...]
    start: dt.date

    @classmethod
    def from_settings(cls, settings: Settings) -> QuotePartitions:
        return cls(symbols=tuple(settings.symbols), start=settings.quotes_start)

    @cached_property
    def definition(self) -> dg.MultiPartitionsDefinition:
        """(date, symbol) partitions; the current day exists from midnight New York time.

        end_offset=1: the after-close schedule can target today (a Friday is not only
        complete on Monday).
        """
        dates = dg.TimeWindowPartitionsDefinition(
            cron_schedule="0 0 * * 1-5",
            start=self.start.strftime(DATE_FORMAT),
            fmt=DATE_FORMAT,
            timezone=MARKET_TIMEZONE,
            end_offset=1,
        )
        symbols = dg.StaticPartitionsDefinition(list(self.symbols))
        return dg.MultiPartitionsDefinition({"date": dates, "symbol": symbols})

    def dates_by_symbol(self, keys: Iterable[str | dg.MultiPartitionKey]) -> dict[str, list[str]]:
        """The partition keys of a run grouped by symbol: ``{symbol: [trade dates, oldest first]}``.

        Symbols keep the order of ``symbols`` (then any other, alphabetically), so a run
        that cannot fetch every symbol always fetches the same ones first.
        """
        grouped: dict[str, set[str]] = {}
        for key in keys:
            day, symbol = split_key(key)
            grouped.setdefault(symbol, set()).add(day)
        order = {s: i for i, s in enumerate(self.symbols)}
        return {
            s: sorted(grouped[s])
            for s in sorted(grouped, key=lambda s: (order.get(s, len(order)), s))
        }

    def run_dates_by_symbol(
        self, context: dg.AssetExecutionContext | dg.OpExecutionContext
    ) -> dict[str, list[str]]:
        """What a run targets, one partition or a range: always from ``context.partition_keys``.

        (``context.partition_key`` is wrong for ranges: some ranged contexts report only the
        first key of the range, others raise.)
        """
        return self.dates_by_symbol(context.partition_keys)

    def latest_trading_days(
        self, n: int, today: dt.date | None = None, *, symbol: str | None = None
    ) -> list[str]:
        """The most recent ``n`` trading-day partition keys on or before ``today``, oldest first.

        ``today`` defaults to ``market_today()`` (today once the US close has settled,
        else yesterday). Never earlier than ``start``.
        """
        if n <= 0:
            return []
        day = today or market_today(symbol=symbol)
        out: list[str] = []
        while len(out) < n and day >= self.start:
            if is_trading_day(day, symbol=symbol):
                out.append(day.strftime(DATE_FORMAT))
            day -= dt.timedelta(days=1)
        return list(reversed(out))


def quote_partition_key(trade_date: str | dt.date, symbol: str) -> dg.MultiPartitionKey:
    """The partition key of (day, symbol), e.g. ``2023-11-10|IBM``."""
    day = trade_date if isinstance(trade_date, str) else trade_date.strftime(DATE_FORMAT)
    return dg.MultiPartitionKey({"date": day, "symbol": symbol})


def split_key(key: str | dg.MultiPartitionKey) -> tuple[str, str]:
    """(trade_date, symbol) of one partition key."""
    dims = key.keys_by_dimension if isinstance(key, dg.MultiPartitionKey) else None
    if dims is None:
        day, symbol = str(key).split("|")
        return day, symbol
    return dims["date"], dims["symbol"]


def next_partition_date(trade_date: str) -> str:
    """The date partition after ``trade_date`` (the next weekday: partitions are Mon-Fri)."""
    day = dt.date.fromisoformat(trade_date) + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day.strftime(DATE_FORMAT)
