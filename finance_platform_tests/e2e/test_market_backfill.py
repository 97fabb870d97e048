"""A UI backfill of the market group as a user launches it, on the free plan's limits.

The sandbox runs as its own process with the free plan's limits (5 calls a minute, 25 a
day); ``dagster-webserver`` and ``dagster-daemon`` run on a fresh SQLite instance with an
API key set (so the client's limiter state is shared by every run, as in production) and
``ALPHAVANTAGE_PLAN=free``. The backfill is launched through the webserver's GraphQL
``launchPartitionBackfill`` (what the UI's "Materialize selected" over a range does) for
raw_quotes, curated_quotes and warehouse_daily_quotes over the latest ~8 trading days'
weekday range x 2 symbols, and the daemon does the rest.

What a backfill becomes with BackfillPolicy.single_run on date|symbol partitions: ONE run
per symbol, ranged over every date of the selection, executing all three assets (same
partitions, same policy: Dagster puts them in one run). So 2 symbols = 2 runs = 2 calls.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from finance_platform.defs.market.partitions import QuotePartitions
from finance_platform.sandbox.prices import daily_bars
from finance_platform.settings import load_settings
from finance_platform.transforms.trading_calendar import (
    holiday_name,
    is_trading_day,
    trading_days,
)
from finance_platform_tests.support.services import (
    Process,
    Sandbox,
    Webserver,
    backfill_runs,
    count_by_status,
    graphql,
    instance_env,
    launch_partition_backfill,
    reexecute_run,
    run_tags,
    start_daemon,
    start_webserver,
    stop_all,
    wait_for_backfill,
    wait_for_run,
    weekdays,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
_latest_trading_days = QuotePartitions.from_settings(load_settings()).latest_trading_days

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e" / "market_backfill"
SYMBOLS = ("IBM", "AAPL")
ASSETS = ("raw_quotes", "curated_quotes", "warehouse_daily_quotes")
FREE_PER_MINUTE, FREE_PER_DAY = 5, 25
TRADING_DAYS = 8
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
PARENT_RUN = "dagster/parent_run_id"
# Set by raw_quotes on a quota stop: the daemon's automatic run retry (dagster.yaml) would
# find the same empty quota, so the run opts out of it.
NO_RUN_RETRY = "dagster/retry_on_asset_or_op_failure"


def backfill_dates(n: int = TRADING_DAYS, today: dt.date | None = None) -> list[str]:
    """The weekday range of the latest ``n`` trading days, as a UI range selection picks it.

    When that range holds no market holiday it is moved back to the ``n`` trading days
    around the most recent one (at most ~60 trading days back, so still one compact reply
    per symbol), so the closed-day rule is exercised whatever the date.
    """
    latest = _latest_trading_days(n, today)
    dates = weekdays(latest[0], latest[-1])
    if any(holiday_name(d) for d in dates):
        return dates
    holiday = dt.date.fromisoformat(latest[0])
    while not holiday_name(holiday):
        holiday -= dt.timedelta(days=1)
    before = _latest_trading_days(n - n // 2, holiday)
    after = trading_days(holiday + dt.timedelta(days=1), holiday + dt.timedelta(days=21))
    return weekdays(before[0], after[n // 2 - 1].isoformat())


def test_backfill_window_spans_a_market_holiday():
    for today in (dt.date(2024, 3, 15), dt.date(2024, 12, 2), dt.date(2026, 12, 3)):
        dates = backfill_dates(today=today)
        assert sum(is_trading_day(d) for d in dates) == TRADING_DAYS, (today, dates)
        assert any(holiday_name(d) for d in dates), (today, dates)
        assert dates[-1] <= today.isoformat()


class MarketStack:
    """Sandbox + webserver (+ daemon, started on the first backfill) on a fresh instance."""

    def __init__(self, root: Path, logs: Path, per_day: int) -> None:
        self.root, self.logs = root, logs
        self.env = instance_env(
            root,
            FINANCE_SYMBOLS=",".join(SYMBOLS),
            ALPHAVANTAGE_API_KEY="e2e-test-key",  # a key: the limiter state is shared by runs
            ALPHAVANTAGE_PLAN="free",
        )
        self.sandbox: Sandbox | None = None
        self.web: Webserver | None = None
        self.daemon: Process | None = None
        try:
            self.start_sandbox(per_day)
            self.env["ALPHAVANTAGE_BASE_URL"] = self.sandbox.url
            self.web = start_webserver(self.env, logs / "webserver.log")
            self.web.wait_until_loaded()
        except BaseException:
            self.stop()
            raise

    def start_sandbox(self, per_day: int) -> None:
        """(Re)start the sandbox on the same port (the runs' base URL): a fresh daily count."""
        port = 0
        if self.sandbox is not None:
            port = self.sandbox.port
            self.sandbox.stop()
        self.sandbox = Sandbox.start(
            self.env, self.logs / "sandbox.log", FREE_PER_MINUTE, per_day, port=port
        )

    @property
    def watch(self) -> list[Process]:
        return [p for p in (self.web, self.daemon) if p is not None]

    def backfill(self, dates: list[str]) -> tuple[str, str]:
        """Launch the backfill of the three assets over ``dates`` x SYMBOLS; (id, final status).

        The daemon's backfill loop evaluates backfills every 30 s from its start: starting it
        right after the launch lets its first evaluation pick the backfill up.
        """
        partitions = [f"{d}|{s}" for d in dates for s in SYMBOLS]
        backfill_id = launch_partition_backfill(self.web.url, partitions, ASSETS)
        if self.daemon is None:
            self.daemon = start_daemon(self.env, self.logs / "daemon.log")
        return backfill_id, wait_for_backfill(self.web.url, backfill_id, 300, self.watch)

    def warehouse_rows(self) -> list[tuple[str, str, float]]:
        # Short-lived and read-only: a run writing the file later must not find it locked.
        path = self.env["FINANCE_WAREHOUSE_PATH"]
        with duckdb.connect(path, read_only=True) as con:
            return con.execute(
                "SELECT symbol, CAST(trade_date AS VARCHAR), close FROM market.daily_quotes "
                "ORDER BY symbol, trade_date"
            ).fetchall()

    def stored_replies(self) -> dict[str, int]:
        """Raw replies stored in the lake, per symbol."""
        replies = Path(self.env["FINANCE_LAKE_ROOT"]) / "raw/quotes/replies"
        return {
            folder.name.removeprefix("symbol="): len(list(folder.glob("*.json")))
            for folder in sorted(replies.glob("symbol=*"))
        }

    def stop(self) -> None:
        stop_all(self.daemon, self.web, self.sandbox)


@pytest.fixture
def start_stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator:
    stacks: list[MarketStack] = []
    logs = ARTIFACTS / request.node.name
    shutil.rmtree(logs, ignore_errors=True)

    def start(per_day: int) -> MarketStack:
        stack = MarketStack(tmp_path / "instance", logs, per_day)
        stacks.append(stack)
        return stack

    yield start
    for stack in stacks:
        stack.stop()


# -- what the webserver says ---------------------------------------------------------------
_MATERIALIZATIONS = """
query Mats($key: AssetKeyInput!, $partitions: [String!]) {
  assetOrError(assetKey: $key) {
    __typename
    ... on Asset {
      assetMaterializations(partitions: $partitions) {
        partition
        runId
        metadataEntries { label ...Value }
      }
    }
  }
}
"""
_PARTITION_STATS = """
query Stats($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) {
    assetKey { path }
    partitionStats { numMaterialized numFailed }
  }
}
"""
_STEP_FAILURES = """
query Failures($id: ID!) {
  runOrError(runId: $id) {
    __typename
    ... on Run {
      eventConnection(limit: 20000) {
        events {
          __typename
          ... on ExecutionStepFailureEvent {
            stepKey
            error { message }
            failureMetadata { metadataEntries { label ...Value } }
          }
        }
      }
    }
  }
}
"""
_RUN_MATERIALIZATIONS = """
query RunMats($id: ID!) {
  runOrError(runId: $id) {
    __typename
    ... on Run {
      assetMaterializations { assetKey { path } partition metadataEntries { label ...Value } }
    }
  }
}
"""
_VALUE = """
fragment Value on MetadataEntry {
  __typename
  ... on IntMetadataEntry { intValue }
  ... on TextMetadataEntry { text }
  ... on BoolMetadataEntry { boolValue }
  ... on FloatMetadataEntry { floatValue }
}
"""


def _metadata(entries: list[dict]) -> dict[str, object]:
    fields = ("intValue", "text", "boolValue", "floatValue")
    return {e["label"]: next((e[f] for f in fields if f in e), None) for e in entries}


def _raw_materializations(url: str, partitions: list[str]) -> dict[str, list[dict]]:
    found = graphql(
        url, _MATERIALIZATIONS + _VALUE, key={"path": ["raw_quotes"]}, partitions=partitions
    )["assetOrError"]
    assert found["__typename"] == "Asset", found
    by_partition: dict[str, list[dict]] = {}
    for mat in found["assetMaterializations"]:
        by_partition.setdefault(mat["partition"], []).append(mat)
    return by_partition


def _partition_stats(url: str) -> dict[str, dict]:
    nodes = graphql(url, _PARTITION_STATS, keys=[{"path": [a]} for a in ASSETS])["assetNodes"]
    return {n["assetKey"]["path"][-1]: n["partitionStats"] for n in nodes}


def _step_failures(url: str, run_id: str) -> list[dict]:
    run = graphql(url, _STEP_FAILURES + _VALUE, id=run_id)["runOrError"]
    events = run["eventConnection"]["events"]
    return [e for e in events if e["__typename"] == "ExecutionStepFailureEvent"]


def _raw_run_metadata(url: str, run_id: str) -> dict[str, object]:
    """The run-level metadata raw_quotes reported (identical on each partition it materialized)."""
    mats = graphql(url, _RUN_MATERIALIZATIONS + _VALUE, id=run_id)["runOrError"]
    raw = [m for m in mats["assetMaterializations"] if m["assetKey"]["path"] == ["raw_quotes"]]
    assert raw, f"run {run_id} materialized no raw_quotes partition"
    return _metadata(raw[0]["metadataEntries"])


def _symbol_of(run: dict) -> str:
    tags = run_tags(run)
    start, end = tags[RANGE_START].split("|"), tags[RANGE_END].split("|")
    assert start[1] == end[1], f"a run spans symbols: {tags}"
    return start[1]


def _expected_closes(dates: list[str]) -> dict[tuple[str, str], float]:
    """What the sandbox serves as close for each (symbol, trading day), from its price module.

    (A day's bar never depends on the as-of date asked for: the walk starts in 2000.)
    """
    as_of = dt.date.fromisoformat(dates[-1])
    wanted = {d for d in dates if is_trading_day(d)}
    return {
        (symbol, bar.day.isoformat()): bar.close
        for symbol in SYMBOLS
        for bar in daily_bars(symbol, as_of)
        if bar.day.isoformat() in wanted
    }


def _assert_warehouse_matches_sandbox(rows, dates: list[str], symbols=SYMBOLS) -> None:
    expected = {k: v for k, v in _expected_closes(dates).items() if k[0] in symbols}
    keys = [(symbol, day) for symbol, day, _ in rows]
    assert len(keys) == len(set(keys)), "duplicate (symbol, day) rows in market.daily_quotes"
    assert set(keys) == set(expected), {
        "missing": sorted(set(expected) - set(keys)),
        "unexpected": sorted(set(keys) - set(expected)),
    }
    wrong = {(s, d): (c, expected[(s, d)]) for s, d, c in rows if c != expected[(s, d)]}
    assert not wrong, f"close in the warehouse != close the sandbox serves: {wrong}"
    closed = [d for d in dates if not is_trading_day(d)]
    assert not [k for k in keys if k[1] in closed], "a market-closed day has rows"


# -- the tests -----------------------------------------------------------------------------
def test_a_ui_backfill_costs_one_call_per_symbol_and_stores_what_the_sandbox_served(start_stack):
    dates = backfill_dates()
    closed = [d for d in dates if not is_trading_day(d)]
    partitions = [f"{d}|{s}" for d in dates for s in SYMBOLS]
    stack = start_stack(per_day=FREE_PER_DAY)

    backfill_id, status = stack.backfill(dates)

    url = stack.web.url
    runs = backfill_runs(url, backfill_id)
    assert status == "COMPLETED_SUCCESS", (status, count_by_status(runs))
    # One run per symbol, each ranged over every date and executing all three assets.
    assert count_by_status(runs) == {"SUCCESS": len(SYMBOLS)}, runs
    assert {_symbol_of(r) for r in runs} == set(SYMBOLS)
    for run in runs:
        tags, symbol = run_tags(run), _symbol_of(run)
        assert (tags[RANGE_START], tags[RANGE_END]) == (
            f"{dates[0]}|{symbol}",
            f"{dates[-1]}|{symbol}",
        )
        assert sorted(a["path"][-1] for a in run["assetSelection"]) == sorted(ASSETS)
    # Every partition of every asset materialized; each raw partition exactly once.
    stats = _partition_stats(url)
    assert stats == {a: {"numMaterialized": len(partitions), "numFailed": 0} for a in ASSETS}
    raw = _raw_materializations(url, partitions)
    assert sorted(raw) == sorted(partitions)
    assert all(len(m) == 1 for m in raw.values()), {p: len(m) for p, m in raw.items()}
    for partition, (mat,) in raw.items():
        meta = _metadata(mat["metadataEntries"])
        assert meta["market_closed"] is (partition.split("|")[0] in closed), (partition, meta)

    counts = stack.sandbox.stop()  # before computing expectations: those make no call anyway
    assert counts.served == len(SYMBOLS), counts  # one call per symbol, whatever the range
    assert counts.throttled == 0, counts  # the client kept to 5/min on its own
    _assert_warehouse_matches_sandbox(stack.warehouse_rows(), dates)


def test_the_daily_quota_stops_a_backfill_cleanly_and_a_reexecution_finishes_it(start_stack):
    dates = backfill_dates()
    stack = start_stack(per_day=1)  # the key's daily quota: one call left

    backfill_id, status = stack.backfill(dates)

    url = stack.web.url
    runs = backfill_runs(url, backfill_id)
    originals = [r for r in runs if PARENT_RUN not in run_tags(r)]
    retries = [r for r in runs if PARENT_RUN in run_tags(r)]
    assert status == "COMPLETED_FAILED", (status, count_by_status(runs))
    assert count_by_status(originals) == {"SUCCESS": 1, "FAILURE": 1}, originals
    (fitted,) = [r for r in originals if r["status"] == "SUCCESS"]
    (failed,) = [r for r in originals if r["status"] == "FAILURE"]
    stored, refused = _symbol_of(fitted), _symbol_of(failed)
    # No automatic retry (dagster.yaml run_retries): the stopped run opted out of it.
    assert retries == [], retries
    assert run_tags(failed)[NO_RUN_RETRY] == "false"
    assert run_tags(failed)["finance/stopped_by_daily_quota"] == "true"
    # The failure says what the quota left undone.
    (failure,) = _step_failures(url, failed["runId"])
    assert failure["stepKey"] == "raw_quotes"
    meta = _metadata(failure["failureMetadata"]["metadataEntries"])
    assert meta["calls_needed"] == 1, meta
    assert meta["symbols_not_fetched"] == refused, meta
    # The service's daily-limit notice has the last word: the shared quota now reads spent.
    assert meta["quota_remaining"] == 0, meta
    assert "daily request limit reached" in failure["error"]["message"], failure["error"]
    assert refused in failure["error"]["message"]

    counts = stack.sandbox.stop()
    # One call served; the refused run asked once more, and nothing asked after that.
    assert (counts.served, counts.throttled) == (1, 1), counts
    assert stack.stored_replies() == {stored: 1}
    _assert_warehouse_matches_sandbox(stack.warehouse_rows(), dates, symbols=(stored,))

    # The next day: a fresh quota at the service, and the client's shared limiter state
    # (DAGSTER_HOME/alpha_vantage_limits/<host_port>-<per-minute>-<per-day>.json) rolled over.
    stack.start_sandbox(per_day=1)
    state_dir = Path(stack.env["DAGSTER_HOME"]) / "alpha_vantage_limits"
    (state_file,) = state_dir.glob("*.json")
    limits = f"{FREE_PER_MINUTE}-{FREE_PER_DAY}"
    assert state_file.name == f"127.0.0.1_{stack.sandbox.port}-{limits}.json"
    state = json.loads(state_file.read_text())
    assert state["count"] == FREE_PER_DAY  # the service's notice marked the day spent
    state["day"] = (dt.date.fromisoformat(state["day"]) - dt.timedelta(days=1)).isoformat()
    state_file.write_text(json.dumps(state))

    rerun_id = reexecute_run(url, failed["runId"], "FROM_FAILURE")
    rerun = wait_for_run(url, rerun_id, 240, stack.watch)

    assert rerun["status"] == "SUCCESS", rerun
    assert sorted(a["path"][-1] for a in rerun["assetSelection"]) == sorted(ASSETS)
    assert _raw_run_metadata(url, rerun_id)["quota_remaining_before"] == FREE_PER_DAY
    counts = stack.sandbox.stop()
    assert (counts.served, counts.throttled) == (1, 0), counts  # exactly one more call
    assert stack.stored_replies() == {s: 1 for s in SYMBOLS}
    partitions = [f"{d}|{s}" for d in dates for s in SYMBOLS]
    raw = _raw_materializations(url, partitions)
    assert sorted(raw) == sorted(partitions)
    assert all(len(m) == 1 for m in raw.values()), {p: len(m) for p, m in raw.items()}
    _assert_warehouse_matches_sandbox(stack.warehouse_rows(), dates)
