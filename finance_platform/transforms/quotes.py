"""Alpha Vantage daily replies -> typed bars: parsing, typing, de-duplication, partition selection.

Pure functions (bytes / dicts / DataFrames in, DataFrames out). The column
tables below are plain Python so a Spark engine can reuse the same contract.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# Reply field -> bar column. TIME_SERIES_DAILY numbers its fields 1-5,
# TIME_SERIES_DAILY_ADJUSTED 1-8 (volume moves to "6.").
REPLY_FIELDS: dict[str, str] = {
    "1. open": "open",
    "2. high": "high",
    "3. low": "low",
    "4. close": "close",
    "5. volume": "volume",
    "5. adjusted close": "adjusted_close",
    "6. volume": "volume",
    "7. dividend amount": "dividend_amount",
    "8. split coefficient": "split_coefficient",
}
PRICE_COLUMNS = ("open", "high", "low", "close")
REQUIRED_BAR_COLUMNS = (*PRICE_COLUMNS, "volume")
ADJUSTED_COLUMNS = ("adjusted_close", "dividend_amount", "split_coefficient")

# Bars as parsed from one reply (the frame the quality suite validates).
BAR_COLUMNS: tuple[str, ...] = ("symbol", "trade_date", *REQUIRED_BAR_COLUMNS, *ADJUSTED_COLUMNS)

# The curated table: hive partition columns first, then the columns stored in
# each Parquet file in this exact order (Redshift COPY maps Parquet columns by position).
CURATED_PARTITION_COLUMNS: tuple[str, ...] = ("symbol", "trade_date")
CURATED_FILE_COLUMNS: tuple[str, ...] = (
    *REQUIRED_BAR_COLUMNS,
    *ADJUSTED_COLUMNS,
    "source",
    "ingested_at",
)
CURATED_COLUMNS: tuple[str, ...] = (*CURATED_PARTITION_COLUMNS, *CURATED_FILE_COLUMNS)

# Warehouse column types (understood by both DuckDB and Redshift).
WAREHOUSE_COLUMN_TYPES: dict[str, str] = {
    "symbol": "VARCHAR(16)",
    "trade_date": "DATE",
    "open": "DOUBLE PRECISION",
    "high": "DOUBLE PRECISION",
    "low": "DOUBLE PRECISION",
    "close": "DOUBLE PRECISION",
    "volume": "BIGINT",
    "adjusted_close": "DOUBLE PRECISION",
    "dividend_amount": "DOUBLE PRECISION",
    "split_coefficient": "DOUBLE PRECISION",
    "source": "VARCHAR(32)",
    "ingested_at": "TIMESTAMPTZ",
}
WAREHOUSE_KEY: tuple[str, ...] = ("symbol", "trade_date")

TIME_SERIES_KEYS = ("Time Series (Daily)",)


class ReplyParseError(ValueError):
    """The reply is not a usable daily time series."""


def _pairs_keep_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON object hook that keeps repeated keys visible (a repeated date is data to validate)."""
    out: dict[str, Any] = {}
    dupes: list[tuple[str, Any]] = []
    for key, value in pairs:
        if key in out:
            dupes.append((key, value))
        else:
            out[key] = value
    if dupes:
        out["__duplicates__"] = dupes
    return out


