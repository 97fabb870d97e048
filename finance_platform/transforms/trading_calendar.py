"""US equity market (NYSE/Nasdaq) trading calendar: weekdays minus exchange holidays.

Pure functions, no I/O: the market partitions, the schedule, the sandbox and the
checks all ask the same question ("was the market open on day D?") here.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

# One-off closures (national days of mourning, weather, 9/11) that no rule predicts.
SPECIAL_CLOSURES: dict[dt.date, str] = {
    dt.date(2001, 9, 11): "September 11 attacks",
    dt.date(2001, 9, 12): "September 11 attacks",
    dt.date(2001, 9, 13): "September 11 attacks",
    dt.date(2001, 9, 14): "September 11 attacks",
    dt.date(2004, 6, 11): "National Day of Mourning (Ronald Reagan)",
    dt.date(2007, 1, 2): "National Day of Mourning (Gerald Ford)",
    dt.date(2012, 10, 29): "Hurricane Sandy",
    dt.date(2012, 10, 30): "Hurricane Sandy",
    dt.date(2018, 12, 5): "National Day of Mourning (George H. W. Bush)",
    dt.date(2025, 1, 9): "National Day of Mourning (Jimmy Carter)",
}


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th (1-based) ``weekday`` (Mon=0) of a month; n=-1 is the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month = (h + m - 7 * n + 114) // 31
    day = (h + m - 7 * n + 114) % 31 + 1
    return dt.date(year, month, day)


def _observed(day: dt.date) -> dt.date:
    """Saturday holidays close the Friday before, Sunday ones the Monday after."""
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


@lru_cache(maxsize=256)
def holidays_in_year(year: int) -> dict[dt.date, str]:
    """Full-day exchange closures in ``year`` (regular holidays plus special closures)."""
    days: dict[dt.date, str] = {}
    new_year = dt.date(year, 1, 1)
    # NYSE rule: a Saturday New Year's Day is not made up on the Friday before.
    if new_year.weekday() != 5:
        days[_observed(new_year)] = "New Year's Day"
    if year >= 1998:
        days[_nth_weekday(year, 1, 0, 3)] = "Martin Luther King Jr. Day"
    days[_nth_weekday(year, 2, 0, 3)] = "Washington's Birthday"
    days[_easter(year) - dt.timedelta(days=2)] = "Good Friday"
    days[_nth_weekday(year, 5, 0, -1)] = "Memorial Day"
    if year >= 2022:
        days[_observed(dt.date(year, 6, 19))] = "Juneteenth"
    days[_observed(dt.date(year, 7, 4))] = "Independence Day"
    days[_nth_weekday(year, 9, 0, 1)] = "Labor Day"
    days[_nth_weekday(year, 11, 3, 4)] = "Thanksgiving Day"
    days[_observed(dt.date(year, 12, 25))] = "Christmas Day"
    # Next year's New Year's Day observed on this year's Dec 31 never happens (rule above).
    for day, name in SPECIAL_CLOSURES.items():
        if day.year == year:
            days[day] = name
    return days


def _as_date(day: dt.date | str) -> dt.date:
    return dt.date.fromisoformat(day) if isinstance(day, str) else day


def holiday_name(day: dt.date | str) -> str | None:
    """Why the market is closed on a weekday (``None`` if open or a weekend)."""
    d = _as_date(day)
    return holidays_in_year(d.year).get(d)


def is_trading_day(day: dt.date | str) -> bool:
    """True on weekdays that are not exchange holidays."""
    d = _as_date(day)
    return d.weekday() < 5 and d not in holidays_in_year(d.year)


def market_closed_reason(day: dt.date | str) -> str | None:
    """A plain-words reason the market is closed on ``day``, or ``None`` if it is open."""
    d = _as_date(day)
    if d.weekday() >= 5:
        return "weekend"
    return holiday_name(d)


def trading_days(start: dt.date | str, end: dt.date | str) -> list[dt.date]:
    """Trading days in ``[start, end]``, oldest first."""
    s, e = _as_date(start), _as_date(end)
    out = []
    d = s
    while d <= e:
        if is_trading_day(d):
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def previous_trading_day(day: dt.date | str, inclusive: bool = True) -> dt.date:
    """The latest trading day on or before ``day`` (strictly before if not ``inclusive``)."""
    d = _as_date(day)
    if not inclusive:
        d -= dt.timedelta(days=1)
    while not is_trading_day(d):
        d -= dt.timedelta(days=1)
    return d


def trading_days_between(older: dt.date | str, newer: dt.date | str) -> int:
    """How many trading days lie after ``older`` up to and including ``newer``."""
    o, n = _as_date(older), _as_date(newer)
    if n <= o:
        return 0
    return len(trading_days(o + dt.timedelta(days=1), n))


MARKET_TIMEZONE = "America/New_York"
# Daily bars are final some time after the 16:00 close; before this, today's bar is not "latest".
DATA_READY_AFTER = dt.time(17, 0)


def market_today(now: dt.datetime | None = None) -> dt.date:
    """The latest day whose bars should be final: today after 17:00 New York, else yesterday."""
    from zoneinfo import ZoneInfo

    local = (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(MARKET_TIMEZONE))
    return local.date() if local.time() >= DATA_READY_AFTER else local.date() - dt.timedelta(days=1)
