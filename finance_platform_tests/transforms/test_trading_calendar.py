"""US market calendar: which weekdays the exchange is closed."""

import datetime as dt

import pytest

from finance_platform.transforms import trading_calendar as cal


@pytest.mark.parametrize(
    ("day", "name"),
    [
        ("2023-01-02", "New Year's Day"),  # Sunday Jan 1 -> observed Monday
        ("2023-01-16", "Martin Luther King Jr. Day"),
        ("2023-02-20", "Washington's Birthday"),
        ("2023-04-07", "Good Friday"),
        ("2023-05-29", "Memorial Day"),
        ("2023-06-19", "Juneteenth"),
        ("2023-07-04", "Independence Day"),
        ("2023-09-04", "Labor Day"),
        ("2023-11-23", "Thanksgiving Day"),
        ("2023-12-25", "Christmas Day"),
        ("2022-12-26", "Christmas Day"),  # Sunday -> Monday
        ("2021-07-05", "Independence Day"),  # Sunday -> Monday
        ("2020-07-03", "Independence Day"),  # Saturday -> Friday
        ("2025-01-09", "National Day of Mourning (Jimmy Carter)"),
        ("2024-03-29", "Good Friday"),
    ],
)
def test_exchange_holidays(day, name):
    assert cal.holiday_name(day) == name
    assert not cal.is_trading_day(day)


def test_saturday_new_year_is_not_made_up_on_friday():
    assert cal.is_trading_day("2021-12-31")


def test_juneteenth_only_from_2022():
    assert cal.is_trading_day("2021-06-18")


def test_trading_day_counts_match_the_exchange():
    assert len(cal.trading_days("2023-01-01", "2023-12-31")) == 250
    assert len(cal.trading_days("2024-01-01", "2024-12-31")) == 252


def test_weekends_are_closed_and_previous_trading_day_skips_them():
    assert cal.market_closed_reason("2023-11-11") == "weekend"
    assert cal.previous_trading_day("2023-11-12") == dt.date(2023, 11, 10)
    assert cal.previous_trading_day("2023-11-24") == dt.date(2023, 11, 24)
    assert cal.previous_trading_day("2023-11-24", inclusive=False) == dt.date(2023, 11, 22)


def test_market_today_waits_for_the_close():
    before = dt.datetime(2023, 11, 10, 20, 0, tzinfo=dt.UTC)  # 15:00 New York
    after = dt.datetime(2023, 11, 10, 22, 30, tzinfo=dt.UTC)  # 17:30 New York
    assert cal.market_today(before) == dt.date(2023, 11, 9)
    assert cal.market_today(after) == dt.date(2023, 11, 10)