def load_reply(body: bytes | str) -> dict[str, Any]:
    """Decode a reply body; repeated date keys are kept under ``__duplicates__``."""
    text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
    try:
        payload = json.loads(text, object_pairs_hook=_pairs_keep_duplicates)
    except json.JSONDecodeError as exc:
        raise ReplyParseError(f"reply is not valid JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(payload, dict):
        raise ReplyParseError(f"reply is a JSON {type(payload).__name__}, expected an object")
    return payload


def time_series_of(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The reply's time-series object, whichever daily function produced it."""
    for key in TIME_SERIES_KEYS:
        series = payload.get(key)
        if isinstance(series, Mapping):
            return series
    return None


def _number(value: Any, field: str, day: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ReplyParseError(f"bar {day}: {field}={value!r} is not a number") from None


def parse_daily_reply(payload: Mapping[str, Any] | bytes | str, symbol: str) -> pd.DataFrame:
    """Every bar in a TIME_SERIES_DAILY(_ADJUSTED) reply as a typed frame, newest first.

    Repeated dates are kept (the quality suite must see them); non-finite
    numbers are kept as they are (the suite flags them). Columns: ``BAR_COLUMNS``.
    """
    import pandas as pd

    data = load_reply(payload) if isinstance(payload, bytes | str) else payload
    series = time_series_of(data)
    if series is None:
        raise ReplyParseError("reply has no 'Time Series (Daily)' object")
    entries = [(k, v) for k, v in series.items() if k != "__duplicates__"]
    entries += list(series.get("__duplicates__", []))
    rows = []
    for day, fields in entries:
        if not isinstance(fields, Mapping):
            raise ReplyParseError(f"bar {day}: expected an object, got {type(fields).__name__}")
        row: dict[str, Any] = {"symbol": symbol, "trade_date": day}
        for src, col in REPLY_FIELDS.items():
            if src in fields:
                row[col] = _number(fields[src], src, day)
        missing = [c for c in REQUIRED_BAR_COLUMNS if c not in row]
        if missing:
            raise ReplyParseError(f"bar {day}: missing {', '.join(missing)}")
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(BAR_COLUMNS))
    return type_bars(frame)


def type_bars(frame: pd.DataFrame) -> pd.DataFrame:
    """Give bar columns their types: dates as datetime64 (unparseable -> NaT), numbers float64.

    ``volume`` stays float here so a non-finite value survives to validation;
    ``curate_partition`` makes it an integer once the data has passed its checks.
    """
    import pandas as pd

    out = frame.copy()
    out["symbol"] = out["symbol"].astype("string")
    out["trade_date"] = pd.to_datetime(out["trade_date"], format="%Y-%m-%d", errors="coerce")
    for col in (*REQUIRED_BAR_COLUMNS, *ADJUSTED_COLUMNS):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    return out.sort_values("trade_date", ascending=False, kind="stable").reset_index(drop=True)


def dedupe_bars(bars: pd.DataFrame) -> pd.DataFrame:
    """One bar per (symbol, trade_date): the last occurrence in the reply wins."""
    return bars.drop_duplicates(subset=list(WAREHOUSE_KEY), keep="last").reset_index(drop=True)


def curate_partition(
    bars: pd.DataFrame,
    trade_date: dt.date | str,
    source: str,
    ingested_at: dt.datetime,
) -> pd.DataFrame:
    """The curated rows of partition (trade_date, symbol): its own bar, typed and de-duplicated.

    Returns zero rows when the reply carries no bar for that day.
    """
    return curate_days(bars, [trade_date], source, ingested_at)


def curate_days(
    bars: pd.DataFrame,
    trade_dates: Iterable[dt.date | str],
    source: str,
    ingested_at: dt.datetime,
) -> pd.DataFrame:
    """The curated rows of ``trade_dates`` in one reply: typed, de-duplicated, oldest first.

    A day the reply carries no bar for simply has no row.
    """
    import pandas as pd

    days = {pd.Timestamp(d if isinstance(d, str) else d.isoformat()) for d in trade_dates}
    own = dedupe_bars(bars[bars["trade_date"].isin(days)]).sort_values("trade_date", kind="stable")
    out = pd.DataFrame(
        {
            "symbol": own["symbol"].astype("string"),
            "trade_date": own["trade_date"].dt.strftime("%Y-%m-%d").astype("string"),
            **{c: own[c].astype("float64") for c in PRICE_COLUMNS},
            "volume": own["volume"].round().astype("int64"),
            **{c: own[c].astype("float64") for c in ADJUSTED_COLUMNS},
            "source": pd.Series([source] * len(own), dtype="string", index=own.index),
            "ingested_at": pd.Series(
                [_utc(ingested_at)] * len(own),
                dtype="datetime64[us, UTC]",
                index=own.index,
            ),
        }
    )
    return out[list(CURATED_COLUMNS)].reset_index(drop=True)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def all_finite(bars: pd.DataFrame) -> bool:
    """True if every OHLCV value is a finite number."""
    return all(math.isfinite(v) for c in REQUIRED_BAR_COLUMNS for v in bars[c].tolist())
