"""Materializing the market lineage on a temporary lake and DuckDB warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from finance_platform.defs import market
from finance_platform.resources.alpha_vantage import AlphaVantageResource
from finance_platform.settings import Settings
from finance_platform_tests.market.replay_server import (
    IBM_COMPACT,
    ReplayServer,
    Reply,
    fixture_bytes,
)

PARTITION = "2023-11-10|IBM"
_MARKET_DEFS = market.build_defs(Settings())
MARKET = [*_MARKET_DEFS.assets, *_MARKET_DEFS.asset_checks]


def _client(url: str, key: str = "test-key") -> AlphaVantageResource:
    return AlphaVantageResource(base_url=url, api_key=key, plan="premium", backoff_seconds=0.01)


def _materialize(resources: dict, partition: str = PARTITION, raise_on_error: bool = True):
    return dg.materialize(
        MARKET,
        resources=resources,
        partition_key=partition,
        raise_on_error=raise_on_error,
        instance=dg.DagsterInstance.ephemeral(),
    )


def _warehouse_rows(resources: dict):
    return resources["warehouse"].query(
        "SELECT * FROM market.daily_quotes ORDER BY symbol, trade_date"
    )


@pytest.mark.integration
def test_partition_flows_from_reply_to_warehouse(ibm_server, market_resources, lake_root: Path):
    resources = {**market_resources, "alpha_vantage": _client(ibm_server.url)}
    result = _materialize(resources)
    assert result.success

    entry = json.loads((lake_root / "raw/quotes/index/symbol=IBM/date=2023-11-10.json").read_text())
    raw_file = lake_root / entry["reply_path"]
    assert raw_file.read_bytes() == fixture_bytes(IBM_COMPACT)  # exactly as received
    assert raw_file.name == f"sha256={entry['sha256']}.json"
    raw_meta = result.asset_materializations_for_node("raw_quotes")[0].metadata
    assert raw_meta["reply"].value == entry["reply_path"]
    assert raw_meta["synthetic"].value is False
    assert raw_meta["calls_made"].value == 1
    assert "apikey" not in json.dumps(raw_meta["requests"].value)

    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "stock_data_suite" and check.passed
    assert check.partition == "2023-11-10|IBM"
    assert check.metadata["rules_passed"].value == 16
    assert check.metadata["rows_validated"].value == 100

    validation = json.loads(
        (lake_root / f"validation/quotes/symbol=IBM/sha256={entry['sha256']}.json").read_text()
    )
    assert validation["success"] is True and validation["rows"] == 100

    curated_dir = lake_root / "curated/quotes/symbol=IBM/trade_date=2023-11-10"
    curated = list(curated_dir.glob("*.parquet"))
    assert len(curated) == 1
    curated_meta = result.asset_materializations_for_node("curated_quotes")[0].metadata
    assert curated_meta["dagster/row_count"].value == 1
    assert "data:image/png;base64," in curated_meta["price_chart"].value
    # registered by name where analysts look: the same SQL would run on Athena
    assert curated_meta["catalog_table"].value == "market_curated_db.daily_quotes"
    assert curated_meta["catalog_partitions"].value == 1
    import duckdb

    con = duckdb.connect(resources["catalog"].path, read_only=True)
    try:
        assert con.execute(
            "select symbol, trade_date, close from market_curated_db.daily_quotes"
        ).fetchall() == [("IBM", "2023-11-10", 152.31)]
    finally:
        con.close()

    rows = _warehouse_rows(resources)
    assert len(rows) == 1
    bar = rows.iloc[0]
    assert (bar["symbol"], str(bar["trade_date"])[:10]) == ("IBM", "2023-11-10")
    assert (bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"]) == (
        151.2,
        152.75,
        150.1,
        152.31,
        4018233,
    )
    assert bar["source"] == "alphavantage"
    # every warehouse column traces back to the curated column of the same name
    wh_meta = result.asset_materializations_for_node("warehouse_daily_quotes")[0].metadata
    lineage = wh_meta["dagster/column_lineage"].value.deps_by_column
    assert set(lineage) == set(rows.columns)
    assert {(d.asset_key.to_user_string(), d.column_name) for d in lineage["close"]} == {
        ("curated_quotes", "close")
    }


@pytest.mark.integration
def test_rerunning_a_partition_replaces_it_without_duplicates(ibm_server, market_resources):
    resources = {**market_resources, "alpha_vantage": _client(ibm_server.url)}
    assert _materialize(resources).success
    assert _materialize(resources).success
    assert _materialize(resources, "2023-11-09|IBM").success
    rows = _warehouse_rows(resources)
    assert [str(d)[:10] for d in rows["trade_date"]] == ["2023-11-09", "2023-11-10"]


@pytest.mark.integration
def test_market_holiday_is_an_explicit_closed_result_with_zero_rows(
    ibm_server, market_resources, lake_root: Path
):
    resources = {**market_resources, "alpha_vantage": _client(ibm_server.url)}
    result = _materialize(resources, "2023-11-23|IBM")  # Thanksgiving
    assert result.success
    assert ibm_server.queries == []  # no request spent on a closed market
    meta = result.asset_materializations_for_node("raw_quotes")[0].metadata
    assert meta["market_closed"].value is True
    assert meta["closed_reason"].value == "Thanksgiving"
    assert meta["dagster/row_count"].value == 0
    assert all(e.passed for e in result.get_asset_check_evaluations())
    wh_meta = result.asset_materializations_for_node("warehouse_daily_quotes")[0].metadata
    assert wh_meta["dagster/row_count"].value == 0
    assert not (lake_root / "raw/quotes/replies").exists()


def _corrupted_reply() -> bytes:
    payload = json.loads(fixture_bytes(IBM_COMPACT))
    payload["Time Series (Daily)"]["2023-11-09"]["2. high"] = "-1.0000"
    return json.dumps(payload).encode()


@pytest.mark.integration
def test_blocking_check_failure_stops_curated_and_warehouse(market_resources, lake_root: Path):
    with ReplayServer([Reply(_corrupted_reply())]) as server:
        resources = {**market_resources, "alpha_vantage": _client(server.url)}
        # the corrupted bar's own day: a row-level rule fails the day whose bar broke it
        result = _materialize(resources, "2023-11-09|IBM", raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    rules = evaluation.metadata["failed_rules"].value.split(", ")
    assert "high_non_negative" in rules and "close_at_most_high" in rules
    failures = {f["rule"]: f for f in evaluation.metadata["failures"].value}
    assert failures["high_non_negative"]["unexpected_count"] == 1
    assert result.asset_materializations_for_node("curated_quotes") == []
    assert result.asset_materializations_for_node("warehouse_daily_quotes") == []
    assert not (lake_root / "curated/quotes").exists()


@pytest.mark.integration
def test_missing_bar_for_the_partition_day_blocks_downstream(ibm_server, market_resources):
    resources = {**market_resources, "alpha_vantage": _client(ibm_server.url)}
    # 2023-11-13 is a trading day after the fixture's last bar (2023-11-10).
    result = _materialize(resources, "2023-11-13|IBM", raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["failed_rules"].value == "partition_bar_present"
    assert "not published yet" in evaluation.description
    assert result.asset_materializations_for_node("warehouse_daily_quotes") == []


@pytest.mark.integration
def test_without_a_key_the_sandbox_serves_synthetic_data_and_says_so(market_resources):
    from finance_platform.defs.market.partitions import QuotePartitions

    day = QuotePartitions.from_settings(Settings()).latest_trading_days(1)[0]
    resources = {**market_resources, "alpha_vantage": AlphaVantageResource()}
    result = _materialize(resources, f"{day}|AAPL")
    assert result.success
    raw_meta = result.asset_materializations_for_node("raw_quotes")[0].metadata
    assert raw_meta["synthetic"].value is True
    assert "SYNTHETIC" in raw_meta["data_source"].value
    assert "SYNTHETIC" in raw_meta["warning"].value
    assert result.asset_materializations_for_node("curated_quotes")[0].metadata["source"].value == (
        "sandbox"
    )
    rows = _warehouse_rows(resources)
    assert list(rows["source"]) == ["sandbox"]


@pytest.mark.integration
def test_daily_limit_fails_the_run_at_once_with_a_clear_message(market_resources):
    from finance_platform_tests.market.replay_server import DAILY_LIMIT

    with ReplayServer([Reply.fixture(DAILY_LIMIT)]) as server:
        resources = {**market_resources, "alpha_vantage": _client(server.url)}
        result = _materialize(resources, raise_on_error=False)
    assert not result.success
    assert len(server.queries) == 1  # no retry storm
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    text = str(failure.event_specific_data.error)
    assert "daily_limit" in text and "daily request limit" in text


@pytest.mark.integration
def test_curated_lake_table_reads_back_with_hive_partitions(
    ibm_server, market_resources, lake_root
):
    import duckdb

    resources = {**market_resources, "alpha_vantage": _client(ibm_server.url)}
    assert _materialize(resources).success
    assert _materialize(resources, "2023-11-09|IBM").success
    glob = str(lake_root / "curated/quotes/**/*.parquet")
    rows = duckdb.sql(
        f"SELECT symbol, trade_date, close FROM read_parquet('{glob}', hive_partitioning=true) "
        "ORDER BY trade_date"
    ).fetchall()
    assert [(s, str(d), c) for s, d, c in rows] == [
        ("IBM", "2023-11-09", 150.72),
        ("IBM", "2023-11-10", 152.31),
    ]
