"""Exchange trading calendars of the symbols we quote: was the market open on day D, if not why.

Pure functions over the ``exchange_calendars`` library (XNYS, XSHG, XLON), so new holidays and
one-off closures arrive with library updates. The market partitions, the schedule, the sandbox
and the checks all ask their calendar questions here.

Every question takes ``symbol=`` (default: a US listing); the symbol's Alpha Vantage exchange
suffix picks the calendar. Dates outside a calendar's window (``calendar_window``) raise
``OutsideCalendarError`` instead of guessing: a weekday-only guess would call Chinese New Year
or an unannounced closure "open", and the platform turns these answers into "market closed"
partitions and skipped runs.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from exchange_calendars import ExchangeCalendar


@dataclass(frozen=True)
class Exchange:
    """Where a symbol trades, as far as the platform needs to know."""

    name: str
    calendar_code: str  # the exchange_calendars name (ISO 10383 MIC)
    timezone: str
    # Daily bars are final some time after the close; before this local time today's bar is
    # not "latest" yet.
    data_ready_after: dt.time


NYSE = Exchange("New York Stock Exchange", "XNYS", "America/New_York", dt.time(17, 0))
SHANGHAI = Exchange("Shanghai Stock Exchange", "XSHG", "Asia/Shanghai", dt.time(16, 0))
# exchange_calendars has no XSHE: Shenzhen closes on the same mainland-China holidays as
# Shanghai (both follow the State Council's holiday schedule), so XSHG answers for it.
SHENZHEN = Exchange("Shenzhen Stock Exchange", "XSHG", "Asia/Shanghai", dt.time(16, 0))
LONDON = Exchange("London Stock Exchange", "XLON", "Europe/London", dt.time(17, 30))

# Alpha Vantage's exchange suffix -> exchange. No suffix is a US listing: NYSE and Nasdaq close
# on the same days, and XNYS is the calendar the library keeps for both.
EXCHANGES_BY_SUFFIX: dict[str, Exchange] = {
    "": NYSE,
    ".SHH": SHANGHAI,
    ".SHZ": SHENZHEN,
    ".LON": LONDON,
}

# The US market's clock, for callers that have no symbol (partitions, schedules).
MARKET_TIMEZONE = NYSE.timezone
DATA_READY_AFTER = NYSE.data_ready_after

# Calendar window: from the sandbox's first bar to about two years ahead, shortened to the last
# day a calendar's holidays are recorded for (XSHG lists its holidays year by year).
CALENDAR_START = dt.date(2000, 1, 1)
CALENDAR_DAYS_AHEAD = 731

AD_HOC_CLOSURE = "exchange closed (ad hoc closure)"

# The library lists one-off closures by date only. These are their names, shown as the reason
# in the UI; they never decide whether the market is open (the library does: a test holds each
# date to being a closure there). A closure missing here reads as AD_HOC_CLOSURE.
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
_CLOSURE_LABELS: dict[str, dict[dt.date, str]] = {NYSE.calendar_code: SPECIAL_CLOSURES}


class UnknownExchangeError(ValueError):
    """A symbol's exchange suffix has no calendar here."""


class OutsideCalendarError(ValueError):
    """A date the exchange's calendar does not cover (see ``calendar_window``)."""


@lru_cache(maxsize=1024)
def exchange_for(symbol: str | None = None) -> Exchange:
    """The exchange of an Alpha Vantage symbol (``IBM`` -> NYSE, ``600104.SHH`` -> Shanghai)."""
    if symbol is None:
        return NYSE
    ticker, dot, tail = symbol.strip().upper().rpartition(".")
    if not (ticker if dot else tail):
        raise UnknownExchangeError(f"symbol {symbol!r} has no ticker")
    suffix = f".{tail}" if dot else ""
    exchange = EXCHANGES_BY_SUFFIX.get(suffix)
    if exchange is None:
        supported = ", ".join(s for s in EXCHANGES_BY_SUFFIX if s)
        raise UnknownExchangeError(
            f"symbol {symbol!r}: no trading calendar for exchange suffix {suffix!r}; "
            f"supported: no suffix (US, NYSE calendar), {supported}"
        )
    return exchange


def market_timezone(symbol: str | None = None) -> str:
    """The IANA time zone of the symbol's exchange (``America/New_York`` for US symbols)."""
    return exchange_for(symbol).timezone


def calendar_for(symbol: str | None = None) -> ExchangeCalendar:
    """The ``exchange_calendars`` calendar of the symbol's exchange, over ``calendar_window``."""
    return _load(exchange_for(symbol).calendar_code).library


def calendar_window(symbol: str | None = None) -> tuple[dt.date, dt.date]:
    """First and last day (inclusive) the symbol's calendar answers for."""
    loaded = _load(exchange_for(symbol).calendar_code)
    return loaded.start, loaded.end


@dataclass(frozen=True)
class _Loaded:
    """One library calendar with its sessions in the forms the questions need."""

    code: str
    library: ExchangeCalendar
    start: dt.date
    end: dt.date
    sessions: tuple[dt.date, ...]  # oldest first, for bisecting ranges
    open_days: frozenset[dt.date]

    def check(self, day: dt.date) -> None:
        if not self.start <= day <= self.end:
            raise OutsideCalendarError(
                f"{day.isoformat()} is outside the {self.code} calendar "
                f"({self.start.isoformat()}..{self.end.isoformat()}); later years come with "
                "exchange_calendars upgrades, earlier ones are not loaded"
            )


