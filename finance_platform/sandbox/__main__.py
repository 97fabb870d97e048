"""Run the sandbox in the foreground: ``python -m finance_platform.sandbox --port 8765``."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import signal

from finance_platform.sandbox.server import SandboxServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Alpha Vantage sandbox (synthetic prices).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--per-minute", type=int, default=600, help="0 = no limit")
    parser.add_argument("--per-day", type=int, default=0, help="0 = no limit")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None, help="last bar date")
    parser.add_argument(
        "--premium-function", action="append", default=[], help="answer it with the premium notice"
    )
    args = parser.parse_args(argv)
    server = SandboxServer(
        host=args.host,
        port=args.port,
        per_minute=args.per_minute or None,
        per_day=args.per_day or None,
        as_of=args.as_of,
        premium_functions=args.premium_function,
    )
    print(f"Alpha Vantage sandbox (SYNTHETIC data) on {server.url}", flush=True)

    def report(*_: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM ends it like Ctrl-C, and either way it says what it served (benchmarks count it).
    signal.signal(signal.SIGTERM, report)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    print(
        f"served {server.limits.served} throttled {server.limits.throttled} "
        f"requests {server.requests}",
        flush=True,
    )


if __name__ == "__main__":
    main()
