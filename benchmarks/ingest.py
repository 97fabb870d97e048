"""Ingest throughput against the local sandbox enforcing the same per-minute limit as the client.

    .venv/bin/python benchmarks/ingest.py --symbols 5 --days 30 --limit 120 --threads 2

N symbols x M days = N*M requests (one per partition, reply cache off) through
the real client, with T threads sharing the in-process limiter. Reports the
achieved request rate against the limit (goal >= 95 % with zero throttling
notices) and the client's own per-request overhead.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from finance_platform.resources.alpha_vantage import AlphaVantageResource, reset_process_state

SYMBOLS = ["IBM", "AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "JPM", "V"]


def start_sandbox(per_minute: int) -> tuple[subprocess.Popen, str]:
    """The sandbox in its own process (as a separate service would be), on a free port."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "finance_platform.sandbox",
            "--port",
            "0",
            "--per-minute",
            str(per_minute),
            "--as-of",
            "2024-06-28",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    return proc, line.strip().split(" on ")[-1]


def rate_run(url: str, symbols: list[str], days: int, limit: int, threads: int) -> dict:
    reset_process_state()
    client = AlphaVantageResource(
        base_url=url,
        api_key="benchmark",
        requests_per_minute=limit,
        requests_per_day=0,
        reply_cache_seconds=0,
        max_attempts=4,
        backoff_seconds=1.0,
    )
    jobs = [(s, d) for d in range(days) for s in symbols]
    sends: list[float] = []
    lock = threading.Lock()
    replies = []

    original_send = AlphaVantageResource._send

    def timed_send(self, *args, **kwargs):  # records when each request really leaves
        with lock:
            sends.append(time.perf_counter())
        return original_send(self, *args, **kwargs)

    AlphaVantageResource._send = timed_send

    def one(job):
        reply = client.fetch_daily(job[0], "compact")
        with lock:
            replies.append(reply)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, jobs))
    elapsed = time.perf_counter() - started
    AlphaVantageResource._send = original_send
    sends.sort()
    span = sends[-1] - sends[0]
    notices = sum(len(r.notices) for r in replies)
    overhead = [r.client_overhead_seconds * 1000 for r in replies]
    return {
        "requests": len(replies),
        "elapsed_s": elapsed,
        "steady_rate_per_min": (len(sends) - 1) / span * 60 if span else float("nan"),
        "overall_rate_per_min": len(replies) / elapsed * 60,
        "throttling_notices": notices,
        "overhead_ms_median": statistics.median(overhead),
        "overhead_ms_p95": sorted(overhead)[int(0.95 * (len(overhead) - 1))],
        "http_ms_median": statistics.median(r.http_seconds * 1000 for r in replies),
    }


def overhead_run(url: str, n: int) -> dict:
    """Unlimited sandbox: median latency through the client vs a bare keep-alive requests.get."""
    import requests

    reset_process_state()
    client = AlphaVantageResource(
        base_url=url,
        api_key="benchmark",
        requests_per_minute=0,
        requests_per_day=0,
        reply_cache_seconds=0,
    )
    client.fetch_daily("IBM")  # warm up both paths
    session = requests.Session()
    params = {
        "function": "TIME_SERIES_DAILY",
        "symbol": "IBM",
        "outputsize": "compact",
        "datatype": "json",
        "apikey": "benchmark",
    }
    assert session.get(url, params=params).content
    bare, full = [], []
    for _ in range(n):  # interleaved, medians: robust to a busy machine
        t = time.perf_counter()
        assert session.get(url, params=params).content
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        client.fetch_daily("IBM")
        full.append(time.perf_counter() - t)
    b, f = statistics.median(bare), statistics.median(full)
    return {"bare_ms": b * 1000, "client_ms": f * 1000, "overhead_ms": (f - b) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=5)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--limit", type=int, default=120, help="requests per minute")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--overhead-requests", type=int, default=200)
    args = parser.parse_args()
    symbols = SYMBOLS[: args.symbols]

    proc, url = start_sandbox(args.limit)
    try:
        r = rate_run(url, symbols, args.days, args.limit, args.threads)
    finally:
        proc.terminate()
        proc.wait()
    proc, url = start_sandbox(0)
    try:
        o = overhead_run(url, args.overhead_requests)
    finally:
        proc.terminate()
        proc.wait()

    pct = r["steady_rate_per_min"] / args.limit * 100
    met = pct >= 95 and not r["throttling_notices"]
    print(
        f"ingest: {args.symbols} symbols x {args.days} days = {r['requests']} requests, "
        f"limit {args.limit}/min (sandbox enforces the same), {args.threads} threads"
    )
    print(f"  elapsed            {r['elapsed_s']:.1f} s")
    print(
        f"  achieved rate      {r['steady_rate_per_min']:.1f}/min = {pct:.1f}% of the limit "
        f"(overall incl. start/finish {r['overall_rate_per_min']:.1f}/min)"
    )
    print(f"  throttling notices {r['throttling_notices']}")
    print(f"  goal >= 95% with 0 notices: {'MET' if met else 'NOT MET'}")
    print(
        f"  client overhead    median {r['overhead_ms_median']:.2f} ms, "
        f"p95 {r['overhead_ms_p95']:.2f} ms per request (excl. wait and HTTP; "
        f"HTTP median {r['http_ms_median']:.1f} ms)"
    )
    print(
        f"  vs bare requests   client {o['client_ms']:.2f} ms vs bare {o['bare_ms']:.2f} ms "
        f"per request = {o['overhead_ms']:.2f} ms overhead ({args.overhead_requests} requests, "
        "no limit)"
    )


if __name__ == "__main__":
    main()
