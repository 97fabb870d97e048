"""Definitions of the `market` domain, handed up to `finance_platform.definitions`."""

import dagster as dg

from finance_platform.defs.market.assets import build_market_assets
from finance_platform.defs.market.checks import build_quotes_quality_check
from finance_platform.defs.market.partitions import QuotePartitions
from finance_platform.defs.market.schedules import build_after_close_schedule, build_quotes_job
from finance_platform.settings import Settings


def build_defs(settings: Settings) -> dg.Definitions:
    """Quotes for ``settings.symbols`` from ``settings.quotes_start``: assets, check, job, schedule.

    One ``QuotePartitions`` for all of them, so they cannot disagree on the partitions.
    """
    partitions = QuotePartitions.from_settings(settings)
    job = build_quotes_job(partitions, settings)
    return dg.Definitions(
        assets=build_market_assets(partitions, settings),
        asset_checks=[build_quotes_quality_check(partitions)],
        jobs=[job],
        schedules=[build_after_close_schedule(partitions, job, settings)],
    )
