"""Exchange calendars: which weekdays each exchange is closed, and why, per symbol."""

import datetime as dt
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finance_platform.transforms import trading_calendar as cal

SUPPORTED_SYMBOLS = ("IBM", "AAPL", "600104.SHH", "000002.SHZ", "TSCO.LON")


# Names as exchange_calendars words them ("Thanksgiving", "July 4th", ...); the one-off
# closures, which the library lists by date only, keep the platform's labels.
@pytest.mark.parametrize(
    ("day", "name"),
    [
        ("2023-01-02", "New Year's Day"),  # Sunday Jan 1 -> observed Monday
        ("2023-01-16", "Dr. Martin Luther King Jr. Day"),
        ("2023-02-20", "President's Day"),
        ("2023-04-07", "Good Friday"),
        ("2023-05-29", "Memorial Day"),
        ("2023-06-19", "Juneteenth National Independence Day"),
        ("2023-07-04", "July 4th"),
        ("2023-09-04", "Labor Day"),
        ("2023-11-23", "Thanksgiving"),
        ("2023-12-25", "Christmas"),
        ("2022-12-26", "Christmas"),  # Sunday -> Monday
        ("2021-07-05", "July 4th"),  # Sunday -> Monday
        ("2020-07-03", "July 4th"),  # Saturday -> Friday
        ("2025-01-09", "National Day of Mourning (Jimmy Carter)"),
        ("2024-03-29", "Good Friday"),
    ],
)
def test_exchange_holidays(day, name):
    assert cal.holiday_name(day) == name
    assert cal.market_closed_reason(day) == name
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
    assert cal.holiday_name("2023-11-11") is None
    assert cal.previous_trading_day("2023-11-12") == dt.date(2023, 11, 10)
    assert cal.previous_trading_day("2023-11-24") == dt.date(2023, 11, 24)
    assert cal.previous_trading_day("2023-11-24", inclusive=False) == dt.date(2023, 11, 22)


def test_trading_days_between_counts_after_older_up_to_newer():
    assert cal.trading_days_between("2023-11-22", "2023-11-27") == 2  # skips Thanksgiving
    assert cal.trading_days_between("2023-11-27", "2023-11-22") == 0
    assert cal.trading_days_between(dt.date(2023, 11, 24), dt.date(2023, 11, 24)) == 0


def test_market_today_waits_for_the_close():
    before = dt.datetime(2023, 11, 10, 20, 0, tzinfo=dt.UTC)  # 15:00 New York
    after = dt.datetime(2023, 11, 10, 22, 30, tzinfo=dt.UTC)  # 17:30 New York
    assert cal.market_today(before) == dt.date(2023, 11, 9)
    assert cal.market_today(after) == dt.date(2023, 11, 10)


def test_us_symbols_and_no_symbol_share_the_nyse_calendar():
    assert cal.exchange_for("IBM") is cal.exchange_for(None) is cal.NYSE
    assert cal.calendar_for("AAPL").name == "XNYS"
    assert cal.market_timezone() == cal.MARKET_TIMEZONE == "America/New_York"
    assert cal.NYSE.data_ready_after == cal.DATA_READY_AFTER
    assert cal.DATA_READY_AFTER.hour == 17
    assert cal.market_closed_reason("2023-11-23", symbol="IBM") == "Thanksgiving"


@pytest.mark.parametrize("symbol", ["600104.SHH", "000002.SHZ"])
def test_mainland_china_golden_week_is_closed(symbol):
    golden_week = [dt.date(2024, 10, 1) + dt.timedelta(days=i) for i in range(7)]
    assert not any(cal.is_trading_day(d, symbol=symbol) for d in golden_week)
    assert cal.market_closed_reason("2024-10-01", symbol=symbol) == cal.AD_HOC_CLOSURE
    assert cal.market_closed_reason("2024-10-05", symbol=symbol) == "weekend"
    assert cal.is_trading_day("2024-10-08", symbol=symbol)
    assert cal.is_trading_day("2024-10-01")  # an ordinary Tuesday in New York
    assert cal.previous_trading_day("2024-10-07", symbol=symbol) == dt.date(2024, 9, 30)
    assert cal.trading_days("2024-09-30", "2024-10-08", symbol=symbol) == [
        dt.date(2024, 9, 30),
        dt.date(2024, 10, 8),
    ]
    assert cal.calendar_for(symbol).name == "XSHG"
    assert cal.market_timezone(symbol) == "Asia/Shanghai"


def test_london_bank_holidays_are_closed():
    assert cal.holiday_name("2024-12-26", symbol="TSCO.LON") == "Boxing Day"
    assert cal.holiday_name("2024-08-26", symbol="TSCO.LON") == "Summer Bank Holiday"
    assert cal.is_trading_day("2024-08-26")  # not a US holiday
    assert cal.is_trading_day("2024-08-27", symbol="TSCO.LON")
    assert cal.is_trading_day("2024-11-28", symbol="TSCO.LON")  # US Thanksgiving
    # The Queen's funeral: a one-off closure the library lists without a name.
    assert cal.market_closed_reason("2022-09-19", symbol="TSCO.LON") == cal.AD_HOC_CLOSURE
    assert set(cal.holidays_in_year(2024, symbol="tsco.lon")) == {
        dt.date(2024, 1, 1),
        dt.date(2024, 3, 29),
        dt.date(2024, 4, 1),
        dt.date(2024, 5, 6),
        dt.date(2024, 5, 27),
        dt.date(2024, 8, 26),
        dt.date(2024, 12, 25),
        dt.date(2024, 12, 26),
    }
    assert cal.market_timezone("TSCO.LON") == "Europe/London"


