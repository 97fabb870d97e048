"""Resources for each environment, chosen in one place by ``FINANCE_ENV``.

Local and production differ only here: a folder vs S3, DuckDB vs Redshift
Serverless, DuckDB views vs the Glue Data Catalog, a local Alpha Vantage sandbox vs
the real API, local Spark vs EMR Serverless / Glue, log-only alerts vs Slack.
"""

from __future__ import annotations

from typing import Any

from finance_platform.resources.alpha_vantage import build_alpha_vantage
from finance_platform.resources.catalog import build_catalog
from finance_platform.resources.engine import CUSTOMER_ENGINE, build_customer_engine
from finance_platform.resources.lake import LakeResource
from finance_platform.resources.metrics import CloudWatchMetricsResource
from finance_platform.resources.slack import SlackAlertsResource
from finance_platform.resources.warehouse import build_warehouse
from finance_platform.settings import Settings


def build_resources(settings: Settings) -> dict[str, Any]:
    """The resource dictionary for ``settings.env`` (``local`` or ``prod``)."""
    s = settings
    # Slack only if SLACK_WEBHOOK_URL / SLACK_BOT_TOKEN is set (read at send time, as
    # dg.EnvVar: secrets); else alerts go to the log.
    slack = SlackAlertsResource(channel=s.slack_channel)
    if s.env == "local":
        return {
            "lake": LakeResource(root=s.lake_root, keep_versions=s.lake_keep_versions),
            # No ALPHAVANTAGE_API_KEY: the local sandbox (synthetic prices, said so everywhere).
            "alpha_vantage": build_alpha_vantage(s),
            "warehouse": build_warehouse("local", s.warehouse_path),
            # Lake tables as views named database.table in the same DuckDB file.
            "catalog": build_catalog("local", s.warehouse_path),
            "slack": slack,
            "metrics": CloudWatchMetricsResource(enabled=False),
            # FINANCE_ENGINE: DuckDB (default), local Spark, or EMR / Glue launched from here.
            CUSTOMER_ENGINE: build_customer_engine(s),
        }
    return {
        "lake": LakeResource(
            root=s.lake_root, region=s.aws_region, keep_versions=s.lake_keep_versions
        ),
        "alpha_vantage": build_alpha_vantage(s),
        "warehouse": build_warehouse("prod", s.warehouse_path, s.aws_region),
        "catalog": build_catalog("prod", s.warehouse_path, s.aws_region),
        "slack": slack,
        "metrics": CloudWatchMetricsResource(enabled=True, region=s.aws_region),
        CUSTOMER_ENGINE: build_customer_engine(s),
    }
