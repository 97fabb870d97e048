"""After the US close (Mon-Fri), materialize the day's quotes for every symbol.

One schedule for every exchange: by 17:30 New York, Shanghai/Shenzhen (closed since about
03:00 New York) and London (since about 11:30) have closed the same calendar day too. Each
symbol is asked about its own exchange's calendar, so a London bank holiday skips only the
London symbols.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from finance_platform.defs.market.partitions import (
    MARKET_TIMEZONE,
    QuotePartitions,
    quote_partition_key,
)
from finance_platform.resources.alpha_vantage import data_source_tags
from finance_platform.settings import Settings
from finance_platform.transforms.trading_calendar import market_closed_reason

# 17:30 New York: after the 16:00 close, once the day's bar is published.
AFTER_CLOSE_CRON = "30 17 * * 1-5"


def build_quotes_job(
    partitions: QuotePartitions, settings: Settings
) -> dg.UnresolvedAssetJobDefinition:
    """``market_quotes_job``: the market group over ``partitions``, tagged with its data source."""
    return dg.define_asset_job(
        name="market_quotes_job",
        selection=dg.AssetSelection.groups("market"),
        partitions_def=partitions.definition,
        executor_def=dg.in_process_executor,
        description="Raw reply -> quality checks -> curated Parquet -> warehouse, "
        "one (day, symbol).",
        tags=data_source_tags(settings),
    )


def build_after_close_schedule(
    partitions: QuotePartitions, job: dg.UnresolvedAssetJobDefinition, settings: Settings
) -> dg.ScheduleDefinition:
    """``market_quotes_after_close``: each trading day's bar for every symbol of ``partitions``."""
    tags = data_source_tags(settings)

    @dg.schedule(
        name="market_quotes_after_close",
        cron_schedule=AFTER_CLOSE_CRON,
        execution_timezone=MARKET_TIMEZONE,
        job=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Mon-Fri 17:30 New York: the day's bar for every symbol whose exchange was "
        "open (each symbol on its own exchange's calendar).",
    )
    def market_quotes_after_close(context: dg.ScheduleEvaluationContext):
        moment = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        day = moment.astimezone(ZoneInfo(MARKET_TIMEZONE)).date()
        symbols = partitions.symbols
        closed = {s: r for s in symbols if (r := market_closed_reason(day, symbol=s))}
        if len(closed) == len(symbols):
            reasons = sorted(set(closed.values()))
            return dg.SkipReason(f"market closed on {day.isoformat()} ({'; '.join(reasons)})")
        if closed:
            context.log.info(
                f"{day.isoformat()}: not requested (exchange closed): "
                + ", ".join(f"{s} ({r})" for s, r in closed.items())
            )
        return [
            dg.RunRequest(
                run_key=f"{day.isoformat()}|{symbol}",
                partition_key=quote_partition_key(day, symbol),
                tags=tags,
            )
            for symbol in symbols
            if symbol not in closed
        ]

    return market_quotes_after_close