def test_an_unknown_exchange_suffix_is_refused_by_name():
    with pytest.raises(ValueError, match=r"'\.XYZ'.*\.SHH, \.SHZ, \.LON"):
        cal.is_trading_day("2024-10-01", symbol="FOO.XYZ")
    with pytest.raises(cal.UnknownExchangeError):
        cal.market_today(symbol="FOO.XYZ")


def test_dates_outside_the_calendar_window_raise_instead_of_guessing():
    start, end = cal.calendar_window("600104.SHH")
    assert start == cal.CALENDAR_START
    with pytest.raises(cal.OutsideCalendarError, match="outside the XSHG calendar"):
        cal.is_trading_day(end + dt.timedelta(days=1), symbol="600104.SHH")
    with pytest.raises(cal.OutsideCalendarError):
        cal.trading_days("1999-12-01", "2000-01-31")
    with pytest.raises(cal.OutsideCalendarError, match="no XNYS trading day before"):
        cal.previous_trading_day(start)  # 2000-01-01, a Saturday holiday: nothing before it


def test_the_symbols_time_zone_decides_market_today():
    # 08:30 UTC: 16:30 in Shanghai (bars settled), 04:30 in New York (yesterday's are latest).
    now = dt.datetime(2024, 3, 15, 8, 30, tzinfo=dt.UTC)
    assert cal.market_today(now, symbol="600104.SHH") == dt.date(2024, 3, 15)
    assert cal.market_today(now, symbol="IBM") == dt.date(2024, 3, 14)
    assert cal.market_today(now.replace(hour=7), symbol="600104.SHH") == dt.date(2024, 3, 14)
    # London on summer time: 16:45 UTC is 17:45 BST, past the 17:30 ready time; 16:15 is not.
    summer = dt.datetime(2024, 7, 1, 16, 45, tzinfo=dt.UTC)
    assert cal.market_today(summer, symbol="TSCO.LON") == dt.date(2024, 7, 1)
    assert cal.market_today(summer.replace(minute=15), symbol="TSCO.LON") == dt.date(2024, 6, 30)


@pytest.mark.parametrize(
    "exchange", sorted(set(cal.EXCHANGES_BY_SUFFIX.values()), key=str), ids=lambda e: e.name
)
def test_bars_are_ready_after_each_exchanges_close(exchange):
    library = cal._load(exchange.calendar_code).library
    assert str(library.tz) == exchange.timezone
    assert all(close < exchange.data_ready_after for _, close in library.close_times)


def test_one_off_closure_labels_only_name_closures_the_library_has():
    library = cal.calendar_for("IBM")
    ad_hoc = {stamp.date() for stamp in library.adhoc_holidays}
    for day, label in cal.SPECIAL_CLOSURES.items():
        assert day in ad_hoc and not cal.is_trading_day(day)
        assert cal.market_closed_reason(day) == label


def test_importing_the_module_does_not_load_the_library():
    code = (
        "import sys, datetime as dt\n"
        "from finance_platform.transforms import trading_calendar as cal\n"
        "cal.market_today(dt.datetime(2024, 1, 2, tzinfo=dt.UTC), symbol='TSCO.LON')\n"
        "assert 'exchange_calendars' not in sys.modules and 'pandas' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _common_window() -> tuple[dt.date, dt.date]:
    windows = [cal.calendar_window(s) for s in SUPPORTED_SYMBOLS]
    return max(w[0] for w in windows), min(w[1] for w in windows)


FIRST, LAST = _common_window()


@settings(max_examples=300, deadline=None)
@given(
    symbol=st.sampled_from(SUPPORTED_SYMBOLS),
    start=st.dates(min_value=FIRST, max_value=LAST),
    span=st.integers(min_value=-3, max_value=60),
)
def test_every_answer_agrees_with_is_trading_day(symbol, start, span):
    end = min(start + dt.timedelta(days=span), LAST)
    reason = cal.market_closed_reason(start, symbol=symbol)
    assert cal.is_trading_day(start, symbol=symbol) == (reason is None)
    if reason is not None:
        assert reason == "weekend" or reason == cal.holiday_name(start, symbol=symbol)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    expected = [d for d in days if cal.is_trading_day(d, symbol=symbol)]
    assert cal.trading_days(start, end, symbol=symbol) == expected
    assert cal.trading_days_between(start, end, symbol=symbol) == len(
        [d for d in expected if d > start]
    )
    if expected:
        assert cal.previous_trading_day(end, symbol=symbol) == expected[-1]
