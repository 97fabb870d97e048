"""Operational metrics: CloudWatch in production (namespace ``FinancePlatform``), the log locally.

Row counts, asset-check outcomes and durations are published with dimensions
``asset`` and ``check`` (and ``job`` for run durations) so CloudWatch alarms and
dashboards can be built per asset. Publishing never fails a run or a sensor.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from pydantic import Field

NAMESPACE = "FinancePlatform"
# PutMetricData accepts up to 1000 items per call; small batches keep requests small.
_BATCH = 20

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    unit: str = "None"
    dimensions: Mapping[str, str] = field(default_factory=dict)
    timestamp: float | None = None

    def to_cloudwatch(self) -> dict[str, Any]:
        import datetime as dt

        datum: dict[str, Any] = {
            "MetricName": self.name,
            "Value": float(self.value),
            "Unit": self.unit,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(self.dimensions.items())],
        }
        if self.timestamp is not None:
            datum["Timestamp"] = dt.datetime.fromtimestamp(self.timestamp, tz=dt.UTC)
        return datum


def row_count(asset: str, rows: int, timestamp: float | None = None) -> Metric:
    return Metric("RowCount", rows, "Count", {"asset": asset}, timestamp)


def asset_duration(asset: str, seconds: float, timestamp: float | None = None) -> Metric:
    return Metric("MaterializationDuration", seconds, "Seconds", {"asset": asset}, timestamp)


def check_outcome(
    asset: str, check: str, passed: bool, severity: str, timestamp: float | None = None
) -> list[Metric]:
    """``CheckPassed`` (1/0) and ``CheckFailed`` (0/1) so alarms can sum either."""
    dims = {"asset": asset, "check": check}
    failed_dims = {**dims, "severity": severity}
    return [
        Metric("CheckPassed", 1 if passed else 0, "Count", dims, timestamp),
        Metric("CheckFailed", 0 if passed else 1, "Count", failed_dims, timestamp),
    ]


def run_duration(job: str, seconds: float, succeeded: bool, timestamp: float | None = None):
    return [
        Metric("RunDuration", seconds, "Seconds", {"job": job}, timestamp),
        Metric("RunFailed", 0 if succeeded else 1, "Count", {"job": job}, timestamp),
    ]


class CloudWatchMetricsResource(dg.ConfigurableResource):
    """Publishes :class:`Metric` values with ``cloudwatch:PutMetricData``.

    ``enabled=False`` (local) writes them to the log instead. boto3 is imported only
    when publishing, so loading the code location stays fast.
    """

    namespace: str = Field(default=NAMESPACE, description="CloudWatch namespace.")
    enabled: bool = Field(default=False, description="False: log metrics instead of publishing.")
    region: str | None = Field(default=None, description="AWS region (default chain if unset).")
    endpoint_url: str | None = Field(default=None, description="Override endpoint (tests).")

    def publish(self, metrics: Sequence[Metric], log: Any | None = None) -> int:
        """Publish ``metrics``; returns how many were accepted. Never raises."""
        log = log or _logger
        if not metrics:
            return 0
        if not self.enabled:
            log.debug(
                "CloudWatch disabled; metrics: "
                + "; ".join(f"{m.name}{dict(m.dimensions)}={m.value:g}" for m in metrics)
            )
            return 0
        try:
            import boto3

            client = boto3.client(
                "cloudwatch", region_name=self.region, endpoint_url=self.endpoint_url
            )
        except Exception as exc:
            log.warning(f"CloudWatch client unavailable ({type(exc).__name__}); metrics skipped")
            return 0
        sent = 0
        for start in range(0, len(metrics), _BATCH):
            batch = metrics[start : start + _BATCH]
            try:
                client.put_metric_data(
                    Namespace=self.namespace, MetricData=[m.to_cloudwatch() for m in batch]
                )
                sent += len(batch)
            except Exception as exc:
                log.warning(
                    f"CloudWatch PutMetricData failed ({type(exc).__name__}); "
                    f"{len(batch)} metrics dropped"
                )
        return sent
