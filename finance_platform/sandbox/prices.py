"""Deterministic synthetic daily bars: a seeded random walk per symbol over its exchange's days.

The walk always starts on ``HISTORY_START`` so the bar of a given day never
depends on when it was asked for (today's compact reply and a later full
reply agree on every shared day).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import zlib
from dataclasses import dataclass
from functools import lru_cache

from finance_platform.transforms.trading_calendar import trading_days

HISTORY_START = dt.date(2000, 1, 3)


@dataclass(frozen=True)
class Bar:
    day: dt.date
    open: float
    high: float
    low: float
    close: float
    volume: int


def symbol_seed(symbol: str) -> int:
    """A stable seed per symbol (not Python's salted ``hash``)."""
    return zlib.crc32(symbol.upper().encode("utf-8"))


@lru_cache(maxsize=64)
def daily_bars(symbol: str, as_of: dt.date) -> tuple[Bar, ...]:
    """All bars from ``HISTORY_START`` to ``as_of`` (oldest first) for ``symbol``.

    Bars fall on the sessions of the symbol's own exchange (``600104.SHH`` skips Chinese
    holidays, ``TSCO.LON`` UK bank holidays); an unknown exchange suffix raises ``ValueError``.
    """
    seed = symbol_seed(symbol)
    rng = random.Random(seed)  # noqa: S311 - synthetic prices, not security
    price = 20.0 + (seed % 48000) / 100.0
    base_volume = 1_000_000 + seed % 9_000_000
    bars = []
    for day in trading_days(HISTORY_START, as_of, symbol=symbol):
        open_ = price * (1.0 + rng.gauss(0.0, 0.004))
        close = open_ * math.exp(rng.gauss(0.0002, 0.015))
        high = max(open_, close) * (1.0 + abs(rng.gauss(0.0, 0.006)))
        low = min(open_, close) * (1.0 - abs(rng.gauss(0.0, 0.006)))
        volume = int(base_volume * math.exp(rng.gauss(0.0, 0.35)))
        bars.append(
            Bar(day, round(open_, 4), round(high, 4), round(low, 4), round(close, 4), volume)
        )
        price = close
    return tuple(bars)
