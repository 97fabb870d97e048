"""The Alpha Vantage client: classification, retries, limits, sandbox fallback, key hygiene."""

from __future__ import annotations

import json
import socket

import pytest

from finance_platform.resources import alpha_vantage as av
from finance_platform.resources.alpha_vantage import (
    AlphaVantageError,
    AlphaVantageResource,
    RateLimiter,
    ReplyKind,
    classify_reply,
)
from finance_platform_tests.market.replay_server import (
    DAILY_LIMIT,
    ERROR_MESSAGE,
    IBM_COMPACT,
    NOTE,
    ReplayServer,
    Reply,
    fixture_bytes,
)

BURST = (
    b'{"Information": "Burst pattern detected. Please consider spreading out your free API '
    b"requests more sparingly (1 request per second). You may subscribe to any of the premium "
    b"plans at https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests "
    b'per day), raise the per-second burst limit, and instantly unlock all premium endpoints"}'
)
PREMIUM = (
    b'{"Information": "Thank you for using Alpha Vantage! This is a premium endpoint. You may '
    b"subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly "
    b'unlock all premium endpoints"}'
)


@pytest.fixture(autouse=True)
def _fresh_state():
    av.reset_process_state()
    yield
    av.reset_process_state()


def client(url: str, **kw) -> AlphaVantageResource:
    defaults = dict(
        base_url=url, api_key="unit-key", plan="premium", backoff_seconds=0.01, timeout_seconds=2
    )
    return AlphaVantageResource(**{**defaults, **kw})


# -- classification of every fixture and every other failure kind -----------------------------
@pytest.mark.parametrize(
    ("name", "kind"),
    [
        (IBM_COMPACT, ReplyKind.DATA),
        (NOTE, ReplyKind.THROTTLED),
        (DAILY_LIMIT, ReplyKind.DAILY_LIMIT),
        (ERROR_MESSAGE, ReplyKind.INVALID_REQUEST),
    ],
)
def test_every_recorded_reply_is_classified(name, kind):
    result = classify_reply(
        200, fixture_bytes(name), "application/json", "TIME_SERIES_DAILY", "IBM"
    )
    assert result.kind is kind


@pytest.mark.parametrize(
    ("status", "body", "ctype", "kind", "words"),
    [
        (200, BURST, "application/json", ReplyKind.THROTTLED, "burst"),
        (200, PREMIUM, "application/json", ReplyKind.PREMIUM, "premium"),
        (429, b"", "", ReplyKind.THROTTLED, "429"),
        (503, b"Service Unavailable", "text/plain", ReplyKind.TRANSIENT, "503"),
        (500, b"", "", ReplyKind.TRANSIENT, "500"),
        (200, b"<!DOCTYPE html><html>oops</html>", "text/html", ReplyKind.MALFORMED, "HTML"),
        (200, fixture_bytes(IBM_COMPACT)[:300], "application/json", ReplyKind.MALFORMED, "trunc"),
        (
            200,
            b'{"Meta Data": {"2. Symbol": "IBM"}}',
            "application/json",
            ReplyKind.MALFORMED,
            "no 'Time Series",
        ),
        (200, b'{"Time Series (Daily)": {}}', "application/json", ReplyKind.MALFORMED, "empty"),
        (200, b"", "application/json", ReplyKind.MALFORMED, "empty"),
        (200, b"[1, 2]", "application/json", ReplyKind.MALFORMED, "not a JSON object"),
        (404, b"nope", "text/plain", ReplyKind.MALFORMED, "404"),
    ],
)
def test_other_failure_kinds_are_classified(status, body, ctype, kind, words):
    result = classify_reply(status, body, ctype, "TIME_SERIES_DAILY", "IBM")
    assert result.kind is kind
    assert words.lower() in result.message.lower()


def test_error_message_names_symbol_and_function():
    result = classify_reply(200, fixture_bytes(ERROR_MESSAGE), "", "TIME_SERIES_DAILY", "NOPE")
    assert "TIME_SERIES_DAILY for NOPE" in result.message


# -- the client against a real HTTP server on 127.0.0.1 ----------------------------------------
@pytest.mark.integration
def test_fetch_replays_the_recorded_reply():
    with ReplayServer([Reply.fixture(IBM_COMPACT)]) as server:
        reply = client(server.url).fetch_daily("ibm")
    assert reply.body == fixture_bytes(IBM_COMPACT)
    assert reply.bar_count == 100 and reply.attempts == 1 and not reply.synthetic
    assert reply.request == {
        "function": "TIME_SERIES_DAILY",
        "symbol": "IBM",
        "outputsize": "compact",
        "datatype": "json",
    }
    assert server.queries[0]["apikey"] == "unit-key"
    assert "unit-key" not in reply.url


