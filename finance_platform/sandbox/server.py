"""A local HTTP server speaking the Alpha Vantage protocol, serving synthetic prices.

Same query parameters (``function``, ``symbol``, ``outputsize``, ``datatype``,
``apikey``), same JSON shape ("Meta Data", "Time Series (Daily)"), same HTTP 200
notices ("Note", "Information", "Error Message") when its limits are exceeded or
the request is bad. Every reply carries ``X-Finance-Sandbox: synthetic``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from finance_platform.sandbox.prices import daily_bars
from finance_platform.transforms.trading_calendar import (
    NYSE,
    exchange_for,
    market_timezone,
    market_today,
    previous_trading_day,
)

SANDBOX_HEADER = "X-Finance-Sandbox"
FUNCTIONS = ("TIME_SERIES_DAILY", "TIME_SERIES_DAILY_ADJUSTED")
COMPACT_BARS = 100
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,11}$")

# Notice texts as the service words them (its recorded replies; see the formats in
# finance_platform_tests/fixtures/alpha_vantage).
NOTE_PER_MINUTE = (
    "Thank you for using Alpha Vantage! Our standard API call frequency is {per_minute} calls "
    "per minute and {per_day} calls per day. Please visit https://www.alphavantage.co/premium/ "
    "if you would like to target a higher API call frequency."
)
INFO_DAILY_LIMIT = (
    "Thank you for using Alpha Vantage! Our standard API rate limit is {per_day} requests per "
    "day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ "
    "to instantly remove all daily rate limits."
)
INFO_PREMIUM = (
    "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of "
    "the premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium "
    "endpoints"
)
ERROR_INVALID_CALL = (
    "Invalid API call. Please retry or visit the documentation "
    "(https://www.alphavantage.co/documentation/) for {function}."
)
ERROR_BAD_FUNCTION = "This API function ({function}) does not exist."
ERROR_MISSING_KEY = (
    "the parameter apikey is invalid or missing. Please claim your free API key on "
    "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
)


def default_as_of(symbol: str | None = None) -> dt.date:
    """The latest trading day whose bar is final on the symbol's exchange, as the real service."""
    return previous_trading_day(market_today(symbol=symbol), symbol=symbol)


def _known_exchange(symbol: str) -> bool:
    """Whether the sandbox has a calendar for the symbol's exchange suffix (else: invalid call)."""
    try:
        exchange_for(symbol)
    except ValueError:
        return False
    return True


class _Limits:
    """Per-minute (sliding 60 s window) and per-day counters of served requests."""

    def __init__(self, per_minute: int | None, per_day: int | None) -> None:
        self.per_minute = per_minute
        self.per_day = per_day
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()
        self._day: dt.date | None = None
        self._day_count = 0
        self.throttled = 0
        self.served = 0

    def admit(self) -> str | None:
        """``None`` if the request may be served, else the notice kind to return."""
        with self._lock:
            now = time.monotonic()
            today = dt.datetime.now(dt.UTC).date()
            if today != self._day:
                self._day, self._day_count = today, 0
            if self.per_day is not None and self._day_count >= self.per_day:
                self.throttled += 1
                return "daily"
            while self._recent and self._recent[0] <= now - 60.0:
                self._recent.popleft()
            if self.per_minute is not None and len(self._recent) >= self.per_minute:
                self.throttled += 1
                return "minute"
            self._recent.append(now)
            self._day_count += 1
            self.served += 1
            return None


