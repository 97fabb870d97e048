"""Alpha Vantage client as a Dagster resource: reply classification, retries, rate limits, sandbox.

The service answers almost every problem with HTTP 200 and a JSON notice, so
every reply is classified before anyone trusts it (``classify_reply``). The API
key is only ever placed in the outgoing query string: requests, logs, metadata,
stored URLs and exception texts carry a redacted form. With no key configured the
resource starts the local sandbox (``finance_platform.sandbox``) on 127.0.0.1 and
talks to it through the very same code path, and says so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import hashlib
import json
import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import dagster as dg
from pydantic import Field

from finance_platform.settings import OFFICIAL_ALPHAVANTAGE_URL

SANDBOX_HEADER = "X-Finance-Sandbox"
SYNTHETIC_NOTICE = (
    "SYNTHETIC DATA: no ALPHAVANTAGE_API_KEY is set, so quotes come from the local "
    "Alpha Vantage sandbox (deterministic random walk), not from the market."
)
DATA_SOURCE_TAG = "finance/data_source"

# Plans: (requests per minute, requests per day); None = no limit.
PLAN_LIMITS: dict[str, tuple[int | None, int | None]] = {
    "free": (5, 25),
    "premium": (75, None),
    "sandbox": (600, None),
}
FUNCTIONS = ("TIME_SERIES_DAILY", "TIME_SERIES_DAILY_ADJUSTED")


# -- errors --------------------------------------------------------------------------------
class ReplyKind(enum.StrEnum):
    """What a reply means, decided from its status, body and notice text."""

    DATA = "data"
    THROTTLED = "throttled"  # Note (per-minute) or a burst notice: wait and retry
    DAILY_LIMIT = "daily_limit"  # Information: quota for the day used up: fail now
    PREMIUM = "premium"  # premium endpoint / feature with a free key: configuration error
    INVALID_REQUEST = "invalid_request"  # Error Message: bad symbol / function / key
    TRANSIENT = "transient"  # 5xx, timeouts, connection errors: retry with jitter
    MALFORMED = "malformed"  # HTML, truncated JSON, JSON without a time series, other


RETRYABLE = frozenset({ReplyKind.THROTTLED, ReplyKind.TRANSIENT})


class AlphaVantageError(Exception):
    """A request that produced no usable time series. ``kind`` says why; text never has the key."""

    def __init__(self, kind: ReplyKind, message: str, request: Mapping[str, str] | None = None):
        super().__init__(message)
        self.kind = kind
        self.request = dict(request or {})

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE


@dataclass(frozen=True)
class Classification:
    kind: ReplyKind
    message: str
    payload: dict[str, Any] | None = None


_DAILY_LIMIT = re.compile(r"requests per day|per day\b.*limit|daily (rate )?limit", re.I)
_BURST = re.compile(r"burst|spreading out|per second", re.I)
_PREMIUM = re.compile(r"premium (endpoint|feature)", re.I)
_BAD_KEY = re.compile(r"api ?key|demo purposes", re.I)


def classify_reply(
    status: int, body: bytes, content_type: str = "", function: str = "", symbol: str = ""
) -> Classification:
    """Classify one HTTP reply from Alpha Vantage (pure: no I/O, no retries).

    Order matters: the notices have no time series and arrive with HTTP 200.
    """
    what = f"{function} for {symbol}" if symbol else function or "the request"
    if status == 429:
        return Classification(ReplyKind.THROTTLED, f"HTTP 429 (too many requests) for {what}")
    if status >= 500:
        return Classification(ReplyKind.TRANSIENT, f"HTTP {status} from Alpha Vantage for {what}")
    if status != 200:
        return Classification(ReplyKind.MALFORMED, f"unexpected HTTP {status} for {what}")
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return Classification(ReplyKind.MALFORMED, f"empty reply for {what}")
    if text[:1] == "<" or "html" in content_type.lower():
        return Classification(
            ReplyKind.MALFORMED, f"reply for {what} is HTML, not JSON (a proxy or error page?)"
        )
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        return Classification(
            ReplyKind.MALFORMED,
            f"reply for {what} is not valid JSON ({exc.msg} at char {exc.pos} of {len(text)}; "
            "truncated?)",
        )
    if not isinstance(payload, dict):
        return Classification(ReplyKind.MALFORMED, f"reply for {what} is not a JSON object")
    if isinstance(payload.get("Time Series (Daily)"), dict):
        if not payload["Time Series (Daily)"]:
            return Classification(ReplyKind.MALFORMED, f"reply for {what} has an empty time series")
        return Classification(ReplyKind.DATA, "ok", payload)
    if "Error Message" in payload:
        return Classification(
            ReplyKind.INVALID_REQUEST,
            f"Alpha Vantage rejected {what} (bad symbol, function or API key; not retried): "
            f"{payload['Error Message']}",
            payload,
        )
    if "Note" in payload:
        return Classification(
            ReplyKind.THROTTLED,
            f"throttled by Alpha Vantage for {what}: {payload['Note']}",
            payload,
        )
    if "Information" in payload:
        info = str(payload["Information"])
        # The burst notice also mentions the daily quota and premium endpoints: test it first.
        if _BURST.search(info):
            return Classification(
                ReplyKind.THROTTLED, f"burst limit hit for {what}: {info}", payload
            )
        if _PREMIUM.search(info):
            return Classification(
                ReplyKind.PREMIUM,
                f"{function or 'this function'} needs a premium Alpha Vantage plan "
                f"(configuration error: use TIME_SERIES_DAILY / compact or a premium key): {info}",
                payload,
            )
        if _DAILY_LIMIT.search(info):
            return Classification(
                ReplyKind.DAILY_LIMIT,
                f"Alpha Vantage daily request limit reached while fetching {what}; "
                f"not retrying until the quota resets: {info}",
                payload,
            )
        if _BAD_KEY.search(info):
            return Classification(
                ReplyKind.INVALID_REQUEST, f"Alpha Vantage refused the API key for {what}: {info}"
            )
        return Classification(ReplyKind.MALFORMED, f"unrecognised notice for {what}: {info}")
    keys = ", ".join(sorted(payload)[:5]) or "none"
    return Classification(
        ReplyKind.MALFORMED, f"reply for {what} has no 'Time Series (Daily)' (keys: {keys})"
    )


# -- key hygiene -----------------------------------------------------------------------------
_APIKEY_IN_TEXT = re.compile(r"(apikey=)[^&\s'\"]+", re.I)


def redact(text: str, secret: str | None = None) -> str:
    """``text`` with any ``apikey=...`` value and the literal secret replaced by ``***``."""
    out = _APIKEY_IN_TEXT.sub(r"\1***", text)
    if secret:
        out = out.replace(secret, "***")
    return out


class _RedactKeyFilter(logging.Filter):
    """Scrubs ``apikey=`` from HTTP library debug lines (urllib3 logs request paths)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        if isinstance(record.msg, str) and "apikey=" in record.msg.lower():
            record.msg = redact(record.msg)
        return True


