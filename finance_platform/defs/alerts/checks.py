"""Freshness checks: the latest quotes partition and the customer tables must be recent.

A stale table fails a WARN check, which ``slack_on_asset_check_failure`` reports like any
other failed check. The checks are built only for assets that exist in the domains'
definitions, so this module never breaks loading while those domains change.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class FreshnessRule:
    """Assets (by name) that must have been updated within ``within`` before ``deadline_cron``."""

    names: tuple[str, ...]
    within: dt.timedelta
    deadline_cron: str
    why: str


FRESHNESS_RULES: tuple[FreshnessRule, ...] = (
    FreshnessRule(
        names=("curated_quotes", "warehouse_daily_quotes"),
        within=dt.timedelta(hours=24),
        # By 06:00 UTC Tuesday-Saturday the previous trading day's quotes must be in.
        # Last-update freshness looks at the newest materialization of any partition,
        # i.e. the latest date|symbol partition loaded.
        deadline_cron="0 6 * * 2-6",
        why="daily quotes load after each trading day",
    ),
    FreshnessRule(
        names=("cleaned_customer_base",),
        within=dt.timedelta(hours=24),
        deadline_cron="0 6 * * *",  # cleaning runs early morning, before 06:00 quality checks
        why="daily cleaning of the customer files",
    ),
    FreshnessRule(
        names=("customer_segments", "marketing_targets"),
        within=dt.timedelta(days=7),
        deadline_cron="0 6 * * 1",  # segments Monday 04:00, targets 05:00
        why="weekly segmentation and marketing targets",
    ),
)


def asset_keys_of(definitions: Iterable[dg.Definitions]) -> set[dg.AssetKey]:
    """Asset keys declared in ``definitions`` without resolving them (no resources needed)."""
    keys: set[dg.AssetKey] = set()
    for d in definitions:
        for item in d.assets or []:
            if isinstance(item, dg.AssetsDefinition):
                keys.update(item.keys)
            elif hasattr(item, "key"):
                keys.add(item.key)
    return keys


def freshness_checks(
    available: Iterable[dg.AssetKey], rules: Iterable[FreshnessRule] = FRESHNESS_RULES
) -> list[dg.AssetChecksDefinition]:
    """One last-update freshness check per rule, for the rule's assets that exist."""
    by_name: dict[str, list[dg.AssetKey]] = {}
    for key in available:
        by_name.setdefault(key.path[-1], []).append(key)
    checks: list[dg.AssetChecksDefinition] = []
    for rule in rules:
        keys = sorted(
            (k for name in rule.names for k in by_name.get(name, [])),
            key=lambda k: k.to_user_string(),
        )
        if not keys:
            continue
        # Dagster 1.13 marks these factories "superseded" by FreshnessPolicy. We keep them on
        # purpose: a policy emits freshness-state events, not check evaluations, and the
        # bank wants staleness in the same check dashboards and the same Slack sensor as
        # every other quality check.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.SupersessionWarning)
            built = dg.build_last_update_freshness_checks(
                assets=keys,
                lower_bound_delta=rule.within,
                deadline_cron=rule.deadline_cron,
                timezone="UTC",
                severity=dg.AssetCheckSeverity.WARN,
            )
        checks.extend(_described(check_def, rule) for check_def in built)
    return checks


def _threshold_text(within: dt.timedelta) -> str:
    hours = within.total_seconds() / 3600
    return f"{hours / 24:g} d" if hours >= 48 and hours % 24 == 0 else f"{hours:g} h"


def describe_rule(rule: FreshnessRule) -> str:
    """What the check measures and its threshold, for the check dashboards and alerts."""
    return (
        f"Freshness ({rule.why}): WARN when the asset's newest materialization is older than "
        f"{_threshold_text(rule.within)} at the deadline (cron `{rule.deadline_cron}`, UTC)."
    )


def _described(
    check_def: dg.AssetChecksDefinition, rule: FreshnessRule
) -> dg.AssetChecksDefinition:
    """The factory's checks carry a generic description; give each one its rule and threshold."""
    from dagster._core.definitions.asset_checks.asset_checks_definition import (
        AssetChecksDefinition,
    )

    specs = {
        output: spec._replace(description=describe_rule(rule))
        for output, spec in check_def.check_specs_by_output_name.items()
    }
    return AssetChecksDefinition.create(
        keys_by_input_name=check_def.keys_by_input_name,
        node_def=check_def.node_def,
        check_specs_by_output_name=specs,
        can_subset=check_def.can_subset,
        resource_defs=check_def.resource_defs,
    )


def freshness_sensor(checks: list[dg.AssetChecksDefinition]) -> list[dg.SensorDefinition]:
    """The sensor that runs the freshness checks when they are due (none if no checks)."""
    if not checks:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return [
            dg.build_sensor_for_freshness_checks(
                freshness_checks=checks,
                name="freshness_checks_sensor",
                minimum_interval_seconds=300,
                default_status=dg.DefaultSensorStatus.RUNNING,
            )
        ]
