"""The Slack sensors against a real instance, real runs and a real webhook on 127.0.0.1."""

from __future__ import annotations

import json
import time

import dagster as dg
import pytest

from finance_platform.defs.alerts.sensors import AlertCursor, build_alert_sensors
from finance_platform.resources.slack import SlackAlertsResource
from finance_platform.settings import Settings
from finance_platform_tests.alerts.conftest import run_ledger, tick

pytestmark = pytest.mark.integration

UI = "https://dagster.bank.example"
API_KEY = "AVKEY-7Q2P9X"
# Built for a deployment whose UI is at UI: the links in every alert point there.
_SENSORS = {s.name: s for s in build_alert_sensors(Settings(dagster_ui_url=UI))}
slack_on_run_failure = _SENSORS["slack_on_run_failure"]
slack_on_asset_check_failure = _SENSORS["slack_on_asset_check_failure"]
slack_on_slow_run = _SENSORS["slack_on_slow_run"]


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", API_KEY)


@pytest.fixture
def slack(webhook, monkeypatch: pytest.MonkeyPatch) -> SlackAlertsResource:
    # The production wiring: the webhook URL only comes from the environment.
    monkeypatch.setenv("SLACK_WEBHOOK_URL", webhook.url)
    return SlackAlertsResource(timeout_seconds=0.5)


def test_failed_run_produces_exactly_one_message(instance, webhook, slack):
    cursor = tick(slack_on_run_failure, instance, None, slack=slack).cursor
    assert run_ledger(instance).success
    failed = run_ledger(
        instance, fail_with=f"Alpha Vantage refused apikey={API_KEY} while loading 张伟's balance"
    )
    assert not failed.success

    result = tick(slack_on_run_failure, instance, cursor, slack=slack)
    again = tick(slack_on_run_failure, instance, result.cursor, slack=slack)

    assert len(webhook.texts) == 1, webhook.texts
    text = webhook.texts[0]
    run_id = failed.run_id
    assert "Run failed" in text and "`ledger_job`" in text
    assert run_id.split("-")[0] in text
    assert "Failed step(s): `ledger_balances`" in text
    assert "Error: ValueError: Alpha Vantage refused apikey=***" in text
    assert f"<{UI}/runs/{run_id}|" in text
    # no secret, no customer name, one-line error
    assert API_KEY not in text and "张伟" not in text
    assert len([ln for ln in text.splitlines() if ln.startswith("Error:")]) == 1
    assert "No new" in again.skip_reason.skip_message


def test_first_tick_does_not_replay_history(instance, webhook, slack):
    run_ledger(instance, fail_with="old failure")
    result = tick(slack_on_run_failure, instance, None, slack=slack)
    assert webhook.texts == []
    assert AlertCursor.load(result.cursor).after > 0


def test_failed_checks_reported_once_then_recovered(instance, webhook, slack):
    cursor = tick(slack_on_asset_check_failure, instance, None, slack=slack).cursor
    bad = run_ledger(instance, rows=0, missing_rate=0.12)
    assert bad.success  # a failed check does not fail the run: only this sensor sees it

    cursor = tick(slack_on_asset_check_failure, instance, cursor, slack=slack).cursor
    cursor = tick(slack_on_asset_check_failure, instance, cursor, slack=slack).cursor
    assert len(webhook.texts) == 1
    failure = webhook.texts[0]
    assert "2 asset checks failed" in failure and "1 ERROR, 1 WARN" in failure
    assert "*ERROR* `ledger_balances` › `ledger_row_count`: observed 0; threshold >= 1 row" in (
        failure
    )
    assert "*WARN* `ledger_balances` › `ledger_missing_rate`" in failure
    assert "missing_rate 0.12" in failure and "max_missing_rate 0.05" in failure
    assert failure.index("*ERROR*") < failure.index("*WARN*")
    assert f"{UI}/runs/{bad.run_id}" in failure

    # Next run: the row count is fine again, the missing rate still too high.
    still_bad = run_ledger(instance, rows=5, missing_rate=0.2)
    cursor = tick(slack_on_asset_check_failure, instance, cursor, slack=slack).cursor
    assert len(webhook.texts) == 3
    assert "1 asset check failed" in webhook.texts[1] and "(still failing)" in webhook.texts[1]
    assert "`ledger_missing_rate`" in webhook.texts[1]
    assert still_bad.run_id.split("-")[0] in webhook.texts[1]
    assert webhook.texts[2].startswith(":large_green_circle: *Recovered:* ")
    assert (
        "`ledger_row_count`" in webhook.texts[2] and "ledger_missing_rate" not in webhook.texts[2]
    )

    run_ledger(instance, rows=5, missing_rate=0.01)
    cursor = tick(slack_on_asset_check_failure, instance, cursor, slack=slack).cursor
    run_ledger(instance, rows=5, missing_rate=0.01)
    cursor = tick(slack_on_asset_check_failure, instance, cursor, slack=slack).cursor

    assert len(webhook.texts) == 4
    assert webhook.texts[3].startswith(":large_green_circle: *Recovered:* ")
    assert "`ledger_missing_rate`" in webhook.texts[3]
    assert AlertCursor.load(cursor).failing == {}


