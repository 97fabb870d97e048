"""The local Alpha Vantage sandbox speaks the service's protocol with synthetic prices."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlencode

import pytest

from finance_platform.resources.alpha_vantage import ReplyKind, classify_reply
from finance_platform.sandbox import SANDBOX_HEADER, SandboxServer
from finance_platform.transforms.trading_calendar import is_trading_day
from finance_platform_tests.market.replay_server import IBM_COMPACT, fixture_bytes

AS_OF = dt.date(2023, 11, 10)


def get(url: str, **params) -> tuple[bytes, dict]:
    query = {"function": "TIME_SERIES_DAILY", "apikey": "sandbox", **params}
    with urllib.request.urlopen(f"{url}?{urlencode(query)}", timeout=10) as resp:  # noqa: S310
        return resp.read(), dict(resp.headers)


@pytest.fixture
def sandbox():
    with SandboxServer(per_minute=None, as_of=AS_OF) as server:
        yield server


@pytest.mark.integration
def test_reply_has_the_same_shape_as_the_real_service(sandbox):
    body, headers = get(sandbox.url, symbol="IBM")
    real = json.loads(fixture_bytes(IBM_COMPACT))
    fake = json.loads(body)
    assert list(fake) == list(real)
    assert list(fake["Meta Data"]) == list(real["Meta Data"])
    first_bar = next(iter(fake["Time Series (Daily)"].values()))
    assert list(first_bar) == list(next(iter(real["Time Series (Daily)"].values())))
    assert fake["Meta Data"]["3. Last Refreshed"] == "2023-11-10"
    assert headers[SANDBOX_HEADER] == "synthetic"
    assert classify_reply(200, body, "application/json").kind is ReplyKind.DATA


@pytest.mark.integration
def test_compact_is_100_trading_days_and_full_is_the_history(sandbox):
    compact = json.loads(get(sandbox.url, symbol="IBM")[0])["Time Series (Daily)"]
    full = json.loads(get(sandbox.url, symbol="IBM", outputsize="full")[0])["Time Series (Daily)"]
    assert len(compact) == 100
    assert len(full) > 5000 and set(compact) <= set(full)
    assert all(is_trading_day(day) for day in full)  # no weekends, no holidays
    assert "2022-11-24" not in full  # Thanksgiving 2022
    assert "2023-07-04" not in full


@pytest.mark.integration
def test_prices_are_deterministic_per_symbol_and_independent_of_as_of():
    with (
        SandboxServer(per_minute=None, as_of=AS_OF) as a,
        SandboxServer(per_minute=None, as_of=dt.date(2023, 12, 29)) as b,
    ):
        bars_a = json.loads(get(a.url, symbol="IBM")[0])["Time Series (Daily)"]
        bars_b = json.loads(get(b.url, symbol="IBM", outputsize="full")[0])["Time Series (Daily)"]
        other = json.loads(get(a.url, symbol="AAPL")[0])["Time Series (Daily)"]
    assert bars_a["2023-11-10"] == bars_b["2023-11-10"]
    assert other["2023-11-10"] != bars_a["2023-11-10"]
    bar = {k: float(v) for k, v in bars_a["2023-11-10"].items()}
    assert bar["3. low"] <= min(bar["1. open"], bar["4. close"])
    assert bar["2. high"] >= max(bar["1. open"], bar["4. close"])


@pytest.mark.integration
def test_limits_produce_the_services_notices():
    with SandboxServer(per_minute=2, per_day=3, as_of=AS_OF) as server:
        replies = [json.loads(get(server.url, symbol="IBM")[0]) for _ in range(3)]
        assert "Time Series (Daily)" in replies[0] and "Time Series (Daily)" in replies[1]
        assert "Note" in replies[2] and "2 calls per minute" in replies[2]["Note"]
        assert classify_reply(200, json.dumps(replies[2]).encode()).kind is ReplyKind.THROTTLED
    with SandboxServer(per_minute=None, per_day=1, as_of=AS_OF) as server:
        get(server.url, symbol="IBM")
        body, _ = get(server.url, symbol="IBM")
        assert classify_reply(200, body).kind is ReplyKind.DAILY_LIMIT


@pytest.mark.integration
@pytest.mark.parametrize(
    ("params", "kind"),
    [
        ({"symbol": "INVALID"}, ReplyKind.INVALID_REQUEST),
        ({"symbol": "IBM", "function": "TIME_SERIES_WEEKLYISH"}, ReplyKind.INVALID_REQUEST),
        ({"symbol": "IBM", "apikey": ""}, ReplyKind.INVALID_REQUEST),
        ({"symbol": "IBM", "outputsize": "huge"}, ReplyKind.INVALID_REQUEST),
    ],
)
def test_bad_inputs_get_error_messages(sandbox, params, kind):
    body, _ = get(sandbox.url, **params)
    assert "Error Message" in json.loads(body)
    assert classify_reply(200, body).kind is kind


@pytest.mark.integration
def test_premium_functions_get_the_premium_notice():
    with SandboxServer(as_of=AS_OF, premium_functions=["TIME_SERIES_DAILY_ADJUSTED"]) as server:
        body, _ = get(server.url, symbol="IBM", function="TIME_SERIES_DAILY_ADJUSTED")
    assert classify_reply(200, body).kind is ReplyKind.PREMIUM


@pytest.mark.integration
def test_adjusted_and_csv_variants(sandbox):
    adjusted = json.loads(get(sandbox.url, symbol="IBM", function="TIME_SERIES_DAILY_ADJUSTED")[0])
    bar = adjusted["Time Series (Daily)"]["2023-11-10"]
    assert "5. adjusted close" in bar and "8. split coefficient" in bar
    csv, _ = get(sandbox.url, symbol="IBM", datatype="csv")
    lines = csv.decode().splitlines()
    assert lines[0] == "timestamp,open,high,low,close,volume" and len(lines) == 101


@pytest.mark.integration
@pytest.mark.slow
def test_runs_as_a_module_on_a_given_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "finance_platform.sandbox",
            "--port",
            str(port),
            "--per-minute",
            "5",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "SYNTHETIC" in proc.stdout.readline()
        deadline = time.monotonic() + 30
        while True:
            try:
                body, _ = get(f"http://127.0.0.1:{port}/query", symbol="IBM")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert "Time Series (Daily)" in json.loads(body)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
