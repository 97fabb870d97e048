"""Synthetic bars fall on the sessions of the symbol's own exchange."""

import datetime as dt

import pytest

from finance_platform.sandbox.prices import HISTORY_START, daily_bars
from finance_platform.transforms.trading_calendar import trading_days

AS_OF = dt.date(2024, 12, 31)


def _days(symbol: str) -> set[dt.date]:
    return {bar.day for bar in daily_bars(symbol, AS_OF)}


def test_shanghai_bars_skip_golden_week_and_new_york_bars_do_not():
    shanghai, new_york = _days("600104.SHH"), _days("IBM")
    assert dt.date(2024, 10, 1) not in shanghai and dt.date(2024, 10, 8) in shanghai
    assert dt.date(2024, 10, 1) in new_york
    assert dt.date(2024, 11, 28) in shanghai and dt.date(2024, 11, 28) not in new_york


def test_london_bars_skip_bank_holidays():
    london = _days("TSCO.LON")
    assert dt.date(2024, 8, 26) not in london and dt.date(2024, 12, 26) not in london
    assert dt.date(2024, 7, 4) in london


@pytest.mark.parametrize("symbol", ["IBM", "000002.SHZ", "TSCO.LON"])
def test_bars_are_exactly_the_exchanges_sessions(symbol):
    bars = daily_bars(symbol, AS_OF)
    assert [bar.day for bar in bars] == trading_days(HISTORY_START, AS_OF, symbol=symbol)


def test_a_symbol_on_an_unknown_exchange_has_no_bars():
    with pytest.raises(ValueError, match="XYZ"):
        daily_bars("FOO.XYZ", AS_OF)
