"""Freshness checks on quotes and customer tables, alerting through the check sensor."""

from __future__ import annotations

import datetime as dt
import warnings

import dagster as dg
import pytest

from finance_platform.definitions import build_definitions
from finance_platform.defs.alerts.checks import (
    FreshnessRule,
    asset_keys_of,
    describe_rule,
    first_run_after,
    freshness_checks,
    freshness_rules,
)
from finance_platform.defs.alerts.sensors import build_alert_sensors
from finance_platform.resources.slack import SlackAlertsResource
from finance_platform.settings import Settings
from finance_platform_tests.alerts.conftest import tick

(slack_on_asset_check_failure,) = [
    s for s in build_alert_sensors(Settings()) if s.name == "slack_on_asset_check_failure"
]


# The rules as the code location builds them, from its own schedules.
FRESHNESS_RULES = freshness_rules(build_definitions(Settings()).schedules or [])


def _check_keys(checks) -> set[dg.AssetCheckKey]:
    return {key for c in checks for key in c.check_keys}


def test_freshness_checks_cover_only_tables_that_exist():
    present = [
        dg.AssetKey(["market", "curated_quotes"]),
        dg.AssetKey("cleaned_customer_base"),
        dg.AssetKey("customer_features"),  # not a freshness target
    ]
    keys = _check_keys(freshness_checks(present, FRESHNESS_RULES))
    assert {k.asset_key for k in keys} == {
        dg.AssetKey(["market", "curated_quotes"]),
        dg.AssetKey("cleaned_customer_base"),
    }
    assert freshness_checks([], FRESHNESS_RULES) == []


def test_freshness_checks_are_warnings_with_deadlines():
    checks = freshness_checks([dg.AssetKey("marketing_targets")], FRESHNESS_RULES)
    (spec,) = [s for c in checks for s in c.check_specs]
    assert spec.asset_key == dg.AssetKey("marketing_targets")
    assert "freshness" in spec.name


def _schedule(cron: str, timezone: str = "UTC") -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="s", cron_schedule=cron, job_name="j", execution_timezone=timezone
    )


DAILY_06_UTC = _schedule("0 6 * * *")


@pytest.mark.parametrize(
    ("load", "timezone", "deadline"),
    [
        ("30 17 * * 1-5", "America/New_York", "0 6 * * 2-6"),  # after the US close
        ("0 1 * * *", "UTC", "0 6 * * *"),
        ("0 4 * * 1", "UTC", "0 6 * * 1"),
        ("0 7 * * 5", "UTC", "0 6 * * 6"),  # loaded after 06:00: checked the next day
        ("0 7 * * 0,6", "UTC", "0 6 * * 0-1"),  # Saturday's load is checked on Sunday
    ],
)
def test_deadline_is_the_first_check_after_each_load(load, timezone, deadline):
    assert first_run_after(_schedule(load, timezone), DAILY_06_UTC) == deadline


@pytest.mark.parametrize(
    ("load", "check"),
    [
        (_schedule("*/15 * * * *"), DAILY_06_UTC),  # not once a day
        (_schedule("0 1 * * *"), _schedule("0 6 * * 1")),  # a weekly check misses loads
    ],
)
def test_schedules_a_deadline_cannot_follow_are_refused(load, check):
    with pytest.raises(ValueError, match="schedule 's'"):
        first_run_after(load, check)


def test_code_location_deadlines_come_from_the_schedules():
    """Quotes by 06:00 UTC Tue-Sat, cleaning daily, segments and targets on Monday."""
    deadlines = {name: rule.deadline_cron for rule in FRESHNESS_RULES for name in rule.names}
    assert deadlines == {
        "curated_quotes": "0 6 * * 2-6",
        "warehouse_daily_quotes": "0 6 * * 2-6",
        "cleaned_customer_base": "0 6 * * *",
        "customer_segments": "0 6 * * 1",
        "marketing_targets": "0 6 * * 1",
    }


def test_checks_keep_all_dagster_built_but_the_description():
    rule = FRESHNESS_RULES[0]
    keys = [dg.AssetKey("curated_quotes")]
    (ours,) = freshness_checks(keys, rules=[rule])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        (dagsters,) = dg.build_last_update_freshness_checks(
            assets=keys,
            lower_bound_delta=rule.within,
            deadline_cron=rule.deadline_cron,
            severity=dg.AssetCheckSeverity.WARN,
        )
    (spec,), (built,) = ours.check_specs, dagsters.check_specs
    assert spec.description == describe_rule(rule)
    assert "24 h" in spec.description and "`0 6 * * 2-6`, UTC" in spec.description
    # The spec is rebuilt attribute by attribute: one Dagster adds fails here, not silently.
    for name in dg.AssetCheckSpec.__annotations__:
        if name not in ("description", "metadata"):
            assert getattr(spec, name) == getattr(built, name), name
    assert spec.metadata == {**built.metadata, "severity": "WARN"}


