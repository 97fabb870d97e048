"""The real recorded Alpha Vantage replies, where the team's shared folder is beside the clone.

The project's own fixtures (``finance_platform_tests/fixtures/alpha_vantage``) keep the suite
self-contained; these tests also hold the parser and the classifier to the service's real
replies (``../shared/fixtures/alpha_vantage``, or ``FINANCE_AV_RECORDINGS``). A clone without
that folder skips them; CI on the team's machines has it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from finance_platform.resources.alpha_vantage import ReplyKind, classify_reply
from finance_platform.transforms import quotes as qt

RECORDINGS = Path(
    os.environ.get(
        "FINANCE_AV_RECORDINGS",
        Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "alpha_vantage",
    )
)

pytestmark = pytest.mark.skipif(
    not (RECORDINGS / "time_series_daily_IBM_compact.json").is_file(),
    reason=f"no recorded Alpha Vantage replies at {RECORDINGS}",
)


def _recorded(name: str) -> bytes:
    return (RECORDINGS / name).read_bytes()


def test_recorded_ibm_reply_parses_to_100_bars_with_the_recorded_values():
    bars = qt.parse_daily_reply(_recorded("time_series_daily_IBM_compact.json"), "IBM")
    assert len(bars) == 100
    assert (bars["trade_date"].min(), bars["trade_date"].max()) == (
        pd.Timestamp("2023-06-22"),
        pd.Timestamp("2023-11-10"),
    )
    bar = bars[bars["trade_date"] == pd.Timestamp("2023-11-10")].iloc[0]
    assert (bar["open"], bar["high"], bar["low"], bar["close"]) == (147.44, 149.17, 146.85, 149.02)
    assert bar["volume"] == 3179541
    ok = classify_reply(200, _recorded("time_series_daily_IBM_compact.json"), "", "X", "IBM")
    assert ok.kind is ReplyKind.DATA


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("error_note_rate_limit_5_per_minute.json", ReplyKind.THROTTLED),
        ("error_information_daily_limit_25_per_day.json", ReplyKind.DAILY_LIMIT),
        ("error_message_invalid_api_call_TIME_SERIES_DAILY.json", ReplyKind.INVALID_REQUEST),
    ],
)
def test_recorded_notices_are_classified(name, kind):
    result = classify_reply(200, _recorded(name), "application/json", "TIME_SERIES_DAILY", "IBM")
    assert result.kind is kind
    assert "TIME_SERIES_DAILY for IBM" in result.message  # says what was asked
