"""Definitions of the `alerts` domain, handed up to `finance_platform.definitions`.

Slack sensors for failed runs, failed checks and slow runs, CloudWatch metrics, and
freshness checks (with the sensor that evaluates them) on the market and customer tables.
"""

from collections.abc import Iterable

import dagster as dg

from finance_platform.defs import customers, market
from finance_platform.defs.alerts.checks import asset_keys_of, freshness_checks, freshness_sensor
from finance_platform.defs.alerts.sensors import ALERT_SENSORS


def build_defs(domains: Iterable[dg.Definitions]) -> dg.Definitions:
    """Alert sensors, and freshness checks for the tables the ``domains`` define."""
    checks = freshness_checks(asset_keys_of(domains))
    return dg.Definitions(asset_checks=checks, sensors=[*ALERT_SENSORS, *freshness_sensor(checks)])


# A broken market or customers module fails this import too: silently building no
# freshness checks would leave stale tables unreported.
defs = build_defs([market.defs, customers.defs])
FRESHNESS_CHECKS: list[dg.AssetChecksDefinition] = list(defs.asset_checks or [])
