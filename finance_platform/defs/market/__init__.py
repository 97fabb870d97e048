"""Definitions of the `market` domain, handed up to `finance_platform.definitions`."""

import dagster as dg

from finance_platform.defs.market.assets import market_assets
from finance_platform.defs.market.checks import market_checks
from finance_platform.defs.market.schedules import market_quotes_job, market_schedules

defs = dg.Definitions(
    assets=market_assets,
    asset_checks=market_checks,
    jobs=[market_quotes_job],
    schedules=market_schedules,
)