@pytest.mark.integration
def test_throttle_notice_is_retried_with_backoff_then_succeeds():
    replies = [Reply.fixture(NOTE), Reply(BURST), Reply.fixture(IBM_COMPACT)]
    with ReplayServer(replies) as server:
        reply = client(server.url).fetch_daily("IBM")
    assert reply.attempts == 3 and reply.notices == ["throttled", "throttled"]
    assert len(server.queries) == 3


@pytest.mark.integration
def test_throttling_is_bounded():
    with ReplayServer([Reply.fixture(NOTE)]) as server, pytest.raises(AlphaVantageError) as err:
        client(server.url, max_attempts=3).fetch_daily("IBM")
    assert err.value.kind is ReplyKind.THROTTLED
    assert "gave up after 3 attempts" in str(err.value)
    assert len(server.queries) == 3


@pytest.mark.integration
@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (Reply.fixture(DAILY_LIMIT), ReplyKind.DAILY_LIMIT),
        (Reply(PREMIUM), ReplyKind.PREMIUM),
        (Reply.fixture(ERROR_MESSAGE), ReplyKind.INVALID_REQUEST),
        (Reply(b"<html>maintenance</html>", content_type="text/html"), ReplyKind.MALFORMED),
    ],
)
def test_non_retryable_replies_fail_at_once(reply, kind):
    with ReplayServer([reply]) as server, pytest.raises(AlphaVantageError) as err:
        client(server.url).fetch_daily("IBM")
    assert err.value.kind is kind
    assert len(server.queries) == 1  # no retry storm
    if kind is ReplyKind.INVALID_REQUEST:
        assert "TIME_SERIES_DAILY for IBM" in str(err.value)
    if kind is ReplyKind.DAILY_LIMIT:
        assert "daily request limit" in str(err.value)


@pytest.mark.integration
def test_server_errors_are_retried_with_jitter_then_succeed():
    replies = [Reply(b"oops", status=503, content_type="text/plain"), Reply.fixture(IBM_COMPACT)]
    with ReplayServer(replies) as server:
        reply = client(server.url).fetch_daily("IBM")
    assert reply.attempts == 2 and reply.notices == ["transient"]


@pytest.mark.integration
def test_timeouts_are_retried_and_bounded():
    slow = Reply(fixture_bytes(IBM_COMPACT), delay=1.5)
    with ReplayServer([slow]) as server, pytest.raises(AlphaVantageError) as err:
        client(server.url, timeout_seconds=0.3, max_attempts=2).fetch_daily("IBM")
    assert err.value.kind is ReplyKind.TRANSIENT
    assert "timed out" in str(err.value)
    assert len(server.queries) == 2


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/query"


@pytest.mark.integration
def test_connection_errors_never_carry_the_key():
    key = "LEAKCANARY-9f3c1e"
    with pytest.raises(AlphaVantageError) as err:
        client(_closed_port_url(), api_key=key, max_attempts=2).fetch_daily("IBM")
    assert err.value.kind is ReplyKind.TRANSIENT
    text = str(err.value) + repr(err.value) + json.dumps(err.value.request)
    assert key not in text
    assert err.value.__cause__ is None and err.value.__context__ is None


def test_configured_daily_cap_stops_requests_before_the_service_does():
    with ReplayServer([Reply.fixture(IBM_COMPACT)]) as server:
        c = client(server.url, requests_per_day=2, reply_cache_seconds=0)
        c.fetch_daily("IBM")
        c.fetch_daily("AAPL")
        with pytest.raises(AlphaVantageError) as err:
            c.fetch_daily("MSFT")
    assert err.value.kind is ReplyKind.DAILY_LIMIT
    assert len(server.queries) == 2


def test_identical_requests_within_a_process_reuse_the_reply():
    with ReplayServer([Reply.fixture(IBM_COMPACT)]) as server:
        c = client(server.url)
        first, second = c.fetch_daily("IBM"), c.fetch_daily("IBM")
    assert len(server.queries) == 1
    assert second.from_cache and second.body == first.body


