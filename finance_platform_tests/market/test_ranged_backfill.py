"""Ranged runs (what a single-run backfill launches) against the real sandbox over HTTP."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from finance_platform.defs import market
from finance_platform.resources.alpha_vantage import AlphaVantageResource
from finance_platform.sandbox.server import SandboxServer
from finance_platform.settings import Settings
from finance_platform.transforms.trading_calendar import trading_days

pytestmark = pytest.mark.integration

_MARKET_DEFS = market.build_defs(Settings())
MARKET = [*_MARKET_DEFS.assets, *_MARKET_DEFS.asset_checks]
AS_OF = dt.date(2024, 6, 28)
FIRST, LAST = "2024-06-03", "2024-06-28"  # 20 weekday partitions, Juneteenth closed
SYMBOLS = ("IBM", "AAPL")


def _range_tags(first: str, last: str, symbols=SYMBOLS) -> dict[str, str]:
    return {
        ASSET_PARTITION_RANGE_START_TAG: f"{first}|{symbols[0]}",
        ASSET_PARTITION_RANGE_END_TAG: f"{last}|{symbols[-1]}",
    }


def _client(url: str, state_dir: Path, per_day: int | None = None) -> AlphaVantageResource:
    return AlphaVantageResource(
        base_url=url,
        api_key="test-key",
        plan="premium",
        requests_per_day=per_day,
        limiter_state_dir=str(state_dir),
        reply_cache_seconds=0,
        backoff_seconds=0.01,
    )


def _run(resources: dict, instance, tags=None, raise_on_error=True):
    return dg.materialize(
        MARKET,
        resources=resources,
        instance=instance,
        tags=tags or _range_tags(FIRST, LAST),
        raise_on_error=raise_on_error,
    )


def _rows(resources: dict):
    return resources["warehouse"].query(
        "SELECT symbol, CAST(trade_date AS VARCHAR) AS d, close FROM market.daily_quotes "
        "ORDER BY symbol, d"
    )


@pytest.fixture
def sandbox():
    with SandboxServer(per_minute=None, as_of=AS_OF) as server:
        yield server


def test_a_range_costs_one_call_per_symbol_and_each_reply_is_stored_once(
    sandbox, market_resources, lake_root: Path, tmp_path: Path
):
    resources = {**market_resources, "alpha_vantage": _client(sandbox.url, tmp_path / "limits")}
    instance = dg.DagsterInstance.ephemeral()
    result = _run(resources, instance)
    assert result.success
    assert sandbox.limits.served == len(SYMBOLS)
    replies = sorted((lake_root / "raw/quotes/replies").rglob("*.json"))
    assert [p.parent.name for p in replies] == sorted(f"symbol={s}" for s in SYMBOLS)
    open_days = [d.isoformat() for d in trading_days(FIRST, LAST)]
    # every trading day's index entry names the one stored reply of its symbol
    for symbol in SYMBOLS:
        for day in open_days:
            entry = json.loads(
                (lake_root / f"raw/quotes/index/symbol={symbol}/date={day}.json").read_text()
            )
            assert entry["bar_present"] is True
            assert (lake_root / entry["reply_path"]).exists()
    # one materialization per partition (holiday included), each saying which reply
    mats = result.asset_materializations_for_node("raw_quotes")
    assert len(mats) == 20 * len(SYMBOLS)
    holiday = next(m for m in mats if m.partition == "2024-06-19|IBM")
    assert holiday.metadata["market_closed"].value is True
    # the warehouse holds the closes the sandbox served, one row per (day, symbol)
    rows = _rows(resources)
    assert len(rows) == len(open_days) * len(SYMBOLS)
    for symbol in SYMBOLS:
        body = json.loads(
            next(p for p in replies if p.parent.name == f"symbol={symbol}").read_bytes()
        )
        series = body["Time Series (Daily)"]
        got = rows[rows["symbol"] == symbol]
        assert list(got["d"]) == open_days
        assert list(got["close"]) == [float(series[d]["4. close"]) for d in open_days]
    # the check has exactly one evaluation for every partition of the range
    evaluations = result.get_asset_check_evaluations()
    assert sorted(e.partition for e in evaluations) == sorted(m.partition for m in mats)
    assert all(e.passed for e in evaluations)


def test_rerunning_a_range_makes_no_call_and_never_duplicates_or_drops_rows(
    sandbox, market_resources, tmp_path: Path
):
    resources = {**market_resources, "alpha_vantage": _client(sandbox.url, tmp_path / "limits")}
    instance = dg.DagsterInstance.ephemeral()
    assert _run(resources, instance).success
    before = _rows(resources)
    served = sandbox.limits.served
    # the same range, and an overlapping one, again
    assert _run(resources, instance).success
    assert _run(resources, instance, _range_tags("2024-06-10", "2024-06-14")).success
    assert sandbox.limits.served == served  # the lake already holds every day
    after = _rows(resources)
    assert after.equals(before)
    assert not after.duplicated(["symbol", "d"]).any()


def test_quota_is_planned_stops_cleanly_and_the_next_day_resumes(
    sandbox, market_resources, lake_root: Path, tmp_path: Path
):
    state_dir = tmp_path / "limits"
    resources = {**market_resources, "alpha_vantage": _client(sandbox.url, state_dir, per_day=1)}
    instance = dg.DagsterInstance.ephemeral()
    result = _run(resources, instance, raise_on_error=False)
    assert not result.success
    assert sandbox.limits.served == 1  # what fitted, and not one call more
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "raw_quotes"
    data = failure.step_failure_data
    meta = data.user_failure_data.metadata
    assert meta["calls_needed"].value == 2
    assert meta["quota_remaining_before"].value == 1
    assert meta["quota_remaining"].value == 0  # IBM's call spent the last one
    assert meta["symbols_not_fetched"].value == "AAPL"
    assert "daily quota" in data.error.message
    assert len(list((lake_root / "raw/quotes/replies").rglob("*.json"))) == 1  # IBM kept
    # The next day: the shared limiter state rolls over; the re-run fetches only AAPL.
    (state,) = state_dir.glob("*.json")
    saved = json.loads(state.read_text())
    saved["day"] = (dt.date.fromisoformat(saved["day"]) - dt.timedelta(days=1)).isoformat()
    state.write_text(json.dumps(saved))
    assert _run(resources, instance).success
    assert sandbox.limits.served == 2
    assert len(_rows(resources)) == len(trading_days(FIRST, LAST)) * len(SYMBOLS)


def test_checks_say_which_day_and_symbol_failed_and_why(
    market_resources, lake_root: Path, tmp_path: Path
):
    from finance_platform_tests.market.replay_server import ReplayServer, Reply

    with SandboxServer(per_minute=None, as_of=AS_OF) as server:
        _, _, body = server.respond(
            {"function": "TIME_SERIES_DAILY", "symbol": "IBM", "outputsize": "full", "apikey": "k"}
        )
    payload = json.loads(body)
    payload["Time Series (Daily)"]["2024-06-12"]["2. high"] = "-1.0000"
    with ReplayServer([Reply(json.dumps(payload).encode())]) as replay:
        resources = {**market_resources, "alpha_vantage": _client(replay.url, tmp_path / "l")}
        result = _run(
            resources,
            dg.DagsterInstance.ephemeral(),
            _range_tags("2024-06-10", "2024-06-14", ("IBM",)),
            raise_on_error=False,
        )
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [e.partition for e in failed] == ["2024-06-12|IBM"]
    (bad,) = failed
    failures = {f["rule"]: f for f in bad.metadata["failures"].value}
    assert failures["high_non_negative"]["failed_because"] == "the bar of 2024-06-12 broke the rule"
    assert bad.metadata["trade_date"].value == "2024-06-12"
    assert bad.metadata["symbol"].value == "IBM"
    assert "2024-06-12|IBM" in (bad.description or "")
    assert "high_non_negative" in (bad.description or "")
    passed = [e for e in result.get_asset_check_evaluations() if e.passed]
    assert {e.partition for e in passed} >= {"2024-06-11|IBM", "2024-06-13|IBM"}
    assert result.asset_materializations_for_node("warehouse_daily_quotes") == []
