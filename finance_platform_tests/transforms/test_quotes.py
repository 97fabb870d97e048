"""Parsing, typing and de-duplicating Alpha Vantage daily replies."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from finance_platform.transforms import quotes as qt
from finance_platform_tests.market.replay_server import IBM_COMPACT, fixture_bytes


@pytest.fixture(scope="module")
def ibm_bars() -> pd.DataFrame:
    return qt.parse_daily_reply(fixture_bytes(IBM_COMPACT), "IBM")


def test_ibm_compact_reply_gives_exactly_100_bars(ibm_bars):
    assert len(ibm_bars) == 100
    assert ibm_bars["trade_date"].min() == pd.Timestamp("2023-06-22")
    assert ibm_bars["trade_date"].max() == pd.Timestamp("2023-11-10")
    assert list(ibm_bars.columns) == list(qt.BAR_COLUMNS)


def test_one_bar_has_the_recorded_values(ibm_bars):
    bar = ibm_bars[ibm_bars["trade_date"] == pd.Timestamp("2023-11-10")].iloc[0]
    assert bar["symbol"] == "IBM"
    assert (bar["open"], bar["high"], bar["low"], bar["close"]) == (151.2, 152.75, 150.1, 152.31)
    assert bar["volume"] == 4018233


def test_repeated_dates_in_a_reply_are_kept_for_validation_then_deduplicated():
    body = (
        '{"Time Series (Daily)": {'
        '"2023-11-10": {"1. open": "1", "2. high": "2", "3. low": "0.5", "4. close": "1.5",'
        ' "5. volume": "10"},'
        '"2023-11-10": {"1. open": "1", "2. high": "3", "3. low": "0.5", "4. close": "2.5",'
        ' "5. volume": "20"}}}'
    )
    bars = qt.parse_daily_reply(body, "IBM")
    assert len(bars) == 2  # json.loads alone would silently keep only the last one
    deduped = qt.dedupe_bars(bars)
    assert len(deduped) == 1 and deduped.iloc[0]["close"] == 2.5


def test_adjusted_reply_fields_are_mapped():
    body = {
        "Time Series (Daily)": {
            "2024-01-02": {
                "1. open": "10",
                "2. high": "11",
                "3. low": "9",
                "4. close": "10.5",
                "5. adjusted close": "10.4",
                "6. volume": "1000",
                "7. dividend amount": "0.1",
                "8. split coefficient": "1.0",
            }
        }
    }
    bar = qt.parse_daily_reply(body, "XYZ").iloc[0]
    assert (bar["adjusted_close"], bar["volume"], bar["dividend_amount"]) == (10.4, 1000, 0.1)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>502 Bad Gateway</html>", "not valid JSON"),
        (fixture_bytes(IBM_COMPACT)[:400], "not valid JSON"),
        (b'{"Meta Data": {}}', "has no 'Time Series"),
        (b'{"Time Series (Daily)": {"2023-11-10": {"1. open": "1"}}}', "missing high"),
        (
            b'{"Time Series (Daily)": {"2023-11-10": {"1. open": "x", "2. high": "1",'
            b' "3. low": "1", "4. close": "1", "5. volume": "1"}}}',
            "is not a number",
        ),
    ],
)
def test_unusable_replies_raise_a_clear_error(body, message):
    with pytest.raises(qt.ReplyParseError, match=message):
        qt.parse_daily_reply(body, "IBM")


def test_curated_partition_holds_only_its_own_day_typed(ibm_bars):
    at = dt.datetime(2023, 11, 11, 1, 0, tzinfo=dt.UTC)
    frame = qt.curate_partition(ibm_bars, "2023-11-10", "alphavantage", at)
    assert list(frame.columns) == list(qt.CURATED_COLUMNS)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert (row["symbol"], row["trade_date"], row["volume"]) == ("IBM", "2023-11-10", 4018233)
    assert str(frame["volume"].dtype) == "int64"
    assert row["ingested_at"] == pd.Timestamp(at)


def test_curated_partition_is_empty_when_the_day_is_absent(ibm_bars):
    frame = qt.curate_partition(ibm_bars, "2023-11-13", "alphavantage", dt.datetime.now(dt.UTC))
    assert frame.empty and list(frame.columns) == list(qt.CURATED_COLUMNS)


def test_warehouse_columns_follow_the_curated_file_order():
    # Redshift COPY maps Parquet columns by position: the orders must agree.
    file_cols = [c for c in qt.WAREHOUSE_COLUMN_TYPES if c not in qt.WAREHOUSE_KEY]
    assert file_cols == list(qt.CURATED_FILE_COLUMNS)
    assert json.dumps(qt.WAREHOUSE_COLUMN_TYPES)  # plain data, reusable by a Spark engine
