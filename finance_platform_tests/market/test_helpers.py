"""Small decisions the market assets make: request size, chart, resource repr."""

import datetime as dt

import pandas as pd

from finance_platform.defs.market.assets import choose_outputsize, price_chart_markdown
from finance_platform.resources.alpha_vantage import AlphaVantageResource


def test_recent_days_use_compact_and_backfills_use_full():
    today = dt.date(2023, 11, 10)
    assert choose_outputsize("2023-11-10", today) == "compact"
    assert choose_outputsize("2023-07-03", today) == "compact"  # ~90 trading days back
    assert choose_outputsize("2023-06-01", today) == "full"  # beyond a compact reply
    assert choose_outputsize("2020-01-02", today) == "full"


def test_price_chart_is_an_inline_png():
    bars = pd.DataFrame(
        {"trade_date": pd.date_range("2023-10-02", periods=30, freq="B"), "close": range(30)}
    )
    md = price_chart_markdown(bars, "IBM", "2023-11-10")
    assert md.startswith("![IBM close](data:image/png;base64,")
    assert len(md) < 40_000  # small enough for event-log metadata


def test_resource_repr_hides_the_key():
    resource = AlphaVantageResource(api_key="REPR-SECRET-1")
    assert "REPR-SECRET-1" not in repr(resource) and "REPR-SECRET-1" not in str(resource)
