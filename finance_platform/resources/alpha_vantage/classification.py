"""What an Alpha Vantage reply means: data, or which kind of failure (pure, no I/O).

The service answers almost every problem with HTTP 200 and a JSON notice, so every reply
is classified before anyone trusts it; the kind decides whether to retry, wait or stop.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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
