"""The market definitions as users see them: keys, partitions, job, schedule, CLI backfill."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from finance_platform.definitions import build_definitions
from finance_platform.defs.market.partitions import QuotePartitions
from finance_platform.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SETTINGS = Settings()  # the local defaults, built in-process
PARTITIONS = QuotePartitions.from_settings(SETTINGS)
quote_partitions = PARTITIONS.definition
latest_trading_days = PARTITIONS.latest_trading_days


def _repo(settings: Settings = SETTINGS) -> dg.RepositoryDefinition:
    return build_definitions(settings).get_repository_def()


def _after_close(settings: Settings = SETTINGS) -> dg.ScheduleDefinition:
    return _repo(settings).get_schedule_def("market_quotes_after_close")


def test_assets_keys_group_and_partitions():
    repo = _repo()
    graph = repo.asset_graph
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"raw_quotes", "curated_quotes", "warehouse_daily_quotes"} <= keys
    for name in ("raw_quotes", "curated_quotes", "warehouse_daily_quotes"):
        node = graph.get(dg.AssetKey(name))
        assert node.group_name == "market"
        assert node.partitions_def == quote_partitions
        assert node.owners and node.code_version and node.tags.get("layer")
    job = repo.get_job("market_quotes_job")
    assert job.partitions_def == quote_partitions
    assert job.tags["finance/data_source"] == "synthetic-sandbox"  # no key in tests
    assert quote_partitions.has_partition_key("2023-11-10|IBM")


def test_every_rule_of_the_suite_is_named_by_the_one_partitioned_check_on_raw_quotes():
    graph = _repo().asset_graph
    keys = [k for k in graph.asset_check_keys if k.asset_key == dg.AssetKey("raw_quotes")]
    assert [k.name for k in keys] == ["stock_data_suite"]
    (node,) = [
        spec
        for c in build_definitions(SETTINGS).asset_checks or []
        for spec in c.check_specs
        if spec.asset_key == dg.AssetKey("raw_quotes")
    ]
    assert node.blocking and node.partitions_def is not None
    for rule in ("high_non_negative", "trade_date_not_null", "row_count_between_1_and_10000"):
        assert f"`{rule}`" in node.description
    assert "`partition_bar_present`" in node.description


def test_latest_trading_days_skips_weekends_and_holidays():
    assert latest_trading_days(3, dt.date(2023, 11, 27)) == [
        "2023-11-22",
        "2023-11-24",
        "2023-11-27",
    ]
    assert latest_trading_days(0) == []


def test_schedule_requests_every_symbol_after_the_close_and_skips_holidays():
    ctx = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2023, 11, 10, 17, 30, tzinfo=dt.UTC)
    )
    requests = _after_close()(ctx)
    assert [r.partition_key for r in requests][:2] == ["2023-11-10|IBM", "2023-11-10|AAPL"]
    assert len(requests) == 5
    holiday = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2023, 11, 23, 17, 30, tzinfo=dt.UTC)
    )
    assert isinstance(_after_close()(holiday), dg.SkipReason)


def test_other_symbols_and_start_are_one_answer_for_every_market_definition():
    """Built in-process from other settings: partitions, job, schedule and plan order agree."""
    settings = Settings(symbols=("TSLA", "IBM"), quotes_start=dt.date(2023, 11, 1))
    repo = _repo(settings)
    partitions = QuotePartitions.from_settings(settings)
    for name in ("raw_quotes", "curated_quotes", "warehouse_daily_quotes"):
        assert repo.asset_graph.get(dg.AssetKey(name)).partitions_def == partitions.definition
    assert repo.get_job("market_quotes_job").partitions_def == partitions.definition
    (check,) = [
        c
        for c in build_definitions(settings).asset_checks or []
        if c.node_def.name == "raw_quotes_quality"
    ]
    assert next(iter(check.check_specs)).partitions_def == partitions.definition
    assert partitions.definition.has_partition_key("2023-11-10|TSLA")
    assert not partitions.definition.has_partition_key("2023-10-31|TSLA")  # before the start
    ctx = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2023, 11, 10, 17, 30, tzinfo=dt.UTC)
    )
    requests = _after_close(settings)(ctx)
    assert [r.partition_key for r in requests] == ["2023-11-10|TSLA", "2023-11-10|IBM"]
    keys = ["2023-11-10|IBM", "2023-11-09|TSLA", "2023-11-10|TSLA"]
    assert list(partitions.dates_by_symbol(keys)) == ["TSLA", "IBM"]
    assert partitions.latest_trading_days(10, dt.date(2023, 11, 3)) == [
        "2023-11-01",
        "2023-11-02",
        "2023-11-03",
    ]


@pytest.mark.slow
@pytest.mark.integration
def test_cli_backfill_of_one_partition(tmp_path: Path):
    """`dagster asset materialize ... --partition '2023-11-10|IBM'` on the local defaults."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALPHAVANTAGE_", "FINANCE_", "DAGSTER_"))
    }
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    env.update(
        DAGSTER_HOME=str(home),
        FINANCE_LAKE_ROOT=str(tmp_path / "lake"),
        FINANCE_WAREHOUSE_PATH=str(tmp_path / "wh.duckdb"),
        FINANCE_SYMBOLS="IBM,AAPL",
        GX_ANALYTICS_ENABLED="false",
    )
    cmd = [
        str(Path(sys.executable).parent / "dagster"),
        "asset",
        "materialize",
        "-m",
        "finance_platform.definitions",
        "--select",
        "raw_quotes*",
        "--partition",
        "2023-11-10|IBM",
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    index = json.loads(
        (tmp_path / "lake/raw/quotes/index/symbol=IBM/date=2023-11-10.json").read_text()
    )
    replies = list((tmp_path / "lake/raw/quotes/replies/symbol=IBM").glob("sha256=*.json"))
    assert [r.name for r in replies] == [f"sha256={index['sha256']}.json"]  # one reply, indexed
    assert (tmp_path / f"lake/validation/quotes/symbol=IBM/sha256={index['sha256']}.json").exists()
    import duckdb

    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    rows = con.execute("SELECT symbol, trade_date, source FROM market.daily_quotes").fetchall()
    assert rows == [("IBM", dt.date(2023, 11, 10), "sandbox")]