@pytest.mark.parametrize("outage", ["error", "hang"])
def test_slack_outage_never_breaks_the_run_or_the_sensor(instance, webhook, slack, outage):
    cursor = tick(slack_on_asset_check_failure, instance, None, slack=slack).cursor
    webhook.mode = outage
    result = run_ledger(instance, missing_rate=0.3)
    assert result.success

    started = time.monotonic()
    during = tick(slack_on_asset_check_failure, instance, cursor, slack=slack)
    assert time.monotonic() - started < 10  # the 0.5 s timeout, not the 30 s hang
    assert webhook.refused == 1 and webhook.texts == []
    assert "1 waiting for Slack" in during.skip_reason.skip_message
    assert len(json.loads(during.cursor)["outbox"]) == 1

    webhook.mode = "ok"
    webhook.release.set()
    after = tick(slack_on_asset_check_failure, instance, during.cursor, slack=slack)
    tick(slack_on_asset_check_failure, instance, after.cursor, slack=slack)
    assert len(webhook.texts) == 1
    assert "`ledger_missing_rate`" in webhook.texts[0]
    assert json.loads(after.cursor)["outbox"] == []


def test_outage_keeps_every_alert_in_order(instance, webhook, slack):
    cursor = tick(slack_on_run_failure, instance, None, slack=slack).cursor
    webhook.mode = "error"
    first = run_ledger(instance, fail_with="first")
    cursor = tick(slack_on_run_failure, instance, cursor, slack=slack).cursor
    second = run_ledger(instance, fail_with="second")
    cursor = tick(slack_on_run_failure, instance, cursor, slack=slack).cursor
    # Slack is down: only the first queued alert was attempted on the second tick.
    assert webhook.refused == 2

    webhook.mode = "ok"
    tick(slack_on_run_failure, instance, cursor, slack=slack)
    assert [first.run_id in t for t in webhook.texts] == [True, False]
    assert second.run_id in webhook.texts[1]


def test_without_slack_alerts_are_logged_and_shown_on_the_tick(instance, webhook):
    slack = SlackAlertsResource()
    assert slack.destination == "log"
    cursor = tick(slack_on_run_failure, instance, None, slack=slack).cursor
    run_ledger(instance, fail_with="boom")
    result = tick(slack_on_run_failure, instance, cursor, slack=slack)
    reason = result.skip_reason.skip_message
    assert "1 alert(s) logged" in reason
    assert "Run failed" in reason and "ValueError: boom" in reason
    assert webhook.texts == []


def test_slow_run_gets_a_notice(instance, webhook, slack):
    cursor = tick(slack_on_slow_run, instance, None, slack=slack).cursor
    baseline = []
    for _ in range(3):
        run = run_ledger(instance)
        record = instance.get_run_record_by_id(run.run_id)
        baseline.append(record.end_time - record.start_time)
    # Twice the median on top of the usual work: over 150% however loaded the machine is.
    slow = run_ledger(instance, sleep_s=max(1.0, 2 * sorted(baseline)[1]))
    cursor = tick(slack_on_slow_run, instance, cursor, slack=slack).cursor
    tick(slack_on_slow_run, instance, cursor, slack=slack)

    assert len(webhook.texts) == 1, webhook.texts
    notice = webhook.texts[0]
    assert "Notice: slow run" in notice and "`ledger_job`" in notice
    assert slow.run_id.split("-")[0] in notice
    assert "last 3 successful runs" in notice and "notice above 150%" in notice


def test_alert_sensors_are_in_the_code_location():
    import finance_platform.definitions as module

    repo = module.defs.get_repository_def()
    names = {s.name for s in repo.sensor_defs}
    assert {
        "slack_on_run_failure",
        "slack_on_asset_check_failure",
        "slack_on_slow_run",
        "cloudwatch_run_metrics",
    } <= names
    for name in ("slack_on_run_failure", "slack_on_asset_check_failure"):
        assert repo.get_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING
    assert {"slack", "metrics"} <= set(module.defs.resources)
