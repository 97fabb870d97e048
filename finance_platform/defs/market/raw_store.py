"""Raw quotes in the lake: each Alpha Vantage reply stored once, and an index per (day, symbol).

A reply holds a symbol's whole history (or its latest 100 bars), so it is kept once,
named by its sha256 (``raw/quotes/replies/symbol=S/sha256=<h>.json``, written once,
exactly as received). Each (day, symbol) partition gets a small index entry
(``raw/quotes/index/symbol=S/date=D.json``) naming the stored reply its bar came from;
a day whose entry says the bar is present is covered and never fetched again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from finance_platform.resources.lake import LakeResource
from finance_platform.transforms import quotes as qt

if TYPE_CHECKING:
    import pandas as pd

RAW_DIR = "raw/quotes"
REPLIES_DIR = f"{RAW_DIR}/replies"
INDEX_DIR = f"{RAW_DIR}/index"
# Small objects: a few threads hide S3 round trips (and cost nothing on a local folder).
_IO_THREADS = 8


def reply_path(symbol: str, sha256: str) -> str:
    return f"{REPLIES_DIR}/symbol={symbol}/sha256={sha256}.json"


def index_dir(symbol: str) -> str:
    return f"{INDEX_DIR}/symbol={symbol}"


def index_path(symbol: str, trade_date: str) -> str:
    return f"{index_dir(symbol)}/date={trade_date}.json"


@dataclass(frozen=True)
class IndexEntry:
    """Which stored reply holds the bar of (trade_date, symbol), and how it was obtained."""

    symbol: str
    trade_date: str
    reply_path: str
    sha256: str
    bar_present: bool
    synthetic: bool
    outputsize: str
    fetched_at: str
    last_refreshed: str = ""

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> IndexEntry:
        return cls(**json.loads(data))


def store_reply(lake: LakeResource, symbol: str, body: bytes, sha256: str) -> tuple[str, bool]:
    """Keep ``body`` once under its hash; returns ``(path, written)`` (written once only)."""
    path = reply_path(symbol, sha256)
    if lake.exists(path):
        return path, False
    lake.write_bytes(path, body)
    return path, True


def read_index(lake: LakeResource, symbol: str, dates: Iterable[str]) -> dict[str, IndexEntry]:
    """The index entries of ``symbol`` for ``dates`` that exist (one listing, then the reads)."""
    wanted = set(dates)
    present = {
        name.rsplit("date=", 1)[-1].removesuffix(".json")
        for name in lake.list_files(index_dir(symbol), suffix=".json", recursive=False)
    }
    found = sorted(wanted & present)
    if not found:
        return {}
    with ThreadPoolExecutor(max_workers=_IO_THREADS) as pool:
        blobs = list(pool.map(lambda d: lake.read_bytes(index_path(symbol, d)), found))
    return {d: IndexEntry.from_bytes(b) for d, b in zip(found, blobs, strict=True)}


def write_index(lake: LakeResource, entries: Iterable[IndexEntry]) -> int:
    """Write (or replace) index entries; returns how many were written."""
    items = list(entries)
    with ThreadPoolExecutor(max_workers=_IO_THREADS) as pool:
        list(
            pool.map(
                lambda e: lake.write_bytes(index_path(e.symbol, e.trade_date), e.to_bytes()), items
            )
        )
    return len(items)


def covered_dates(entries: Mapping[str, IndexEntry]) -> set[str]:
    """Days whose stored reply already holds their bar: nothing to fetch for them."""
    return {d for d, e in entries.items() if e.bar_present}


class ReplyBars:
    """Parsed bars of stored replies, each parsed once per run however many days use it."""

    def __init__(self, lake: LakeResource) -> None:
        self._lake = lake
        self._bars: dict[str, pd.DataFrame] = {}

    def bars(self, entry: IndexEntry) -> pd.DataFrame:
        if entry.reply_path not in self._bars:
            body = self._lake.read_bytes(entry.reply_path)
            self._bars[entry.reply_path] = qt.parse_daily_reply(body, entry.symbol)
        return self._bars[entry.reply_path]
