"""Key hygiene: the API key never reaches a log line, an error text or stored metadata."""

from __future__ import annotations

import logging
import re
import threading

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


def install_log_redaction() -> None:
    """Scrub ``apikey=`` from the HTTP libraries' own log lines (once per process)."""
    with _filter_installed:
        for name in ("urllib3.connectionpool", "requests"):
            if name not in _FILTERED:
                logging.getLogger(name).addFilter(_RedactKeyFilter())
                _FILTERED.add(name)