_filter_installed = threading.Lock()
_FILTERED: set[str] = set()


def _install_log_redaction() -> None:
    with _filter_installed:
        for name in ("urllib3.connectionpool", "requests"):
            if name not in _FILTERED:
                logging.getLogger(name).addFilter(_RedactKeyFilter())
                _FILTERED.add(name)


# -- rate limiting ------------------------------------------------------------------------------
class RateLimiter:
    """Evenly spaced requests under a per-minute and a per-day cap, shared by threads.

    Callers queue on one lock and each leaves it at its send time, so N threads
    together never exceed the rate and requests are spread out (Alpha Vantage
    also penalises bursts). Spacing is measured from the *actual* previous send,
    and a sliding 60 s window over actual send times mirrors the server's count:
    a request delayed by a busy machine never lets the next ones bunch up.
    ``margin`` keeps headroom for jitter between this process and the server.
    """

    def __init__(
        self,
        per_minute: int | None,
        per_day: int | None,
        margin: float = 0.01,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        today: Callable[[], dt.date] = lambda: dt.datetime.now(dt.UTC).date(),
        state_path: str | None = None,
    ) -> None:
        self.state_path = state_path
        # Shared state across processes needs a clock every process agrees on.
        clock = clock or (time.time if state_path else time.monotonic)
        self.per_minute = per_minute
        self.per_day = per_day
        self.interval = 60.0 / per_minute * (1.0 + margin) if per_minute else 0.0
        self.window = 60.0 * (1.0 + margin)
        self._clock, self._sleep, self._today = clock, sleep, today
        self._lock = threading.Lock()
        self._sent: deque[float] = deque(maxlen=per_minute or 1)
        self._not_before = float("-inf")
        self._day: dt.date | None = None
        self._day_count = 0

    def acquire(self) -> float:
        """Wait for a request slot; returns seconds actually waited. Raises on the daily cap."""
        entered = self._clock()  # waiting in the queue for the lock counts as waiting
        with self._lock, self._shared_state() as state:
            if state is not None:
                self._load(state)
            today = self._today()
            if today != self._day:
                self._day, self._day_count = today, 0
            if self.per_day is not None and self._day_count >= self.per_day:
                raise AlphaVantageError(
                    ReplyKind.DAILY_LIMIT,
                    f"client-side daily limit of {self.per_day} requests reached "
                    f"(resets at 00:00 UTC); not sending more requests today",
                )
            self._day_count += 1
            now = self._clock()
            slot = max(now, self._not_before)
            if self.per_minute and self._sent:
                slot = max(slot, self._sent[-1] + self.interval)
                if len(self._sent) >= self.per_minute:
                    slot = max(slot, self._sent[0] + self.window)
            if slot > now:
                self._sleep(slot - now)
            sent = self._clock()
            if self.per_minute:
                self._sent.append(sent)
            if state is not None:
                self._dump(state)
            return sent - entered  # includes the OS's sleep overshoot

    # -- optional state shared by processes (runs) on one machine ------------------------
    @contextlib.contextmanager
    def _shared_state(self) -> Iterator[dict[str, Any] | None]:
        """The limiter's state file, locked (``flock``) for the duration; ``None`` if unused.

        Other processes queue on the lock, so spacing and the daily count hold
        across concurrent and consecutive runs, not only across threads.
        """
        if not self.state_path:
            yield None
            return
        import fcntl
        from pathlib import Path

        path = Path(self.state_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.seek(0)
                try:
                    state = json.loads(fh.read() or "{}")
                except json.JSONDecodeError:
                    state = {}  # a torn write: start afresh rather than block ingest
                yield state
                fh.seek(0)
                fh.truncate()
                fh.write(json.dumps(state))
                fh.flush()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _load(self, state: dict[str, Any]) -> None:
        day = state.get("day")
        self._day = dt.date.fromisoformat(day) if day else None
        self._day_count = int(state.get("count", 0))
        self._sent = deque(state.get("sent", []), maxlen=self.per_minute or 1)
        self._not_before = max(self._not_before, float(state.get("not_before", float("-inf"))))

    def _dump(self, state: dict[str, Any]) -> None:
        state.update(
            day=self._day.isoformat() if self._day else None,
            count=self._day_count,
            sent=list(self._sent),
            not_before=self._not_before if self._not_before != float("-inf") else None,
        )
        if state["not_before"] is None:
            state.pop("not_before")

    def exhaust_day(self) -> None:
        """Record today's quota as used up (the service said so), in the shared state too."""
        if self.per_day is None:
            return
        with self._lock, self._shared_state() as state:
            if state is not None:
                self._load(state)
            self._day = self._today()
            self._day_count = max(self._day_count, self.per_day)
            if state is not None:
                self._dump(state)

    def defer(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` (after the server said 'slow down')."""
        self._not_before = max(self._not_before, self._clock() + seconds)

    @property
    def used_today(self) -> int:
        return self._day_count

    def quota(self) -> DailyQuota:
        """Today's daily quota as the shared state says now (other runs' requests included)."""
        with self._lock, self._shared_state() as state:
            if state is not None:
                self._load(state)
            used = self._day_count if self._day == self._today() else 0
        remaining = None if self.per_day is None else max(self.per_day - used, 0)
        return DailyQuota(limit=self.per_day, used=used, remaining=remaining)


@dataclass(frozen=True)
class DailyQuota:
    """Requests allowed per day (``None`` = no daily cap), already sent today, and left."""

    limit: int | None
    used: int
    remaining: int | None

    def allows(self, calls: int) -> bool:
        return self.remaining is None or calls <= self.remaining


_LIMITERS: dict[tuple[str, int | None, int | None, str | None], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_limiter(
    endpoint: str, per_minute: int | None, per_day: int | None, state_dir: str | None = None
) -> RateLimiter:
    """One limiter per (endpoint, limits) per process, shared by all resources and threads.

    With ``state_dir`` the limiter also coordinates with other processes on the
    machine through a locked state file (one per endpoint and limits).
    """
    state_path = None
    if state_dir:
        name = re.sub(r"[^A-Za-z0-9.-]", "_", f"{endpoint}-{per_minute}-{per_day}")
        state_path = f"{state_dir.rstrip('/')}/{name}.json"
    key = (endpoint, per_minute, per_day, state_path)
    with _LIMITERS_LOCK:
        if key not in _LIMITERS:
            _LIMITERS[key] = RateLimiter(per_minute, per_day, state_path=state_path)
        return _LIMITERS[key]


# -- local sandbox --------------------------------------------------------------------------------
_SANDBOXES: dict[tuple[int | None, int | None], Any] = {}
_SANDBOX_LOCK = threading.Lock()


def local_sandbox_url(per_minute: int | None, per_day: int | None) -> str:
    """Start (once per process) the sandbox on 127.0.0.1, an ephemeral port, a daemon thread."""
    from finance_platform.sandbox.server import SandboxServer

    with _SANDBOX_LOCK:
        key = (per_minute, per_day)
        if key not in _SANDBOXES:
            _SANDBOXES[key] = SandboxServer(
                host="127.0.0.1", port=0, per_minute=per_minute, per_day=per_day
            ).start()
        return _SANDBOXES[key].url


# -- secrets ----------------------------------------------------------------------------------
_SECRET_CACHE: dict[tuple[str, str | None], str] = {}


def read_api_key_secret(secret_id: str, region: str | None = None) -> str:
    """The key from AWS Secrets Manager: a plain string or JSON with ``api_key``/``apikey``."""
    cache_key = (secret_id, region)
    if cache_key not in _SECRET_CACHE:
        import boto3  # lazy: boto3 costs ~0.5 s to import

        client = boto3.client("secretsmanager", region_name=region)
        value = client.get_secret_value(SecretId=secret_id)["SecretString"].strip()
        if value.startswith("{"):
            data = json.loads(value)
            value = str(data.get("api_key") or data.get("apikey") or "")
        if not value:
            raise AlphaVantageError(
                ReplyKind.INVALID_REQUEST, f"secret {secret_id!r} holds no Alpha Vantage API key"
            )
        _SECRET_CACHE[cache_key] = value
    return _SECRET_CACHE[cache_key]


# -- the reply -------------------------------------------------------------------------------
@dataclass
class QuoteReply:
    """One successful reply, exactly as received, plus what we know about how it was obtained."""

    body: bytes
    payload: dict[str, Any]
    request: dict[str, str]  # query parameters without the key
    url: str  # endpoint + query, key redacted
    synthetic: bool
    attempts: int
    waited_seconds: float
    http_seconds: float
    total_seconds: float
    from_cache: bool = False
    notices: list[str] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def bar_count(self) -> int:
        series = self.payload.get("Time Series (Daily)") or {}
        return len(series)

    @property
    def source(self) -> str:
        return "sandbox" if self.synthetic else "alphavantage"

    @property
    def client_overhead_seconds(self) -> float:
        """Time spent in the client itself (not waiting for a slot, not on the network)."""
        return max(self.total_seconds - self.waited_seconds - self.http_seconds, 0.0)


_REPLY_CACHE: dict[tuple[str, str, str, str], tuple[float, QuoteReply]] = {}
_REPLY_CACHE_LOCK = threading.Lock()


# -- the resource -------------------------------------------------------------------------------
class AlphaVantageResource(dg.ConfigurableResource):
    """Daily time series from Alpha Vantage (or its local sandbox), classified and rate limited.

    Locally the key comes from ``ALPHAVANTAGE_API_KEY`` (via ``dg.EnvVar``); in
    production from AWS Secrets Manager (``api_key_secret_id``). With neither,
    the local sandbox is started and every log line, metadata entry and run
    tag says the data is synthetic.
    """

    base_url: str = Field(default=OFFICIAL_ALPHAVANTAGE_URL, description="API endpoint.")
    api_key: str | None = Field(
        default=None, repr=False, description="API key; unset = local sandbox."
    )
    api_key_secret_id: str | None = Field(
        default=None, description="AWS Secrets Manager secret holding the key (production)."
    )
    aws_region: str | None = Field(default=None, description="Region of the secret.")
    plan: str = Field(
        default="auto",
        description="Rate-limit preset: free (5/min, 25/day), premium (75/min), sandbox "
        "(600/min) or auto (sandbox without a key, else free).",
    )
    requests_per_minute: int | None = Field(default=None, description="Overrides the preset.")
    requests_per_day: int | None = Field(default=None, description="Overrides the preset.")
    adjusted: bool = Field(default=False, description="Use TIME_SERIES_DAILY_ADJUSTED.")
    timeout_seconds: float = Field(default=30.0, description="Per-request timeout.")
    max_attempts: int = Field(default=4, description="Attempts per request for retryable failures.")
    backoff_seconds: float = Field(default=2.0, description="First retry delay; doubles each time.")
    max_backoff_seconds: float = Field(default=65.0, description="Ceiling on one retry delay.")
    limiter_state_dir: str | None = Field(
        default=None,
        description="Folder for a rate-limit state file shared by all runs on this machine "
        "(per-minute spacing and the daily count then hold across processes); unset = "
        "per-process limiter only.",
    )
    reply_cache_seconds: float = Field(
        default=300.0,
        description="Reuse an identical reply fetched in this process within this many seconds "
        "(a backfill of one symbol needs one request, not one per day); 0 disables.",
    )

    # -- configuration helpers --------------------------------------------------------------
    @property
    def function(self) -> str:
        return FUNCTIONS[1] if self.adjusted else FUNCTIONS[0]

    def _has_key_source(self) -> bool:
        return bool(self.api_key) or bool(self.api_key_secret_id)

    @property
    def uses_sandbox(self) -> bool:
        """True when no key is configured: requests go to the local synthetic sandbox."""
        return not self._has_key_source()

    def limits(self) -> tuple[int | None, int | None]:
        plan = self.plan.lower()
        if plan == "auto":
            plan = "sandbox" if self.uses_sandbox else "free"
        if plan not in PLAN_LIMITS:
            raise AlphaVantageError(
                ReplyKind.PREMIUM, f"unknown plan {self.plan!r}; use one of {sorted(PLAN_LIMITS)}"
            )
        per_minute, per_day = PLAN_LIMITS[plan]
        if self.requests_per_minute is not None:
            per_minute = self.requests_per_minute or None
        if self.requests_per_day is not None:
            per_day = self.requests_per_day or None
        return per_minute, per_day

    def _endpoint_and_key(self) -> tuple[str, str, bool]:
        """(endpoint, key, synthetic). Starts the sandbox when no key is configured."""
        if self.api_key:
            return self.base_url, self.api_key, False
        if self.api_key_secret_id:
            key = read_api_key_secret(self.api_key_secret_id, self.aws_region)
            return self.base_url, key, False
        per_minute, per_day = self.limits()
        if self.base_url != OFFICIAL_ALPHAVANTAGE_URL:
            # A sandbox started elsewhere (`python -m finance_platform.sandbox`).
            return self.base_url, "sandbox", True
        return local_sandbox_url(per_minute, per_day), "sandbox", True

    def describe_source(self) -> dict[str, str]:
        """What run tags / metadata should say about where the data comes from."""
        if self.uses_sandbox:
            return {DATA_SOURCE_TAG: "synthetic-sandbox"}
        return {DATA_SOURCE_TAG: "alphavantage"}

    def _limiter(self, endpoint: str) -> RateLimiter:
        per_minute, per_day = self.limits()
        return shared_limiter(
            urlsplit(endpoint).netloc, per_minute, per_day, self.limiter_state_dir
        )

    def daily_quota(self) -> DailyQuota:
        """Today's quota from the limiter state shared by every run on this machine.

        Planning reads it before calling; the limiter still refuses a request over the cap
        (another process may have spent the quota meanwhile).
        """
        endpoint, _, _ = self._endpoint_and_key()
        return self._limiter(endpoint).quota()

    def seconds_between_requests(self) -> float:
        """The plan's spacing (60 s / per-minute limit): N calls take at least N x this."""
        per_minute, _ = self.limits()
        return 60.0 / per_minute if per_minute else 0.0

    # -- requests ---------------------------------------------------------------------------
    def fetch_daily(
        self,
        symbol: str,
        outputsize: str = "compact",
        log: logging.Logger | None = None,
    ) -> QuoteReply:
        """The daily series of ``symbol``; raises ``AlphaVantageError`` (key-free) on failure."""
        log = log or dg.get_dagster_logger("alpha_vantage")
        if outputsize not in ("compact", "full"):
            raise ValueError(f"outputsize must be 'compact' or 'full', got {outputsize!r}")
        symbol = symbol.strip().upper()
        request = {
            "function": self.function,
            "symbol": symbol,
            "outputsize": outputsize,
            "datatype": "json",
        }
        endpoint, key, synthetic = self._endpoint_and_key()
        cache_key = (endpoint, self.function, symbol, outputsize)
        if self.reply_cache_seconds > 0:
            with _REPLY_CACHE_LOCK:
                hit = _REPLY_CACHE.get(cache_key)
            if hit and time.monotonic() - hit[0] <= self.reply_cache_seconds:
                reply = hit[1]
                return QuoteReply(**{**reply.__dict__, "from_cache": True, "attempts": 0})
        if synthetic:
            log.warning(f"{SYNTHETIC_NOTICE} Fetching {self.function} {symbol} from the sandbox.")
        reply = self._request_with_retries(endpoint, key, request, synthetic, log)
        if self.reply_cache_seconds > 0:
            with _REPLY_CACHE_LOCK:
                _REPLY_CACHE[cache_key] = (time.monotonic(), reply)
        return reply

    def _request_with_retries(
        self,
        endpoint: str,
        key: str,
        request: dict[str, str],
        synthetic: bool,
        log: logging.Logger,
    ) -> QuoteReply:
        limiter = self._limiter(endpoint)
        shown_url = f"{endpoint}?{urlencode(request)}"  # the key is never part of it
        started = time.perf_counter()
        waited = http_time = 0.0
        notices: list[str] = []
        last: AlphaVantageError | None = None
        for attempt in range(1, max(self.max_attempts, 1) + 1):
            try:
                waited += limiter.acquire()
            except AlphaVantageError as exc:
                raise AlphaVantageError(exc.kind, str(exc), request) from None
            t0 = time.perf_counter()
            status, ctype, body, header_synthetic, failure = self._send(endpoint, key, request)
            http_time += time.perf_counter() - t0
            if failure is not None:
                result = Classification(ReplyKind.TRANSIENT, failure)
            else:
                result = classify_reply(status, body, ctype, request["function"], request["symbol"])
            if result.kind is ReplyKind.DATA:
                return QuoteReply(
                    body=body,
                    payload=result.payload or {},
                    request=dict(request),
                    url=shown_url,
                    synthetic=synthetic or header_synthetic,
                    attempts=attempt,
                    waited_seconds=waited,
                    http_seconds=http_time,
                    total_seconds=time.perf_counter() - started,
                    notices=notices,
                )
            message = redact(result.message, key)
            last = AlphaVantageError(result.kind, message, request)
            if result.kind is ReplyKind.DAILY_LIMIT:
                # The service has the last word on the day's quota (another client may share
                # the key): record it as spent, so every run plans with 0 left until the reset.
                limiter.exhaust_day()
            if result.kind not in RETRYABLE:
                break
            notices.append(result.kind.value)
            if attempt >= self.max_attempts:
                break
            delay = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))
            delay += random.uniform(0, delay * 0.25)  # noqa: S311 - jitter, not crypto
            if result.kind is ReplyKind.THROTTLED:
                limiter.defer(delay)
            log.warning(
                f"Alpha Vantage {result.kind.value} on attempt {attempt}/{self.max_attempts} "
                f"for {request['function']} {request['symbol']}: retrying in {delay:.1f}s. "
                f"{message}"
            )
            time.sleep(delay)
        assert last is not None
        if last.retryable:
            last = AlphaVantageError(
                last.kind,
                f"gave up after {self.max_attempts} attempts: {last}",
                request,
            )
        raise last

    def _send(
        self, endpoint: str, key: str, request: dict[str, str]
    ) -> tuple[int, str, bytes, bool, str | None]:
        """One GET. Returns (status, content type, body, sandbox header, failure text or None).

        Network exceptions are turned into key-free text here and never re-raised,
        because their messages and tracebacks contain the full URL with the key.
        """
        import requests  # lazy: keeps the code location import cheap

        _install_log_redaction()
        session = _session()
        try:
            resp = session.get(
                endpoint, params={**request, "apikey": key}, timeout=self.timeout_seconds
            )
            body = resp.content
        except requests.Timeout:
            return (
                0,
                "",
                b"",
                False,
                (
                    f"timed out after {self.timeout_seconds:.0f}s fetching "
                    f"{request['function']} {request['symbol']}"
                ),
            )
        except requests.RequestException as exc:
            return (
                0,
                "",
                b"",
                False,
                (
                    f"connection error fetching {request['function']} {request['symbol']} "
                    f"({type(exc).__name__})"
                ),
            )
        return (
            resp.status_code,
            resp.headers.get("Content-Type", ""),
            body,
            resp.headers.get(SANDBOX_HEADER, "").lower() == "synthetic",
            None,
        )


_SESSIONS = threading.local()


def _session() -> Any:
    """A keep-alive HTTP session per thread (requests.Session is not guaranteed thread-safe)."""
    session = getattr(_SESSIONS, "session", None)
    if session is None:
        import requests

        session = requests.Session()
        session.headers["User-Agent"] = "finance_platform/0.1"
        _SESSIONS.session = session
    return session


def reset_process_state() -> None:
    """Forget shared limiters, cached replies and secrets (tests; a long-lived process)."""
    with _LIMITERS_LOCK:
        _LIMITERS.clear()
    with _REPLY_CACHE_LOCK:
        _REPLY_CACHE.clear()
    _SECRET_CACHE.clear()


def data_source_tags(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Run tags saying where quotes come from, decided by whether a key source is configured.

    Only the *presence* of ``ALPHAVANTAGE_API_KEY`` is looked at (never its value);
    production (``FINANCE_ENV=prod``) reads the key from Secrets Manager.
    """
    import os

    environ = os.environ if env is None else env
    has_key = bool(environ.get("ALPHAVANTAGE_API_KEY", "").strip())
    prod = environ.get("FINANCE_ENV", "local").strip().lower() == "prod"
    return {DATA_SOURCE_TAG: "alphavantage" if has_key or prod else "synthetic-sandbox"}


def build_alpha_vantage(env: str, aws_region: str | None = None) -> AlphaVantageResource:
    """The resource for ``env``: key from ``ALPHAVANTAGE_API_KEY`` or Secrets Manager (prod).

    Locally, no key set means the local sandbox (synthetic data). The key
    itself is passed as ``dg.EnvVar`` so it is resolved at run time, never stored.
    """
    import os

    base_url = os.environ.get("ALPHAVANTAGE_BASE_URL", "").strip() or OFFICIAL_ALPHAVANTAGE_URL
    plan = os.environ.get("ALPHAVANTAGE_PLAN", "").strip().lower() or "auto"
    if env == "prod":
        return AlphaVantageResource(
            base_url=base_url,
            api_key_secret_id=os.environ.get("ALPHAVANTAGE_SECRET_ID", "").strip()
            or "finance-platform/alphavantage-api-key",
            aws_region=aws_region,
            plan=plan,
        )
    has_key = bool(os.environ.get("ALPHAVANTAGE_API_KEY", "").strip())
    home = os.environ.get("DAGSTER_HOME", "").strip()
    return AlphaVantageResource(
        base_url=base_url,
        api_key=dg.EnvVar("ALPHAVANTAGE_API_KEY") if has_key else None,
        plan=plan,
        # The real quota is per key, shared by every run on this machine.
        limiter_state_dir=f"{home}/alpha_vantage_limits" if has_key and home else None,
    )
