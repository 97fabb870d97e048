"""Definitions of the `alerts` domain, handed up to `finance_platform.definitions`.

Slack sensors for failed runs, failed checks and slow runs, CloudWatch metrics, and
freshness checks (with the sensor that evaluates them) on the market and customer tables.
"""

import dagster as dg

from finance_platform.defs.alerts.checks import asset_keys_of, freshness_checks, freshness_sensor
from finance_platform.defs.alerts.sensors import ALERT_SENSORS


def _domain_asset_keys() -> set[dg.AssetKey]:
    # A broken market/customers module still fails loudly where definitions.py imports it;
    # here it only must not stop the alert sensors (and their tests) from importing.
    try:
        from finance_platform.defs import customers, market
    except Exception:
        return set()
    return asset_keys_of([market.defs, customers.defs])


FRESHNESS_CHECKS = freshness_checks(_domain_asset_keys())

defs = dg.Definitions(
    asset_checks=FRESHNESS_CHECKS,
    sensors=[*ALERT_SENSORS, *freshness_sensor(FRESHNESS_CHECKS)],
)
