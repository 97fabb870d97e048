"""Definitions of the `customers` domain, handed up to `finance_platform.definitions`."""

import dagster as dg

from finance_platform.defs.customers.assets import assets_on
from finance_platform.defs.customers.checks import CHECKS
from finance_platform.defs.customers.schedules import JOBS, SCHEDULES
from finance_platform.defs.customers.sensors import SENSORS
from finance_platform.resources.engine import LocalEngine


def build_defs(engine_kind: str = LocalEngine.kind) -> dg.Definitions:
    """The domain's definitions, its engine-built assets showing ``engine_kind``."""
    return dg.Definitions(
        assets=assets_on(engine_kind),
        asset_checks=CHECKS,
        jobs=JOBS,
        schedules=SCHEDULES,
        sensors=SENSORS,
    )


defs = build_defs()