@cache
def _load(code: str) -> _Loaded:
    # Imported here: exchange_calendars and pandas take ~0.6 s to import and a calendar
    # ~0.2 s to build, which neither importing this module nor a question about the clock
    # (market_today) should pay.
    import exchange_calendars as xc

    end = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=CALENDAR_DAYS_AHEAD)
    # A calendar built past its recorded years raises; a one-month one is cheap to ask.
    probe = xc.get_calendar(code, start=CALENDAR_START, end=CALENDAR_START + dt.timedelta(31))
    bound = type(probe).bound_max()
    if bound is not None:
        end = min(end, bound.date())
    library = xc.get_calendar(code, start=CALENDAR_START, end=end)
    sessions = tuple(library.sessions.date)
    return _Loaded(code, library, CALENDAR_START, end, sessions, frozenset(sessions))


@cache
def _closure_names(code: str) -> dict[dt.date, str]:
    """Every closed weekday in the window -> its reason: the library's name, else a label."""
    loaded = _load(code)
    regular = loaded.library.regular_holidays
    named: dict[dt.date, str] = {}
    if regular is not None:
        found = regular.holidays(loaded.start, loaded.end, return_name=True)
        for stamp, name in found.items():
            named.setdefault(stamp.date(), str(name))
    labels = _CLOSURE_LABELS.get(code, {})
    out: dict[dt.date, str] = {}
    day = loaded.start
    while day <= loaded.end:
        if day.weekday() < 5 and day not in loaded.open_days:
            out[day] = named.get(day) or labels.get(day) or AD_HOC_CLOSURE
        day += dt.timedelta(days=1)
    return out


def _as_date(day: dt.date | str) -> dt.date:
    if isinstance(day, str):
        return dt.date.fromisoformat(day)
    return day.date() if isinstance(day, dt.datetime) else day


def _checked(day: dt.date | str, symbol: str | None) -> tuple[dt.date, _Loaded]:
    d = _as_date(day)
    loaded = _load(exchange_for(symbol).calendar_code)
    loaded.check(d)
    return d, loaded


def holidays_in_year(year: int, *, symbol: str | None = None) -> dict[dt.date, str]:
    """Closed weekdays of ``year`` on the symbol's exchange (holidays and one-off closures)."""
    exchange = exchange_for(symbol)
    loaded = _load(exchange.calendar_code)
    loaded.check(dt.date(year, 1, 1))
    loaded.check(dt.date(year, 12, 31))
    names = _closure_names(exchange.calendar_code)
    return {d: name for d, name in names.items() if d.year == year}


def holiday_name(day: dt.date | str, *, symbol: str | None = None) -> str | None:
    """Why the market is closed on a weekday (``None`` if open or a weekend)."""
    d, loaded = _checked(day, symbol)
    if d in loaded.open_days:
        return None
    return _closure_names(loaded.code).get(d)


def is_trading_day(day: dt.date | str, *, symbol: str | None = None) -> bool:
    """True on the days the symbol's exchange holds a session."""
    d, loaded = _checked(day, symbol)
    return d in loaded.open_days


def market_closed_reason(day: dt.date | str, *, symbol: str | None = None) -> str | None:
    """A plain-words reason the market is closed on ``day``, or ``None`` if it is open."""
    d, loaded = _checked(day, symbol)
    if d in loaded.open_days:
        return None
    if d.weekday() >= 5:
        return "weekend"
    return _closure_names(loaded.code).get(d, AD_HOC_CLOSURE)


def trading_days(
    start: dt.date | str, end: dt.date | str, *, symbol: str | None = None
) -> list[dt.date]:
    """Trading days in ``[start, end]``, oldest first."""
    s, loaded = _checked(start, symbol)
    e, _ = _checked(end, symbol)
    sessions = loaded.sessions
    return list(sessions[bisect.bisect_left(sessions, s) : bisect.bisect_right(sessions, e)])


def previous_trading_day(
    day: dt.date | str, inclusive: bool = True, *, symbol: str | None = None
) -> dt.date:
    """The latest trading day on or before ``day`` (strictly before if not ``inclusive``)."""
    d, loaded = _checked(day, symbol)
    find = bisect.bisect_right if inclusive else bisect.bisect_left
    i = find(loaded.sessions, d)
    if i == 0:
        raise OutsideCalendarError(
            f"no {loaded.code} trading day before {d.isoformat()} in the calendar "
            f"(it starts {loaded.start.isoformat()})"
        )
    return loaded.sessions[i - 1]


def trading_days_between(
    older: dt.date | str, newer: dt.date | str, *, symbol: str | None = None
) -> int:
    """How many trading days lie after ``older`` up to and including ``newer``."""
    o, loaded = _checked(older, symbol)
    n, _ = _checked(newer, symbol)
    if n <= o:
        return 0
    return bisect.bisect_right(loaded.sessions, n) - bisect.bisect_right(loaded.sessions, o)


def market_today(now: dt.datetime | None = None, *, symbol: str | None = None) -> dt.date:
    """The latest day whose bars should be final: today once the exchange's bars have settled
    (17:00 New York for US symbols, see ``Exchange.data_ready_after``), else yesterday."""
    exchange = exchange_for(symbol)
    local = (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(exchange.timezone))
    if local.time() >= exchange.data_ready_after:
        return local.date()
    return local.date() - dt.timedelta(days=1)
