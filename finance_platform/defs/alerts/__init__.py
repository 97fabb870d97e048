"""Definitions of the `alerts` domain, handed up to `finance_platform.definitions`.

Slack sensors for failed runs, failed checks and slow runs, CloudWatch metrics, and
freshness checks (with the sensor that evaluates them) on the market and customer tables.
"""

from collections.abc import Sequence

import dagster as dg

from finance_platform.defs.alerts.checks import (
    asset_keys_of,
    freshness_checks,
    freshness_rules,
    freshness_sensor,
)
from finance_platform.defs.alerts.sensors import build_alert_sensors
from finance_platform.settings import Settings


def build_defs(settings: Settings, domains: Sequence[dg.Definitions]) -> dg.Definitions:
    """Alert sensors, and freshness checks for the tables the ``domains`` define, with
    deadlines from the ``domains``' schedules."""
    schedules = [s for d in domains for s in d.schedules or []]
    checks = freshness_checks(asset_keys_of(domains), freshness_rules(schedules))
    sensors = [*build_alert_sensors(settings), *freshness_sensor(checks)]
    return dg.Definitions(asset_checks=checks, sensors=sensors)
