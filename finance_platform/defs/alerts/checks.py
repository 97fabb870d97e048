"""Freshness checks: the latest quotes partition and the customer tables must be recent.

A stale table fails a WARN check, which ``slack_on_asset_check_failure`` reports like any
other failed check. Each deadline is the first run of the quality monitoring schedule
after the schedule that loads the table, both taken from the domains' definitions, so
moving a schedule moves its deadline. The checks are built only for assets that exist
in the domains' definitions.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import dagster as dg

EVERY_DAY = frozenset(range(7))  # cron weekdays, 0 = Sunday
# A Monday in winter and one in summer time: a deadline must not depend on the season.
_REFERENCE_MONDAYS = (dt.date(2025, 1, 6), dt.date(2025, 7, 7))


@dataclass(frozen=True)
class FreshnessRule:
    """Assets (by name) that must have been updated within ``within`` before ``deadline_cron``."""

    names: tuple[str, ...]
    within: dt.timedelta
    deadline_cron: str
    why: str
    timezone: str = "UTC"

    @classmethod
    def checked_after(
        cls,
        load: dg.ScheduleDefinition,
        checked_by: dg.ScheduleDefinition,
        *,
        names: tuple[str, ...],
        within: dt.timedelta,
        why: str,
    ) -> FreshnessRule:
        """The rule whose deadline is ``checked_by``'s first run after each run of ``load``."""
        return cls(
            names=names,
            within=within,
            deadline_cron=first_run_after(load, checked_by),
            why=why,
            timezone=checked_by.execution_timezone or "UTC",
        )


def _time_and_weekdays(schedule: dg.ScheduleDefinition) -> tuple[int, int, frozenset[int]]:
    """(minute, hour, cron weekdays) of a schedule that runs once on each of some weekdays."""
    cron = schedule.cron_schedule
    fields = cron.split() if isinstance(cron, str) else []
    if (
        len(fields) != 5
        or not (fields[0].isdigit() and fields[1].isdigit())
        or fields[2:4] != ["*", "*"]
    ):
        raise ValueError(
            f"schedule {schedule.name!r} runs on {cron!r}; a freshness deadline can only be "
            "derived from a cron of the form 'M H * * <weekdays>'"
        )
    days: set[int] = set()
    for part in fields[4].split(","):
        first, _, last = ("0-6" if part == "*" else part).partition("-")
        days.update(d % 7 for d in range(int(first), int(last or first) + 1))
    return int(fields[0]), int(fields[1]), frozenset(days)


def _weekday_field(days: frozenset[int]) -> str:
    """Cron weekdays as a cron field: ``*``, ``1`` or ranges like ``2-6``."""
    if days == EVERY_DAY:
        return "*"
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def first_run_after(load: dg.ScheduleDefinition, check: dg.ScheduleDefinition) -> str:
    """A cron (in ``check``'s timezone) for ``check``'s first run after each run of ``load``.

    ``check`` must run daily, so that first run is at most a day after the load. E.g. a
    load Mon-Fri 17:30 New York checked daily at 06:00 UTC gives ``0 6 * * 2-6``.
    """
    check_minute, check_hour, check_days = _time_and_weekdays(check)
    if check_days != EVERY_DAY:
        raise ValueError(f"schedule {check.name!r} must run daily to set freshness deadlines")
    load_minute, load_hour, load_days = _time_and_weekdays(load)
    load_tz = ZoneInfo(load.execution_timezone or "UTC")
    check_tz = ZoneInfo(check.execution_timezone or "UTC")
    per_season = set()
    for monday in _REFERENCE_MONDAYS:
        deadline_days = set()
        for day in (monday + dt.timedelta(days=n) for n in range(7)):
            if day.isoweekday() % 7 not in load_days:
                continue
            loaded = dt.datetime.combine(day, dt.time(load_hour, load_minute), load_tz)
            loaded = loaded.astimezone(check_tz)
            checked = loaded.replace(hour=check_hour, minute=check_minute)
            if checked < loaded:
                checked += dt.timedelta(days=1)
            deadline_days.add(checked.isoweekday() % 7)
        per_season.add(frozenset(deadline_days))
    if len(per_season) != 1:
        raise ValueError(
            f"{check.name!r} runs on different weekdays after {load.name!r} in summer and "
            "winter time; give that freshness rule an explicit deadline"
        )
    return f"{check_minute} {check_hour} * * {_weekday_field(per_season.pop())}"


