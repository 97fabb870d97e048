"""Alpha Vantage client as a Dagster resource: reply classification, retries, rate limits, sandbox.

One module per responsibility: ``classification`` (what a reply means; the service
answers most problems with HTTP 200 and a notice), ``redaction`` (the API key never
reaches logs, metadata, stored URLs or exception texts), ``limiter`` (per-minute and
per-day caps shared by threads and by runs on one machine), ``sources`` (the local
sandbox, Secrets Manager) and ``resource`` (the Dagster resource, its retries and reply
cache, and the resource for each environment). The names below are what the rest of
the platform imports; the modules hold the rest.
"""

from finance_platform.resources.alpha_vantage.classification import (
    AlphaVantageError,
    ReplyKind,
    classify_reply,
)
from finance_platform.resources.alpha_vantage.limiter import DailyQuota, RateLimiter
from finance_platform.resources.alpha_vantage.redaction import redact
from finance_platform.resources.alpha_vantage.resource import (
    DATA_SOURCE_TAG,
    SYNTHETIC_NOTICE,
    AlphaVantageResource,
    QuoteReply,
    build_alpha_vantage,
    data_source_tags,
    reset_process_state,
)

__all__ = [
    "DATA_SOURCE_TAG",
    "SYNTHETIC_NOTICE",
    "AlphaVantageError",
    "AlphaVantageResource",
    "DailyQuota",
    "QuoteReply",
    "RateLimiter",
    "ReplyKind",
    "build_alpha_vantage",
    "classify_reply",
    "data_source_tags",
    "redact",
    "reset_process_state",
]
