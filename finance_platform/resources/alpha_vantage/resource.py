"""The Dagster resource: daily series from Alpha Vantage (or the local sandbox), with retries.

Every reply is classified (``classification``) before anyone trusts it, requests wait for
the shared limiter (``limiter``), and the key is only ever placed in the outgoing query
string (``redaction``). With no key configured the resource starts the local sandbox
(``sources``) on 127.0.0.1, talks to it through the very same code path, and says so.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import dagster as dg
from pydantic import Field

from finance_platform.resources.alpha_vantage.classification import (
    RETRYABLE,
    AlphaVantageError,
    Classification,
    ReplyKind,
    classify_reply,
)
from finance_platform.resources.alpha_vantage.limiter import (
    DailyQuota,
    RateLimiter,
    forget_shared_limiters,
    shared_limiter,
)
from finance_platform.resources.alpha_vantage.redaction import install_log_redaction, redact
from finance_platform.resources.alpha_vantage.sources import (
    forget_secrets,
    local_sandbox_url,
    read_api_key_secret,
)
from finance_platform.settings import OFFICIAL_ALPHAVANTAGE_URL, Settings

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

        install_log_redaction()
        what = f"{request['function']} {request['symbol']}"
        try:
            resp = _session().get(
                endpoint, params={**request, "apikey": key}, timeout=self.timeout_seconds
            )
            body = resp.content  # inside the try: reading the body can fail like the request
        except requests.Timeout:
            failure = f"timed out after {self.timeout_seconds:.0f}s fetching {what}"
        except requests.RequestException as exc:
            failure = f"connection error fetching {what} ({type(exc).__name__})"
        else:
            return (
                resp.status_code,
                resp.headers.get("Content-Type", ""),
                body,
                resp.headers.get(SANDBOX_HEADER, "").lower() == "synthetic",
                None,
            )
        return 0, "", b"", False, failure


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
    forget_shared_limiters()
    with _REPLY_CACHE_LOCK:
        _REPLY_CACHE.clear()
    forget_secrets()


def data_source_tags(settings: Settings) -> dict[str, str]:
    """Run tags saying where quotes come from: Alpha Vantage, or the sandbox's synthetic data.

    Decided by ``settings.quotes_are_real``: whether a key source is configured (only the
    *presence* of ``ALPHAVANTAGE_API_KEY`` counts, never its value; production reads the
    key from Secrets Manager).
    """
    return {DATA_SOURCE_TAG: "alphavantage" if settings.quotes_are_real else "synthetic-sandbox"}


def build_alpha_vantage(settings: Settings) -> AlphaVantageResource:
    """The resource for ``settings.env``: key from ``ALPHAVANTAGE_API_KEY`` or Secrets Manager.

    Locally, no key set means the local sandbox (synthetic data). The key itself is passed
    as ``dg.EnvVar`` so Dagster resolves it at run time and it is never stored or printed;
    ``settings.alpha_vantage`` only says whether it is set.
    """
    s = settings.alpha_vantage
    if not settings.is_local:
        return AlphaVantageResource(
            base_url=s.base_url,
            api_key_secret_id=s.secret_id,
            aws_region=settings.aws_region,
            plan=s.plan,
        )
    return AlphaVantageResource(
        base_url=s.base_url,
        api_key=dg.EnvVar("ALPHAVANTAGE_API_KEY") if s.key_is_set else None,
        plan=s.plan,
        # The real quota is per key, shared by every run on this machine.
        limiter_state_dir=s.limiter_state_dir if s.key_is_set else None,
    )