def test_a_missing_domain_fails_the_alerts_instead_of_dropping_their_checks():
    from finance_platform.defs import alerts, market

    # As if the customers domain were left out: its schedules set the deadlines.
    settings = Settings()
    with pytest.raises(KeyError, match="customers_quality_daily"):
        alerts.build_defs(settings, [market.build_defs(settings)])


def test_asset_keys_are_read_without_resolving_definitions():
    @dg.asset(required_resource_keys={"lake"})
    def needs_a_resource() -> None: ...

    defs = dg.Definitions(assets=[needs_a_resource, dg.AssetSpec("external_feed")])
    assert asset_keys_of([defs]) == {dg.AssetKey("needs_a_resource"), dg.AssetKey("external_feed")}


def test_code_location_wires_freshness_for_the_domain_tables():
    """Once the market/customer tables exist, their freshness checks and sensor load too."""
    from finance_platform.defs import customers, market

    settings = Settings()
    defs = build_definitions(settings)
    domains = [market.build_defs(settings), customers.build_defs(settings)]
    domain_names = {k.path[-1] for k in asset_keys_of(domains)}
    wanted = {
        "curated_quotes",
        "warehouse_daily_quotes",
        "cleaned_customer_base",
        "customer_segments",
        "marketing_targets",
    }
    checked = {
        k.asset_key.path[-1]
        for k in _check_keys(defs.asset_checks or [])
        if k.name == "freshness_check"
    }
    assert checked == wanted & domain_names
    assert defs.get_repository_def().has_sensor_def("freshness_checks_sensor")


@pytest.mark.integration
def test_stale_table_alerts_through_the_check_sensor(instance, webhook, monkeypatch):
    monkeypatch.setenv("SLACK_WEBHOOK_URL", webhook.url)
    slack = SlackAlertsResource(timeout_seconds=0.5)

    @dg.asset
    def cleaned_customer_base() -> None: ...

    rule = FreshnessRule(
        names=("cleaned_customer_base",),
        within=dt.timedelta(hours=24),
        deadline_cron="0 6 * * *",
        why="test",
    )
    checks = freshness_checks([cleaned_customer_base.key], rules=[rule])
    job = dg.define_asset_job("freshness_job", selection=dg.AssetSelection.checks(*checks))
    defs = dg.Definitions(assets=[cleaned_customer_base], asset_checks=checks, jobs=[job])

    cursor = tick(slack_on_asset_check_failure, instance, None, slack=slack).cursor
    # Never materialized: the freshness check fails (WARN), the run itself succeeds.
    stale = defs.resolve_job_def("freshness_job").execute_in_process(instance=instance)
    assert stale.success
    cursor = tick(slack_on_asset_check_failure, instance, cursor, slack=slack).cursor
    assert len(webhook.texts) == 1
    assert "*WARN* `cleaned_customer_base` › `freshness_check`" in webhook.texts[0]

    # Materialized now: the next evaluation passes and the alert says so.
    dg.materialize([cleaned_customer_base], instance=instance)
    defs.resolve_job_def("freshness_job").execute_in_process(instance=instance)
    tick(slack_on_asset_check_failure, instance, cursor, slack=slack)
    assert len(webhook.texts) == 2
    assert "Recovered" in webhook.texts[1] and "freshness_check" in webhook.texts[1]


def test_freshness_sensor_runs_checks_on_the_latest_quotes_partition(instance):
    """Date|symbol partitioned quotes: the check looks at the newest partition loaded."""
    from finance_platform.defs.alerts.checks import freshness_sensor

    quotes_partitions = dg.MultiPartitionsDefinition(
        {
            "date": dg.DailyPartitionsDefinition("2026-01-01"),
            "symbol": dg.StaticPartitionsDefinition(["IBM", "AAPL"]),
        }
    )

    @dg.asset(partitions_def=quotes_partitions)
    def curated_quotes() -> None: ...

    checks = freshness_checks([curated_quotes.key], FRESHNESS_RULES)
    (sensor,) = freshness_sensor(checks)
    defs = dg.Definitions(assets=[curated_quotes], asset_checks=checks, sensors=[sensor])
    request = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert request.asset_check_keys == [dg.AssetCheckKey(curated_quotes.key, "freshness_check")]

    dg.materialize(
        [curated_quotes],
        instance=instance,
        partition_key=dg.MultiPartitionKey({"date": "2026-11-20", "symbol": "IBM"}),
    )
    job = dg.define_asset_job("quotes_freshness", selection=dg.AssetSelection.checks(*checks))
    run = (
        dg.Definitions(assets=[curated_quotes], asset_checks=checks, jobs=[job])
        .resolve_job_def("quotes_freshness")
        .execute_in_process(instance=instance)
    )
    (evaluation,) = [
        e.asset_check_evaluation_data
        for e in run.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert evaluation.passed  # just loaded: fresh
