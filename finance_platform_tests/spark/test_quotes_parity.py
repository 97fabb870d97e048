"""Curated quotes: the Spark engine gives the pandas engine's table, defects included."""

import datetime as dt
import json

import pandas as pd
import pytest

from finance_platform.transforms import quotes
from finance_platform.transforms.spark import quotes as spark_quotes
from finance_platform_tests.market.replay_server import FIXTURES, IBM_COMPACT
from finance_platform_tests.spark.parity import assert_same_table

FIXTURE = FIXTURES / IBM_COMPACT
INGESTED = dt.datetime(2023, 11, 11, 6, 30, tzinfo=dt.UTC)


def _replies() -> list[tuple[str, str, str]]:
    """(symbol, partition date, reply body) with the defects the platform meets."""
    body = FIXTURE.read_text()
    payload = json.loads(body)
    series = payload["Time Series (Daily)"]
    days = sorted(series)[-12:]
    replies = [("IBM", d, body) for d in days]
    # A repeated date: the second occurrence must win on both engines.
    first_day = days[0]
    bar = json.dumps(series[first_day])
    repeated = json.dumps(
        {"2. high": "999.5", **{k: v for k, v in series[first_day].items() if k != "2. high"}}
    )
    dup_body = body.replace(
        f'"{first_day}": {bar}', f'"{first_day}": {bar}, "{first_day}": {repeated}', 1
    )
    if dup_body == body:  # fixture formatting differs: build the reply by hand
        dup_body = (
            f'{{"Meta Data": {{}}, "Time Series (Daily)": '
            f'{{"{first_day}": {bar}, "{first_day}": {repeated}}}}}'
        )
    replies.append(("AAPL", first_day, dup_body))
    # A market holiday: the reply has no bar for the partition's day -> zero rows.
    replies.append(("MSFT", "2023-11-11", body))
    # An adjusted reply (volume is field 6, adjusted close present), odd volume to round.
    adjusted = {
        "Time Series (Daily)": {
            "2023-11-10": {
                "1. open": "10.5",
                "2. high": "11.25",
                "3. low": "10.0",
                "4. close": "11.0",
                "5. adjusted close": "10.987654321",
                "6. volume": "1234.5",
                "7. dividend amount": "0.0000",
                "8. split coefficient": "1.0",
            }
        }
    }
    replies.append(("GOOGL", "2023-11-10", json.dumps(adjusted)))
    return replies


def _pandas_curated(replies) -> pd.DataFrame:
    frames = [
        quotes.curate_partition(quotes.parse_daily_reply(body, symbol), day, "test", INGESTED)
        for symbol, day, body in replies
    ]
    return pd.concat(frames, ignore_index=True)


def test_curated_quotes_match_between_engines(spark):
    replies = _replies()
    expected = _pandas_curated(replies)
    frame = spark.createDataFrame(replies, "symbol string, trade_date string, body string")
    actual = spark_quotes.curate_replies(frame, "test", INGESTED).toPandas()

    assert_same_table(expected, actual, ["symbol", "trade_date"], "curated_quotes")
    assert len(expected) == 12 + 1 + 0 + 1
    aapl = actual[actual["symbol"] == "AAPL"]
    assert aapl["high"].tolist() == [999.5]  # last occurrence won on Spark too


def test_unparseable_bars_are_found(spark):
    body = json.dumps(
        {
            "Time Series (Daily)": {
                "2023-11-10": {
                    "1. open": "x",
                    "2. high": "1",
                    "3. low": "1",
                    "4. close": "1",
                    "5. volume": "1",
                }
            }
        }
    )
    with pytest.raises(quotes.ReplyParseError):
        quotes.parse_daily_reply(body, "IBM")
    frame = spark.createDataFrame([("IBM", body)], "symbol string, body string")
    assert spark_quotes.unparseable_bars(spark_quotes.parse_replies(frame)).count() == 1