# Freshness is part of the daily quality monitoring, so it is judged when that runs.
QUALITY_MONITORING = "customers_quality_daily"
_DAY, _WEEK = dt.timedelta(hours=24), dt.timedelta(days=7)
# (schedule that loads the tables, tables, how recent, why). Last-update freshness looks at
# the newest materialization of any partition: for quotes, the latest date|symbol loaded.
_LOADS: tuple[tuple[str, tuple[str, ...], dt.timedelta, str], ...] = (
    (
        "market_quotes_after_close",
        ("curated_quotes", "warehouse_daily_quotes"),
        _DAY,
        "daily quotes load after each trading day",
    ),
    (
        "customers_cleaning_daily",
        ("cleaned_customer_base",),
        _DAY,
        "daily cleaning of the customer files",
    ),
    ("customers_segmentation_weekly", ("customer_segments",), _WEEK, "weekly segmentation"),
    ("customers_marketing_weekly", ("marketing_targets",), _WEEK, "weekly marketing targets"),
)


def freshness_rules(schedules: Iterable[dg.ScheduleDefinition]) -> tuple[FreshnessRule, ...]:
    """The rules, their deadlines read from ``schedules`` (the domains' own definitions).

    A schedule a rule needs that is missing fails here, naming it: silently building no
    freshness check would leave a stale table unreported.
    """
    by_name = {s.name: s for s in schedules}

    def schedule(name: str) -> dg.ScheduleDefinition:
        if name not in by_name:
            raise KeyError(f"freshness rules need the schedule {name!r}; have {sorted(by_name)}")
        return by_name[name]

    checked_by = schedule(QUALITY_MONITORING)
    return tuple(
        FreshnessRule.checked_after(schedule(load), checked_by, names=names, within=within, why=why)
        for load, names, within, why in _LOADS
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
    available: Iterable[dg.AssetKey], rules: Iterable[FreshnessRule]
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
                timezone=rule.timezone,
                severity=dg.AssetCheckSeverity.WARN,
            )
        checks.extend(_described(check_def, describe_rule(rule)) for check_def in built)
    return checks


def _threshold_text(within: dt.timedelta) -> str:
    hours = within.total_seconds() / 3600
    return f"{hours / 24:g} d" if hours >= 48 and hours % 24 == 0 else f"{hours:g} h"


def describe_rule(rule: FreshnessRule) -> str:
    """What the check measures and its threshold, for the check dashboards and alerts."""
    return (
        f"Freshness ({rule.why}): WARN when the asset's newest materialization is older than "
        f"{_threshold_text(rule.within)} at the deadline (cron `{rule.deadline_cron}`, "
        f"{rule.timezone})."
    )


def _described(check_def: dg.AssetChecksDefinition, description: str) -> dg.AssetChecksDefinition:
    """The factory's checks, each saying what it measures instead of a generic sentence, and
    its severity (WARN) in the spec's metadata like every other check of the platform.

    Public API missing: Dagster's freshness factories take no description, and nothing
    public maps over a built definition's check specs (``Definitions.map_asset_specs``
    covers assets only). So the definition is rebuilt with ``AssetChecksDefinition.create``,
    the constructor the class's docstring names, from the built one's properties; each spec
    is rebuilt from its public attributes (a test fails if Dagster adds one).
    """
    specs = {
        output: dg.AssetCheckSpec(
            spec.name,
            asset=spec.asset_key,
            description=description,
            additional_deps=spec.additional_deps,
            blocking=spec.blocking,
            metadata={**spec.metadata, "severity": dg.AssetCheckSeverity.WARN.value},
            automation_condition=spec.automation_condition,
            partitions_def=spec.partitions_def,
        )
        for output, spec in check_def.check_specs_by_output_name.items()
    }
    return dg.AssetChecksDefinition.create(
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