class SandboxServer:
    """The sandbox on ``host:port`` (port 0 = an ephemeral port), served from a daemon thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        per_minute: int | None = 600,
        per_day: int | None = None,
        as_of: dt.date | None = None,
        premium_functions: Iterable[str] = (),
        unknown_symbols: Iterable[str] = ("INVALID", "XXXX"),
    ) -> None:
        self.limits = _Limits(per_minute, per_day)
        self.as_of = as_of
        self.premium_functions = frozenset(f.upper() for f in premium_functions)
        self.unknown_symbols = frozenset(s.upper() for s in unknown_symbols)
        self.requests = 0
        self._cache: dict[tuple[str, str, str, str, dt.date], bytes] = {}
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._httpd.server_address[0]}:{self.port}/query"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="alpha-vantage-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- protocol --------------------------------------------------------------
    def respond(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        """Status, content type and body for one request's query parameters."""
        self.requests += 1
        function = query.get("function", "").upper()
        if not query.get("apikey"):
            return _json({"Error Message": ERROR_MISSING_KEY})
        if function not in FUNCTIONS:
            return _json({"Error Message": ERROR_BAD_FUNCTION.format(function=function or "")})
        symbol = query.get("symbol", "").upper()
        outputsize = query.get("outputsize", "compact").lower()
        datatype = query.get("datatype", "json").lower()
        if (
            not SYMBOL_PATTERN.match(symbol)
            or symbol in self.unknown_symbols
            or not _known_exchange(symbol)
            or outputsize not in ("compact", "full")
            or datatype not in ("json", "csv")
        ):
            return _json({"Error Message": ERROR_INVALID_CALL.format(function=function)})
        if function in self.premium_functions:
            return _json({"Information": INFO_PREMIUM})
        refused = self.limits.admit()
        if refused == "daily":
            return _json({"Information": INFO_DAILY_LIMIT.format(per_day=self.limits.per_day)})
        if refused == "minute":
            return _json(
                {
                    "Note": NOTE_PER_MINUTE.format(
                        per_minute=self.limits.per_minute, per_day=self.limits.per_day or "no limit"
                    )
                }
            )
        as_of = self.as_of or default_as_of(symbol)
        key = (function, symbol, outputsize, datatype, as_of)
        body = self._cache.get(key)
        if body is None:
            body = self._render(function, symbol, outputsize, datatype, as_of)
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = body
        ctype = "application/x-download" if datatype == "csv" else "application/json"
        return 200, ctype, body

    def _render(
        self, function: str, symbol: str, outputsize: str, datatype: str, as_of: dt.date
    ) -> bytes:
        bars = daily_bars(symbol, as_of)
        if outputsize == "compact":
            bars = bars[-COMPACT_BARS:]
        adjusted = function == "TIME_SERIES_DAILY_ADJUSTED"
        newest_first = list(reversed(bars))
        if datatype == "csv":
            head = "timestamp,open,high,low,close,"
            if adjusted:
                head += "adjusted_close,volume,dividend_amount,split_coefficient"
            else:
                head += "volume"
            lines = [head]
            for b in newest_first:
                prices = f"{b.day.isoformat()},{b.open:.4f},{b.high:.4f},{b.low:.4f},{b.close:.4f}"
                tail = f"{b.close:.4f},{b.volume},0.0000,1.0" if adjusted else f"{b.volume}"
                lines.append(f"{prices},{tail}")
            return ("\r\n".join(lines) + "\r\n").encode("utf-8")
        series = {}
        for b in newest_first:
            bar = {
                "1. open": f"{b.open:.4f}",
                "2. high": f"{b.high:.4f}",
                "3. low": f"{b.low:.4f}",
                "4. close": f"{b.close:.4f}",
            }
            if adjusted:
                bar["5. adjusted close"] = f"{b.close:.4f}"
                bar["6. volume"] = str(b.volume)
                bar["7. dividend amount"] = "0.0000"
                bar["8. split coefficient"] = "1.0"
            else:
                bar["5. volume"] = str(b.volume)
            series[b.day.isoformat()] = bar
        information = (
            "Daily Time Series with Splits and Dividend Events"
            if adjusted
            else "Daily Prices (open, high, low, close) and Volumes"
        )
        payload = {
            "Meta Data": {
                "1. Information": information,
                "2. Symbol": symbol,
                "3. Last Refreshed": as_of.isoformat(),
                "4. Output Size": "Full size" if outputsize == "full" else "Compact",
                # The real service says US/Eastern for US listings; others: the exchange's zone.
                "5. Time Zone": "US/Eastern"
                if exchange_for(symbol) is NYSE
                else market_timezone(symbol),
            },
            "Time Series (Daily)": series,
        }
        return json.dumps(payload, indent=4).encode("utf-8")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real service
            # Headers and body go out in separate writes: without TCP_NODELAY, Nagle plus
            # delayed ACKs add ~40 ms to every keep-alive request.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                parts = urlsplit(self.path)
                if parts.path not in ("/query", "/query/"):
                    status, ctype, body = 404, "text/html", b"<html><body>Not Found</body></html>"
                else:
                    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                    status, ctype, body = server.respond(query)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header(SANDBOX_HEADER, "synthetic")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                # The default handler logs the request line, which carries the API key.
                return

        return Handler


def _json(payload: dict[str, str]) -> tuple[int, str, bytes]:
    return 200, "application/json", json.dumps(payload, indent=4).encode("utf-8")
