"""A real HTTP server on 127.0.0.1 that replays recorded Alpha Vantage replies (tests only)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

# Our own replies in the service's exact format (fixtures/alpha_vantage/make_fixtures.py).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alpha_vantage"
IBM_COMPACT = "time_series_daily_IBM_compact.json"
NOTE = "error_note_rate_limit_5_per_minute.json"
DAILY_LIMIT = "error_information_daily_limit_25_per_day.json"
ERROR_MESSAGE = "error_message_invalid_api_call_TIME_SERIES_DAILY.json"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class Reply:
    body: bytes
    status: int = 200
    content_type: str = "application/json"
    delay: float = 0.0

    @classmethod
    def fixture(cls, name: str) -> Reply:
        return cls(fixture_bytes(name))


class ReplayServer:
    """Answers each request from ``script(query) -> Reply`` or a queue of replies.

    With a list, replies are served in order and the last one repeats. Every
    query received (key included) is kept in ``queries`` for assertions.
    """

    def __init__(self, replies: list[Reply] | Callable[[dict[str, str]], Reply]) -> None:
        self._replies = replies
        self._lock = threading.Lock()
        self.queries: list[dict[str, str]] = []
        self.raw_request_lines: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                with server._lock:
                    server.queries.append(query)
                    server.raw_request_lines.append(self.requestline)
                    reply = server._next(query)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def _next(self, query: dict[str, str]) -> Reply:
        if callable(self._replies):
            return self._replies(query)
        if len(self._replies) > 1:
            return self._replies.pop(0)
        return self._replies[0]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/query"

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
