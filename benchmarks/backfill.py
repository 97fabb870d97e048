"""A UI backfill of the market group, end to end: sandbox, webserver + daemon, GraphQL.

    .venv/bin/python benchmarks/backfill.py --days 250 --symbols 5 --plan free

Starts the sandbox (the plan's limits: free 5/min and 25/day with the real daily-limit
notice, premium 75/min) as its own process, then `dagster-webserver` and `dagster-daemon`
on a temporary SQLite DAGSTER_HOME, launches `launchPartitionBackfill` for raw_quotes,
curated_quotes and warehouse_daily_quotes over the latest N trading days (the whole
weekday range, as a UI range selection) x S symbols, as the UI does, waits for it and
prints calls (counted by the sandbox), runs, wall time, stored raw bytes and the plan's
floor (calls x the plan's spacing).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLANS = {"free": (5, 25), "premium": (75, 0)}
ASSETS = ["raw_quotes", "curated_quotes", "warehouse_daily_quotes"]

LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
  }
}
"""
STATUS = """
query Status($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status }
  }
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
    ... on Runs { count results { status } }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(url: str, query: str, **variables) -> dict:
    body = json.dumps({"query": query, "variables": variables}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        payload = json.load(resp)
    if payload.get("errors"):
        raise RuntimeError(json.dumps(payload["errors"])[:2000])
    return payload["data"]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--symbols", type=int, default=3)
    parser.add_argument("--plan", choices=sorted(PLANS), default="free")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    per_minute, per_day = PLANS[args.plan]

    from finance_platform.defs.market.partitions import latest_trading_days
    from finance_platform.settings import DEFAULT_SYMBOLS

    symbols = list(DEFAULT_SYMBOLS[: args.symbols])
    days = latest_trading_days(args.days)
    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"backfill-bench-{os.getpid()}"
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "finance_platform.sandbox", "--port", "0"]
        + ["--per-minute", str(per_minute), "--per-day", str(per_day)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    sandbox_url = sandbox.stdout.readline().strip().split(" on ")[-1]
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "FINANCE_LAKE_ROOT": str(root / "lake"),
        "FINANCE_WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
        "FINANCE_SYMBOLS": ",".join(symbols),
        "ALPHAVANTAGE_BASE_URL": sandbox_url,
        "ALPHAVANTAGE_API_KEY": "benchmark",
        "ALPHAVANTAGE_PLAN": args.plan,
        "GX_ANALYTICS_ENABLED": "false",
    }
    port = _free_port()
    log = (root / "services.log").open("w")
    web = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-w", str(REPO / "workspace.yaml")]
        + ["-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    daemon = subprocess.Popen(
        [sys.executable, "-m", "dagster._daemon", "run", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                graphql(url, "{ version }")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        first, last = days[0], days[-1]
        weekdays = [d for d in _weekdays(first, last)]
        partitions = [f"{d}|{s}" for d in weekdays for s in symbols]
        started = time.monotonic()
        launched = graphql(
            url,
            LAUNCH,
            params={
                "partitionNames": partitions,
                "assetSelection": [{"path": [a]} for a in ASSETS],
            },
        )["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(launched)
        backfill_id = launched["backfillId"]
        while True:
            data = graphql(url, STATUS, id=backfill_id)
            status = data["partitionBackfillOrError"]["status"]
            runs = data["runsOrError"]
            if status not in ("REQUESTED",) or time.monotonic() - started > args.timeout:
                break
            time.sleep(2)
        wall = time.monotonic() - started
    finally:
        _stop(daemon)
        _stop(web)
        os.killpg(sandbox.pid, signal.SIGTERM)
        tail = sandbox.stdout.read()
        sandbox.wait(timeout=30)
    served = next((ln for ln in tail.splitlines() if ln.startswith("served")), "served ?")
    calls = int(served.split()[1]) if served.split()[1].isdigit() else -1
    raw_bytes = sum(p.stat().st_size for p in (root / "lake/raw").rglob("*") if p.is_file())
    import duckdb

    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    rows = con.execute("SELECT count(*) FROM market.daily_quotes").fetchone()[0]
    spacing = 60.0 / per_minute
    print(f"backfill {args.days} trading days x {len(symbols)} symbols, plan {args.plan}")
    print(f"  partitions     {len(partitions)} ({len(weekdays)} weekdays x {len(symbols)})")
    print(f"  status         {status}")
    print(f"  calls          {calls} (sandbox: {served})")
    print(f"  runs           {runs['count']} {sorted(r['status'] for r in runs['results'])}")
    print(f"  wall time      {wall:.0f} s ({wall / 60:.1f} min) from launch to done")
    print(f"  raw stored     {raw_bytes / 1e6:.2f} MB")
    print(f"  warehouse rows {rows}")
    print(f"  plan floor     {calls} calls x {spacing:.1f} s = {calls * spacing:.0f} s")
    print(f"  (instance and lake kept in {root})")


def _weekdays(first: str, last: str) -> list[str]:
    import datetime as dt

    d, end, out = dt.date.fromisoformat(first), dt.date.fromisoformat(last), []
    while d <= end:
        if d.weekday() < 5:
            out.append(d.isoformat())
        d += dt.timedelta(days=1)
    return out


if __name__ == "__main__":
    main()
