"""The API key never appears in logs, stored files, metadata, run records or errors."""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import pytest

from finance_platform.defs import market
from finance_platform.resources.alpha_vantage import AlphaVantageResource
from finance_platform.settings import Settings
from finance_platform_tests.market.replay_server import (
    ERROR_MESSAGE,
    IBM_COMPACT,
    ReplayServer,
    Reply,
)

_MARKET_DEFS = market.build_defs(Settings())
KEY = "CANARY-KEY-7d1f0a9b"


def _everything_recorded(instance: dg.DagsterInstance, run_id: str) -> str:
    records = instance.all_logs(run_id)
    return "\n".join(str(r) for r in records)


def _all_files(root: Path) -> str:
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file()
    )


@pytest.mark.integration
@pytest.mark.parametrize("reply", [IBM_COMPACT, ERROR_MESSAGE])
def test_key_never_leaks(
    reply, market_resources, lake_root: Path, tmp_path: Path, monkeypatch, caplog
):
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)  # urllib3 logs request paths at DEBUG
    instance = dg.DagsterInstance.ephemeral()
    with ReplayServer([Reply.fixture(reply)]) as server:
        resources = {
            **market_resources,
            "alpha_vantage": AlphaVantageResource(
                base_url=server.url, api_key=dg.EnvVar("ALPHAVANTAGE_API_KEY"), plan="premium"
            ),
        }
        result = dg.materialize(
            [*_MARKET_DEFS.assets, *_MARKET_DEFS.asset_checks],
            resources=resources,
            partition_key="2023-11-10|IBM",
            instance=instance,
            raise_on_error=False,
        )
    assert server.queries and server.queries[0]["apikey"] == KEY  # the key was really used
    assert result.success is (reply == IBM_COMPACT)

    recorded = _everything_recorded(instance, result.run_id)
    assert "2023-11-10" in recorded  # we are searching the real records
    assert KEY not in recorded
    assert KEY not in caplog.text
    assert "apikey=***" in caplog.text  # the HTTP library did log the path, redacted
    assert KEY not in _all_files(lake_root)
    assert KEY not in _all_files(tmp_path)
    for event in result.all_events:
        assert KEY not in str(event)