# -- rate limiter ----------------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_limiter_spaces_requests_evenly_under_the_per_minute_cap():
    clock = FakeClock()
    limiter = RateLimiter(5, None, margin=0.0, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(6):
        limiter.acquire()
    # 6 requests at 12 s spacing: the 6th starts at 60 s, never 6 inside one minute.
    assert clock.now - start == pytest.approx(60.0)


def test_limiter_is_shared_by_threads():
    import threading
    import time

    limiter = RateLimiter(600, None, margin=0.0)  # one slot every 0.1 s
    stamps: list[float] = []

    def worker():
        for _ in range(3):
            limiter.acquire()
            stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert len(stamps) == 12
    assert stamps[-1] - stamps[0] >= 1.0  # 11 gaps of 0.1 s
    assert min(gaps) > 0.05


def test_plans_pick_limits():
    assert AlphaVantageResource(api_key="k").limits() == (5, 25)  # free tier by default
    assert AlphaVantageResource(api_key="k", plan="premium").limits() == (75, None)
    assert AlphaVantageResource().limits() == (600, None)  # sandbox
    assert AlphaVantageResource(api_key="k", requests_per_minute=30).limits() == (30, 25)


# -- sandbox fallback and secrets -------------------------------------------------------------
@pytest.mark.integration
def test_without_a_key_the_local_sandbox_is_started_and_flagged_synthetic():
    resource = AlphaVantageResource()
    assert resource.uses_sandbox
    reply = resource.fetch_daily("MSFT")
    assert reply.synthetic and reply.source == "sandbox"
    assert reply.url.startswith("http://127.0.0.1:")
    assert reply.bar_count == 100


def test_data_source_tags_say_synthetic_without_a_key():
    from finance_platform.settings import load_settings

    assert av.data_source_tags(load_settings({})) == {"finance/data_source": "synthetic-sandbox"}
    for environ in ({"ALPHAVANTAGE_API_KEY": "x"}, {"FINANCE_ENV": "prod"}):
        assert av.data_source_tags(load_settings(environ)) == {
            "finance/data_source": "alphavantage"
        }


def test_production_key_comes_from_secrets_manager(monkeypatch):
    boto3 = pytest.importorskip("boto3")
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        sm.create_secret(Name="finance/av", SecretString=json.dumps({"api_key": "SM-KEY-123"}))
        with ReplayServer([Reply.fixture(IBM_COMPACT)]) as server:
            resource = AlphaVantageResource(
                base_url=server.url, api_key_secret_id="finance/av", aws_region="us-east-1"
            )
            assert not resource.uses_sandbox
            reply = resource.fetch_daily("IBM")
    assert server.queries[0]["apikey"] == "SM-KEY-123"
    assert not reply.synthetic


def test_redaction_hides_keys_in_any_text():
    assert (
        av.redact("GET /query?symbol=IBM&apikey=ABC123&x=1")
        == "GET /query?symbol=IBM&apikey=***&x=1"
    )
    assert av.redact("the key ABC123 leaked", "ABC123") == "the key *** leaked"


def test_state_file_shares_spacing_and_daily_count_across_processes(tmp_path):
    # Two limiters on one state file behave like two runs (processes) on one machine.
    clock = FakeClock()
    state = str(tmp_path / "limits" / "av.json")

    def make():
        return RateLimiter(5, 3, margin=0.0, clock=clock, sleep=clock.sleep, state_path=state)

    run_a, run_b = make(), make()
    start = clock.now
    run_a.acquire()
    run_b.acquire()  # the other run must wait for the 12 s spacing
    assert clock.now - start == pytest.approx(12.0)
    run_a.acquire()
    with pytest.raises(AlphaVantageError) as err:
        run_b.acquire()  # 3 per day, counted across both runs
    assert err.value.kind is ReplyKind.DAILY_LIMIT


def test_local_resource_with_a_key_shares_limits_through_dagster_home(monkeypatch, tmp_path):
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", "k")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    from finance_platform.settings import load_settings

    resource = av.build_alpha_vantage(load_settings())
    assert resource.limiter_state_dir == f"{tmp_path}/alpha_vantage_limits"
    monkeypatch.delenv("ALPHAVANTAGE_API_KEY")
    assert av.build_alpha_vantage(load_settings()).limiter_state_dir is None  # sandbox: per process


@pytest.mark.integration
def test_the_services_daily_limit_notice_spends_the_shared_quota_for_every_run(tmp_path):
    # Another client on the same key spent the day: the service refuses before our own count
    # says so. Every run planning afterwards (a new resource, as a new run process) sees 0 left.
    state = tmp_path / "limits"
    with ReplayServer([Reply.fixture(DAILY_LIMIT)]) as server:
        first = client(server.url, requests_per_day=25, limiter_state_dir=str(state))
        assert first.daily_quota().remaining == 25
        with pytest.raises(AlphaVantageError) as err:
            first.fetch_daily("IBM")
        assert err.value.kind is ReplyKind.DAILY_LIMIT
        later = client(server.url, requests_per_day=25, limiter_state_dir=str(state))
        quota = later.daily_quota()
        assert (quota.remaining, quota.used, quota.limit) == (0, 25, 25)
        with pytest.raises(AlphaVantageError):
            later.fetch_daily("AAPL")
    assert len(server.queries) == 1  # the second run never called
