"""Definitions of the `customers` domain, handed up to `finance_platform.definitions`."""

import dagster as dg

from finance_platform.defs.customers.assets import ASSETS
from finance_platform.defs.customers.checks import CHECKS
from finance_platform.defs.customers.schedules import JOBS, SCHEDULES
from finance_platform.defs.customers.sensors import SENSORS

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=CHECKS,
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=SENSORS,
)
