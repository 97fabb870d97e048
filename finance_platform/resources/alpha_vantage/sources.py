"""Where requests go and with which key: the local sandbox, or a key from Secrets Manager."""

from __future__ import annotations

import json
import threading
from typing import Any

from finance_platform.resources.alpha_vantage.classification import AlphaVantageError, ReplyKind

# -- local sandbox ------------------------------------------------------------------------------
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


def forget_secrets() -> None:
    """Drop cached keys, so the next request reads the secret again (tests; key rotation)."""
    _SECRET_CACHE.clear()
