"""Market fixtures: a replay server with the recorded IBM reply; resources on tmp dirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from finance_platform_tests.market.replay_server import IBM_COMPACT, ReplayServer, Reply


@pytest.fixture(autouse=True)
def _fresh_client_state() -> Iterator[None]:
    from finance_platform.resources.alpha_vantage import reset_process_state

    reset_process_state()
    yield
    reset_process_state()


@pytest.fixture
def ibm_server() -> Iterator[ReplayServer]:
    with ReplayServer([Reply.fixture(IBM_COMPACT)]) as server:
        yield server


@pytest.fixture
def market_resources(lake_root: Path, tmp_path: Path):
    """Lake + DuckDB (warehouse and catalog in one file, as locally) under tmp_path; each test
    adds its Alpha Vantage client."""
    from finance_platform.resources.catalog import DuckDBCatalogResource
    from finance_platform.resources.lake import LakeResource
    from finance_platform.resources.warehouse import DuckDBWarehouseResource

    warehouse = str(tmp_path / "warehouse.duckdb")
    return {
        "lake": LakeResource(root=str(lake_root)),
        "warehouse": DuckDBWarehouseResource(path=warehouse),
        "catalog": DuckDBCatalogResource(path=warehouse),
    }
