"""The user's rule "missing values > 5% -> warning", end to end with the real customer checks."""

from __future__ import annotations

import dagster as dg
import pytest

from finance_platform.defs.alerts.sensors import build_alert_sensors
from finance_platform.resources.slack import SlackAlertsResource
from finance_platform.settings import Settings
from finance_platform_tests.alerts.conftest import tick

(slack_on_asset_check_failure,) = [
    s for s in build_alert_sensors(Settings()) if s.name == "slack_on_asset_check_failure"
]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_missing_rate_over_5_percent_reaches_slack_as_a_warning(
    instance, webhook, lake_root, monkeypatch
):
    from finance_platform import sample_data
    from finance_platform.defs import customers
    from finance_platform.resources import build_resources
    from finance_platform.settings import load_settings

    # The generated files carry the defects of the bank's real ones (~19% missing contacts).
    sample_data.generate(out_dir=lake_root / "raw", customers=300, months=3, seed=7)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", webhook.url)
    slack = SlackAlertsResource(timeout_seconds=2)
    settings = load_settings()
    resources = dg.Definitions(resources=build_resources(settings))
    defs = dg.Definitions.merge(customers.build_defs(settings), resources)

    cursor = tick(slack_on_asset_check_failure, instance, None, slack=slack).cursor
    result = defs.resolve_job_def("customers_job").execute_in_process(
        instance=instance,
        asset_selection=[
            dg.AssetKey("raw_customer_behavior_assets"),
            dg.AssetKey("cleaned_customer_behavior"),
        ],
    )
    assert result.success  # warnings never fail the run
    tick(slack_on_asset_check_failure, instance, cursor, slack=slack)

    assert len(webhook.texts) == 1
    (line,) = [ln for ln in webhook.texts[0].splitlines() if "`missing_rate`" in ln]
    assert line.startswith("• *WARN* `cleaned_customer_behavior` › `missing_rate`")
    assert "contact_result=" in line and "threshold missing rate <= 5% per column" in line
    assert "`customers_job`" in webhook.texts[0]
