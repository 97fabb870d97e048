"""A UI backfill of the market group, end to end: sandbox, webserver + daemon, GraphQL.

    .venv/bin/python benchmarks/backfill.py --days 250 --symbols 5 --plan free

Starts the sandbox (the plan's limits: free 5/min and 25/day with the real daily-limit
notice, premium 75/min) as its own process, then `dagster-webserver` and `dagster-daemon`
on a temporary SQLite DAGSTER_HOME, launches `launchPartitionBackfill` for raw_quotes,
curated_quotes and warehouse_daily_quotes over the latest N trading days (the whole
weekday range, as a UI range selection) x S symbols, as the UI does, waits for it and
prints calls (counted by the sandbox), runs, wall time, stored raw bytes and the plan's
floor (calls x the plan's spacing). The daemon starts right after the launch: its backfill
loop evaluates backfills every 30 s from its start, so the wall time carries no 0-30 s of
luck. Processes come from finance_platform_tests/support/services.py, as in the e2e tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's finance_platform and its test support

from finance_platform_tests.support.services import (  # noqa: E402
    Sandbox,
    backfill_runs,
    count_by_status,
    instance_env,
    launch_partition_backfill,
    start_daemon,
    start_webserver,
    stop_all,
    wait_for_backfill,
    weekdays,
)

PLANS = {"free": (5, 25), "premium": (75, 0)}
ASSETS = ["raw_quotes", "curated_quotes", "warehouse_daily_quotes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--symbols", type=int, default=3)
    parser.add_argument("--plan", choices=sorted(PLANS), default="free")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    per_minute, per_day = PLANS[args.plan]

    from finance_platform.defs.market.partitions import QuotePartitions
    from finance_platform.settings import DEFAULT_SYMBOLS, load_settings

    symbols = list(DEFAULT_SYMBOLS[: args.symbols])
    days = QuotePartitions.from_settings(load_settings()).latest_trading_days(args.days)
    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"backfill-bench-{os.getpid()}"
    env = instance_env(
        root,
        FINANCE_SYMBOLS=",".join(symbols),
        ALPHAVANTAGE_API_KEY="benchmark",
        ALPHAVANTAGE_PLAN=args.plan,
    )
    log = root / "services.log"
    sandbox = Sandbox.start(env, log, per_minute, per_day)
    env["ALPHAVANTAGE_BASE_URL"] = sandbox.url
    web = start_webserver(env, log)
    daemon = None
    try:
        web.wait_until_loaded(timeout=300)
        weekday_dates = weekdays(days[0], days[-1])
        partitions = [f"{d}|{s}" for d in weekday_dates for s in symbols]
        started = time.monotonic()
        backfill_id = launch_partition_backfill(web.url, partitions, ASSETS)
        # Started after the launch: its backfill loop (every 30 s) evaluates it at once.
        daemon = start_daemon(env, log)
        status = wait_for_backfill(web.url, backfill_id, args.timeout, [web, daemon])
        wall = time.monotonic() - started
        runs = backfill_runs(web.url, backfill_id)
    finally:
        stop_all(daemon, web, sandbox)
    counts = sandbox.stop()
    raw_bytes = sum(p.stat().st_size for p in (root / "lake/raw").rglob("*") if p.is_file())
    import duckdb

    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    rows = con.execute("SELECT count(*) FROM market.daily_quotes").fetchone()[0]
    spacing = 60.0 / per_minute
    served = f"served {counts.served} throttled {counts.throttled} requests {counts.requests}"
    print(f"backfill {args.days} trading days x {len(symbols)} symbols, plan {args.plan}")
    print(f"  partitions     {len(partitions)} ({len(weekday_dates)} weekdays x {len(symbols)})")
    print(f"  status         {status}")
    print(f"  calls          {counts.served} (sandbox: {served})")
    print(f"  runs           {len(runs)} {count_by_status(runs)}")
    print(f"  wall time      {wall:.0f} s ({wall / 60:.1f} min) from launch to done")
    print(f"  raw stored     {raw_bytes / 1e6:.2f} MB")
    print(f"  warehouse rows {rows}")
    floor = counts.served * spacing
    print(f"  plan floor     {counts.served} calls x {spacing:.1f} s = {floor:.0f} s")
    print(f"  (instance and lake kept in {root})")


if __name__ == "__main__":
    main()
