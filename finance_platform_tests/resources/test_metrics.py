"""CloudWatch metrics: published with boto3 in production (moto here), logged locally."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from finance_platform.resources.metrics import (
    NAMESPACE,
    CloudWatchMetricsResource,
    check_outcome,
    row_count,
)
from finance_platform_tests.alerts.conftest import instance  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration

REGION = "eu-west-1"


@pytest.fixture
def cloudwatch(monkeypatch):
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        import boto3

        yield boto3.client("cloudwatch", region_name=REGION)


def _dims(metric: dict) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in metric["Dimensions"]}


def test_publishes_row_counts_and_check_outcomes(cloudwatch):
    metrics = CloudWatchMetricsResource(enabled=True, region=REGION)
    data = [
        row_count("market/curated_quotes", 1250),
        *check_outcome("market/curated_quotes", "high_non_negative", False, "ERROR"),
    ]
    assert metrics.publish(data) == 3

    listed = cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]
    by_name = {m["MetricName"]: _dims(m) for m in listed}
    assert by_name["RowCount"] == {"asset": "market/curated_quotes"}
    assert by_name["CheckPassed"] == {
        "asset": "market/curated_quotes",
        "check": "high_non_negative",
    }
    assert by_name["CheckFailed"]["severity"] == "ERROR"

    now = dt.datetime.now(dt.UTC)
    stats = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="RowCount",
        Dimensions=[{"Name": "asset", "Value": "market/curated_quotes"}],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=10),
        Period=60,
        Statistics=["Sum"],
    )
    assert sum(p["Sum"] for p in stats["Datapoints"]) == 1250


def test_disabled_locally_logs_and_sends_nothing(cloudwatch, caplog):
    metrics = CloudWatchMetricsResource(enabled=False)
    with caplog.at_level(logging.DEBUG):
        assert metrics.publish([row_count("customers/marketing_targets", 42)]) == 0
    assert "RowCount" in caplog.text
    assert cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"] == []


def test_cloudwatch_errors_never_raise(monkeypatch, caplog):
    # No credentials and an endpoint nobody listens on: publishing fails, quietly.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    metrics = CloudWatchMetricsResource(
        enabled=True, region=REGION, endpoint_url="http://127.0.0.1:9"
    )
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with caplog.at_level(logging.WARNING):
        assert metrics.publish([row_count("a", 1)]) == 0
    assert "PutMetricData failed" in caplog.text


def test_metrics_sensor_publishes_what_real_runs_did(cloudwatch, instance):  # noqa: F811
    from finance_platform.defs.alerts.sensors import cloudwatch_run_metrics
    from finance_platform_tests.alerts.conftest import run_ledger, tick

    metrics = CloudWatchMetricsResource(enabled=True, region=REGION)
    cursor = tick(cloudwatch_run_metrics, instance, None, metrics=metrics).cursor
    run_ledger(instance, rows=7, missing_rate=0.2)
    run_ledger(instance, fail_with="boom")
    result = tick(cloudwatch_run_metrics, instance, cursor, metrics=metrics)
    assert "2 finished run(s)" in result.skip_reason.skip_message

    listed = cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]
    seen = {(m["MetricName"], tuple(sorted(_dims(m).items()))) for m in listed}
    assert ("RowCount", (("asset", "ledger_balances"),)) in seen
    assert ("MaterializationDuration", (("asset", "ledger_balances"),)) in seen
    assert ("CheckPassed", (("asset", "ledger_balances"), ("check", "ledger_missing_rate"))) in seen
    assert ("RunDuration", (("job", "ledger_job"),)) in seen

    now = dt.datetime.now(dt.UTC)

    def total(name: str, dims: list[dict]) -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName=name,
            Dimensions=dims,
            StartTime=now - dt.timedelta(minutes=10),
            EndTime=now + dt.timedelta(minutes=10),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(p["Sum"] for p in points)

    assert total("RowCount", [{"Name": "asset", "Value": "ledger_balances"}]) == 7
    assert total("RunFailed", [{"Name": "job", "Value": "ledger_job"}]) == 1
    failed_dims = [
        {"Name": "asset", "Value": "ledger_balances"},
        {"Name": "check", "Value": "ledger_missing_rate"},
        {"Name": "severity", "Value": "WARN"},
    ]
    assert total("CheckFailed", failed_dims) == 1


def test_production_publishes_and_local_only_logs():
    from finance_platform.resources import build_resources
    from finance_platform.settings import Settings

    prod = build_resources(Settings(env="prod", aws_region=REGION))["metrics"]
    local = build_resources(Settings(env="local"))["metrics"]
    assert (prod.enabled, prod.namespace, prod.region) == (True, "FinancePlatform", REGION)
    assert local.enabled is False
