"""Shared fixtures: every test gets its own lake, warehouse and Dagster home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests must never see a developer's real key or webhook, nor write into the repo's .lake.
_ISOLATED_VARS = (
    "ALPHAVANTAGE_API_KEY",
    "ALPHAVANTAGE_BASE_URL",
    "SLACK_WEBHOOK_URL",
    "SLACK_BOT_TOKEN",
    "FINANCE_ENV",
    "FINANCE_ENGINE",
    "FINANCE_SYMBOLS",
    "FINANCE_QUOTES_START",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in _ISOLATED_VARS:
        monkeypatch.delenv(name, raising=False)
    lake = tmp_path / "lake"
    monkeypatch.setenv("FINANCE_LAKE_ROOT", str(lake))
    monkeypatch.setenv("FINANCE_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "false")
    return lake


@pytest.fixture
def lake_root(isolated_env: Path) -> Path:
    return isolated_env


@pytest.fixture
def lake(lake_root: Path):
    from finance_platform.resources.lake import LakeResource

    return LakeResource(root=str(lake_root))


def pytest_report_header(config: pytest.Config) -> str:
    return f"JAVA_HOME={os.environ.get('JAVA_HOME', '(unset)')}"
