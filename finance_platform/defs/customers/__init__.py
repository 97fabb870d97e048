"""Definitions of the `customers` domain, handed up to `finance_platform.definitions`."""

import dagster as dg

from finance_platform.defs.customers.assets import assets_on
from finance_platform.defs.customers.checks import CHECKS
from finance_platform.defs.customers.schedules import JOBS, SCHEDULES
from finance_platform.defs.customers.sensors import SENSORS
from finance_platform.resources.engine import engine_kind
from finance_platform.settings import Settings


def build_defs(settings: Settings) -> dg.Definitions:
    """The domain's definitions, its engine-built assets showing the kind of
    ``settings.engine`` (``duckdb`` or ``spark``)."""
    return dg.Definitions(
        assets=assets_on(engine_kind(settings.engine)),
        asset_checks=CHECKS,
        jobs=JOBS,
        schedules=SCHEDULES,
        sensors=SENSORS,
    )


# The domain at the default settings (the local engine; no environment read), for tests and
# tools that look at this domain alone. The code location builds its own from its settings.
defs = build_defs(Settings())
