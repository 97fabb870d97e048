"""Warehouse partition replacement: DuckDB locally, Redshift Data API in production."""

from __future__ import annotations

import datetime as dt
import tempfile

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finance_platform.defs.market.assets import DAILY_QUOTES
from finance_platform.resources import warehouse as wh
from finance_platform.resources.warehouse import DuckDBWarehouseResource, RedshiftWarehouseResource

ROLE = "arn:aws:iam::123456789012:role/finance-warehouse-copy"
PART = {"symbol": "IBM", "trade_date": "2023-11-10"}


def rows(symbol: str = "IBM", day: str = "2023-11-10", close: float = 149.02) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": [symbol],
            "trade_date": [day],
            "open": [147.44],
            "high": [149.17],
            "low": [146.85],
            "close": [close],
            "volume": [3179541],
            "adjusted_close": [None],
            "dividend_amount": [None],
            "split_coefficient": [None],
            "source": ["alphavantage"],
            "ingested_at": [pd.Timestamp(dt.datetime(2023, 11, 11, tzinfo=dt.UTC))],
        }
    )


@pytest.fixture
def duck(tmp_path) -> DuckDBWarehouseResource:
    return DuckDBWarehouseResource(path=str(tmp_path / "wh" / "warehouse.duckdb"))


def _all(duck):
    return duck.query("SELECT symbol, trade_date, close FROM market.daily_quotes ORDER BY 1, 2")


@pytest.mark.integration
def test_replacing_a_partition_never_duplicates(duck):
    first = duck.replace_partition(DAILY_QUOTES, PART, rows(close=1.0))
    second = duck.replace_partition(DAILY_QUOTES, PART, rows(close=2.0))
    duck.replace_partition(
        DAILY_QUOTES, {"symbol": "IBM", "trade_date": "2023-11-09"}, rows(day="2023-11-09")
    )
    assert (first.rows_deleted, first.rows_inserted) == (0, 1)
    assert (second.rows_deleted, second.rows_inserted) == (1, 1)
    table = _all(duck)
    assert len(table) == 2
    assert table.iloc[1]["close"] == 2.0  # the re-run's value, once


@pytest.mark.integration
def test_an_empty_partition_removes_its_rows(duck):
    duck.replace_partition(DAILY_QUOTES, PART, rows())
    result = duck.replace_partition(DAILY_QUOTES, PART, None)
    assert result.rows_deleted == 1 and result.rows_inserted == 0
    assert _all(duck).empty


@pytest.mark.integration
def test_a_failed_load_leaves_the_old_rows_in_place(duck):
    duck.replace_partition(DAILY_QUOTES, PART, rows(close=1.0))
    bad = rows(close=2.0)
    bad["volume"] = ["not a number"]
    with pytest.raises(Exception):  # noqa: B017 - any engine error
        duck.replace_partition(DAILY_QUOTES, PART, bad)
    table = _all(duck)
    assert len(table) == 1 and table.iloc[0]["close"] == 1.0  # no gap


def test_rows_of_another_partition_are_refused(duck):
    with pytest.raises(ValueError, match="only touch its own partition"):
        duck.replace_partition(DAILY_QUOTES, PART, rows(symbol="AAPL"))


@pytest.mark.parametrize(
    "partition",
    [
        {"symbol": "IBM'; DROP", "trade_date": "2023-11-10"},
        {"symbol": "IBM\n", "trade_date": "2023-11-10"},
        {"symbol": "IBM", "trade_date": "2023-11-10' OR '1'='1"},
        {"symbol": "IBM", "trade_date": "2023-11-10\n"},
        {"symbol": "A" * 17, "trade_date": "2023-11-10"},  # wider than VARCHAR(16)
    ],
)
def test_partition_values_are_validated_before_any_sql(duck, partition):
    with pytest.raises(ValueError, match="unexpected characters"):
        duck.replace_partition(DAILY_QUOTES, partition, None)
    resource = RedshiftWarehouseResource(workgroup_name="finance", iam_role_arn=ROLE)
    with pytest.raises(ValueError, match="unexpected characters"):
        resource.partition_sql(DAILY_QUOTES, partition, None, has_rows=False)


def _redshift_client():
    boto3 = pytest.importorskip("boto3")
    return boto3.client(
        "redshift-data",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _redshift(monkeypatch, client, **config) -> RedshiftWarehouseResource:
    monkeypatch.setattr(wh, "_redshift_data_client", lambda region: client)
    return RedshiftWarehouseResource(
        workgroup_name="finance",
        database="finance",
        iam_role_arn=ROLE,
        poll_seconds=0.01,
        **config,
    )


def _stub_batch(client, statement_id: str, sqls: list[str], name: str, result_rows: list[int]):
    """A Stubber expecting exactly this batch, then polls until FINISHED with these counts."""
    from botocore.stub import Stubber

    stub = Stubber(client)
    stub.add_response(
        "batch_execute_statement",
        {"Id": statement_id},
        {"WorkgroupName": "finance", "Database": "finance", "Sqls": sqls, "StatementName": name},
    )
    for status in ("SUBMITTED", "PICKED", "STARTED"):
        stub.add_response(
            "describe_statement", {"Id": statement_id, "Status": status}, {"Id": statement_id}
        )
    subs = [
        {"Id": f"{statement_id}:{i}", "Status": "FINISHED", "ResultRows": n}
        for i, n in enumerate(result_rows, start=1)
    ]
    stub.add_response(
        "describe_statement",
        {"Id": statement_id, "Status": "FINISHED", "SubStatements": subs},
        {"Id": statement_id},
    )
    return stub


def _expected_sqls(uri: str) -> list[str]:
    cols = DAILY_QUOTES.file_columns
    stage = ", ".join(f"{c} {DAILY_QUOTES.columns[c]}" for c in cols)
    return [
        "CREATE SCHEMA IF NOT EXISTS market",
        DAILY_QUOTES.create_sql(),
        f"CREATE TEMP TABLE stage_daily_quotes ({stage})",
        f"COPY stage_daily_quotes FROM '{uri}/' IAM_ROLE '{ROLE}' FORMAT AS PARQUET",
        "DELETE FROM market.daily_quotes WHERE symbol = 'IBM' AND trade_date = '2023-11-10'",
        f"INSERT INTO market.daily_quotes (symbol, trade_date, {', '.join(cols)}) "
        f"SELECT 'IBM', '2023-11-10', {', '.join(cols)} FROM stage_daily_quotes",
        "DROP TABLE stage_daily_quotes",
    ]


def test_redshift_replaces_a_partition_in_one_batch_transaction(monkeypatch):
    client = _redshift_client()
    uri = "s3://finance-lake/curated/quotes/symbol=IBM/trade_date=2023-11-10"
    name = "replace market.daily_quotes symbol=IBM trade_date=2023-11-10"
    stub = _stub_batch(client, "stmt-1", _expected_sqls(uri), name, [0, 0, 0, 1, 1, 1, 0])
    resource = _redshift(monkeypatch, client)
    with stub:
        result = resource.replace_partition(DAILY_QUOTES, PART, rows(), uri)
        stub.assert_no_pending_responses()
    assert (result.rows_deleted, result.rows_inserted, result.statement_id) == (1, 1, "stmt-1")


def test_redshift_market_closed_partition_only_deletes():
    resource = RedshiftWarehouseResource(workgroup_name="finance", iam_role_arn=ROLE)
    sqls = resource.partition_sql(DAILY_QUOTES, PART, None, has_rows=False)
    assert sqls[-1].startswith("DELETE FROM market.daily_quotes") and len(sqls) == 3


def test_redshift_failure_is_reported_and_nothing_changes(monkeypatch):
    from botocore.stub import Stubber

    client = _redshift_client()
    stub = Stubber(client)
    stub.add_response("batch_execute_statement", {"Id": "s"})
    stub.add_response(
        "describe_statement",
        {"Id": "s", "Status": "FAILED", "Error": "S3ServiceException: Access Denied"},
        {"Id": "s"},
    )
    resource = _redshift(monkeypatch, client)
    with stub, pytest.raises(RuntimeError, match="Access Denied.*nothing was changed"):
        resource.replace_partition(DAILY_QUOTES, PART, rows(), "s3://b/curated/x")


def test_redshift_copy_source_must_be_s3():
    resource = RedshiftWarehouseResource(workgroup_name="finance", iam_role_arn=ROLE)
    with pytest.raises(ValueError, match="s3://"):
        resource.partition_sql(DAILY_QUOTES, PART, "/tmp/local'; --", has_rows=True)


# -- key ranges ---------------------------------------------------------------------------

KeyRange = wh.KeyRange
COLUMNS = ", ".join(DAILY_QUOTES.columns)
STAGE_URI = "s3://finance-lake/staging/warehouse/daily_quotes/run_id=6f1c2a"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:finance-redshift-AbCdEf"


def quotes(keys: list[tuple[str, str, float]]) -> pd.DataFrame:
    """``market.daily_quotes`` rows for (symbol, day, close) keys, the rest as in ``rows``."""
    if not keys:
        return rows().iloc[0:0]
    return pd.concat([rows(s, d, c) for s, d, c in keys], ignore_index=True)


def _keys(duck) -> list[tuple[str, str, float]]:
    table = _all(duck)
    return [(r.symbol, str(r.trade_date)[:10], float(r.close)) for r in table.itertuples()]


def _days(first: str, n: int) -> list[str]:
    start = dt.date.fromisoformat(first)
    return [(start + dt.timedelta(days=i)).isoformat() for i in range(n)]


@pytest.mark.integration
def test_rerunning_ranges_never_duplicates_nor_drops_rows(duck):
    ranges = [KeyRange("IBM", "2023-11-06", "2023-11-10")]
    week = _days("2023-11-06", 5)
    first = duck.replace_ranges(DAILY_QUOTES, ranges, quotes([("IBM", d, 1.0) for d in week]))
    second = duck.replace_ranges(DAILY_QUOTES, ranges, quotes([("IBM", d, 2.0) for d in week]))
    assert (first.rows_deleted, first.rows_inserted) == (0, 5)
    assert (second.rows_deleted, second.rows_inserted) == (5, 5)
    assert _keys(duck) == [("IBM", d, 2.0) for d in week]


@pytest.mark.integration
def test_rows_outside_the_ranges_are_untouched(duck):
    days = _days("2023-11-01", 10)
    seed = [(s, d, 1.0) for s in ("AAPL", "IBM") for d in days]
    duck.replace_ranges(
        DAILY_QUOTES, [KeyRange(s, days[0], days[-1]) for s in ("AAPL", "IBM")], quotes(seed)
    )
    # IBM 11-04..11-06 replaced, and 11-05 now has no row (a day the source no longer lists).
    result = duck.replace_ranges(
        DAILY_QUOTES,
        [KeyRange("IBM", "2023-11-04", "2023-11-06")],
        quotes([("IBM", "2023-11-04", 2.0), ("IBM", "2023-11-06", 2.0)]),
    )
    assert (result.rows_deleted, result.rows_inserted) == (3, 2)
    expected = [k for k in seed if not (k[0] == "IBM" and "2023-11-04" <= k[1] <= "2023-11-06")]
    expected += [("IBM", "2023-11-04", 2.0), ("IBM", "2023-11-06", 2.0)]
    assert _keys(duck) == sorted(expected)


@pytest.mark.integration
def test_several_ranges_per_symbol_and_several_symbols_in_one_call(duck):
    days = _days("2023-11-01", 10)
    seed = [(s, d, 1.0) for s in ("AAPL", "IBM", "MSFT") for d in days]
    duck.replace_ranges(
        DAILY_QUOTES,
        [KeyRange(s, days[0], days[-1]) for s in ("AAPL", "IBM", "MSFT")],
        quotes(seed),
    )
    ranges = [
        KeyRange("IBM", "2023-11-01", "2023-11-02"),
        KeyRange("IBM", "2023-11-07", "2023-11-08"),
        KeyRange("AAPL", "2023-11-05", "2023-11-05"),
    ]
    new = [(r.symbol, d, 3.0) for r in ranges for d in days if r.first <= d <= r.last]
    result = duck.replace_ranges(DAILY_QUOTES, ranges, quotes(new))
    assert (result.rows_deleted, result.rows_inserted) == (5, 5)
    in_ranges = {(s, d) for s, d, _ in new}
    expected = sorted([k for k in seed if (k[0], k[1]) not in in_ranges] + new)
    assert _keys(duck) == expected  # MSFT and the days between the IBM ranges kept


@pytest.mark.integration
def test_a_failure_mid_way_rolls_the_whole_replacement_back(duck):
    days = _days("2023-11-06", 5)
    seed = [(s, d, 1.0) for s in ("AAPL", "IBM") for d in days]
    ranges = [KeyRange(s, days[0], days[-1]) for s in ("AAPL", "IBM")]
    duck.replace_ranges(DAILY_QUOTES, ranges, quotes(seed))
    bad = quotes([(s, d, 2.0) for s, d, _ in seed])
    bad["volume"] = bad["volume"].astype(object)
    bad.loc[len(bad) - 1, "volume"] = "not a number"  # fails in the INSERT, after the DELETE
    with pytest.raises(Exception):  # noqa: B017 - any engine error
        duck.replace_ranges(DAILY_QUOTES, ranges, bad)
    assert _keys(duck) == sorted(seed)  # no range deleted, no row of the bad frame kept


def test_rows_outside_the_ranges_are_refused(duck):
    with pytest.raises(ValueError, match="outside the replaced ranges"):
        duck.replace_ranges(
            DAILY_QUOTES,
            [KeyRange("IBM", "2023-11-06", "2023-11-10")],
            quotes([("IBM", "2023-11-13", 1.0)]),
        )


def test_rows_repeating_a_key_are_refused_by_both_engines(monkeypatch, duck):
    """DuckDB's primary key would catch a repeat; Redshift's does not, so both check first."""
    from botocore.stub import Stubber

    twice = quotes([("IBM", "2023-11-06", 1.0), ("IBM", "2023-11-06", 2.0)])
    ranges = [KeyRange("IBM", "2023-11-06", "2023-11-10")]
    client = _redshift_client()
    resource = _redshift(monkeypatch, client)
    with Stubber(client), pytest.raises(ValueError, match="repeat a key"):
        resource.replace_ranges(DAILY_QUOTES, ranges, twice, STAGE_URI)
    with pytest.raises(ValueError, match="repeat a key"):
        duck.replace_ranges(DAILY_QUOTES, ranges, twice)


@pytest.mark.integration
def test_no_ranges_change_nothing(duck):
    seed = [("IBM", "2023-11-10", 1.0)]
    duck.replace_ranges(DAILY_QUOTES, [KeyRange("IBM", "2023-11-10", "2023-11-10")], quotes(seed))
    result = duck.replace_ranges(DAILY_QUOTES, [], None)
    assert (result.rows_deleted, result.rows_inserted) == (0, 0)
    assert _keys(duck) == seed


SYMBOLS = ("AAPL", "BRK.B", "IBM")
WINDOW = _days("2024-02-26", 12)  # across a month end and a leap day


@st.composite
def replacements(draw) -> tuple[list, list[KeyRange], list]:
    """Existing rows, ranges (overlaps allowed) and a replacement whose rows lie in the ranges."""
    keys = st.tuples(st.sampled_from(SYMBOLS), st.sampled_from(WINDOW))
    old = sorted(draw(st.sets(keys, max_size=30)))
    ranges = []
    for _ in range(draw(st.integers(0, 5))):
        a, b = sorted(draw(st.lists(st.sampled_from(WINDOW), min_size=2, max_size=2)))
        ranges.append(KeyRange(draw(st.sampled_from(SYMBOLS)), a, b))
    inside = sorted({(r.symbol, d) for r in ranges for d in WINDOW if r.first <= d <= r.last})
    new = sorted(draw(st.sets(st.sampled_from(inside), max_size=len(inside)))) if inside else []
    return [(s, d, 1.0) for s, d in old], ranges, [(s, d, 2.0) for s, d in new]


@pytest.mark.integration
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=replacements())
def test_replace_ranges_keeps_old_rows_outside_and_exactly_the_new_rows_inside(case):
    old, ranges, new = case
    with tempfile.TemporaryDirectory() as tmp:
        duck = DuckDBWarehouseResource(path=f"{tmp}/warehouse.duckdb")
        con = duck.connect()
        con.execute("CREATE SCHEMA market")
        con.execute(DAILY_QUOTES.create_sql())
        if old:
            con.register("seed", quotes(old))
            con.execute(f"INSERT INTO market.daily_quotes SELECT {COLUMNS} FROM seed")  # noqa: S608
        con.close()

        result = duck.replace_ranges(DAILY_QUOTES, ranges, quotes(new) if new else None)

        def covered(s: str, d: str) -> bool:
            return any(r.symbol == s and r.first <= d <= r.last for r in ranges)

        kept = [k for k in old if not covered(k[0], k[1])]
        after = _keys(duck)
        assert after == sorted(kept + new)
        assert len({(s, d) for s, d, _ in after}) == len(after)  # no key twice
        assert result.rows_deleted == len(old) - len(kept)
        assert result.rows_inserted == len(new)


# -- Redshift key ranges through the Data API (botocore Stubber, as above) ------------------


RANGES = [
    KeyRange("IBM", "2023-11-06", "2023-11-10"),
    KeyRange("IBM", "2023-11-20", "2023-11-21"),
    KeyRange("BRK.B", "2023-11-06", "2023-11-06"),
]


def _ranges_frame() -> pd.DataFrame:
    week = _days("2023-11-06", 5)
    return quotes(
        [("IBM", d, 149.02) for d in week]
        + [("IBM", d, 151.5) for d in ("2023-11-20", "2023-11-21")]
        + [("BRK.B", "2023-11-06", 351.25)]
    )


EXPECTED_RANGE_SQLS = [
    "CREATE SCHEMA IF NOT EXISTS market",
    DAILY_QUOTES.create_sql(),
    "CREATE TEMP TABLE stage_daily_quotes ("
    + ", ".join(f"{c} {t}" for c, t in DAILY_QUOTES.columns.items())
    + ")",
    f"COPY stage_daily_quotes FROM '{STAGE_URI}/' IAM_ROLE '{ROLE}' FORMAT AS PARQUET",
    "DELETE FROM market.daily_quotes WHERE "
    "(symbol = 'IBM' AND trade_date BETWEEN '2023-11-06' AND '2023-11-10') OR "
    "(symbol = 'IBM' AND trade_date BETWEEN '2023-11-20' AND '2023-11-21') OR "
    "(symbol = 'BRK.B' AND trade_date BETWEEN '2023-11-06' AND '2023-11-06')",
    f"INSERT INTO market.daily_quotes ({COLUMNS}) SELECT {COLUMNS} FROM stage_daily_quotes",
    "DROP TABLE stage_daily_quotes",
]


RANGES_NAME = (
    "replace market.daily_quotes IBM 2023-11-06..2023-11-10, "
    "IBM 2023-11-20..2023-11-21, BRK.B 2023-11-06..2023-11-06"
)


def test_redshift_replaces_ranges_in_one_batch_transaction(monkeypatch):
    client = _redshift_client()
    counts = [0, 0, 0, 8, 6, 8, 0]  # COPY 8 staged, DELETE 6 old, INSERT 8 new
    stub = _stub_batch(client, "stmt-7", EXPECTED_RANGE_SQLS, RANGES_NAME, counts)
    resource = _redshift(monkeypatch, client)
    with stub:
        result = resource.replace_ranges(DAILY_QUOTES, RANGES, _ranges_frame(), STAGE_URI)
        stub.assert_no_pending_responses()  # polled through SUBMITTED, PICKED, STARTED
    assert (result.rows_deleted, result.rows_inserted) == (6, 8)
    assert (result.statement_id, result.engine, result.ranges) == ("stmt-7", "redshift", RANGES)


def test_redshift_ranges_without_rows_only_delete(monkeypatch):
    client = _redshift_client()
    delete_only = [EXPECTED_RANGE_SQLS[0], EXPECTED_RANGE_SQLS[1], EXPECTED_RANGE_SQLS[4]]
    stub = _stub_batch(client, "stmt-8", delete_only, RANGES_NAME, [0, 0, 4])
    resource = _redshift(monkeypatch, client)
    with stub:
        result = resource.replace_ranges(DAILY_QUOTES, RANGES, None, None)
        stub.assert_no_pending_responses()
    assert (result.rows_deleted, result.rows_inserted) == (4, 0)


def test_redshift_failed_batch_names_the_statement_and_error_but_no_secret(monkeypatch):
    from botocore.stub import Stubber

    client = _redshift_client()
    stub = Stubber(client)
    stub.add_response("batch_execute_statement", {"Id": "stmt-9"})
    error = f"ERROR: S3ServiceException:Access Denied,Status 403 (secret {SECRET})"
    stub.add_response(
        "describe_statement",
        {
            "Id": "stmt-9",
            "Status": "FAILED",
            "Error": error,
            "SubStatements": [
                {"Id": "stmt-9:1", "Status": "FINISHED"},
                {"Id": "stmt-9:2", "Status": "FINISHED"},
                {"Id": "stmt-9:3", "Status": "FINISHED"},
                {"Id": "stmt-9:4", "Status": "FAILED", "Error": error},
                *({"Id": f"stmt-9:{i}", "Status": "ABORTED"} for i in (5, 6, 7)),
            ],
        },
        {"Id": "stmt-9"},
    )
    resource = _redshift(monkeypatch, client, secret_arn=SECRET)
    with stub, pytest.raises(RuntimeError) as failed:
        resource.replace_ranges(DAILY_QUOTES, RANGES, _ranges_frame(), STAGE_URI)
    message = str(failed.value)
    assert "stmt-9" in message and "Access Denied" in message
    assert "nothing was changed" in message
    assert SECRET not in message and "testing" not in message


@pytest.mark.parametrize(
    ("cancel_fails", "said"),
    [(False, "cancelled it: .* rolls back"), (True, "cancelling it failed.*may still commit")],
)
def test_redshift_batch_still_running_at_the_timeout_is_cancelled(monkeypatch, cancel_fails, said):
    """Left running, the batch could commit after the step failed and a retry started."""
    from botocore.stub import Stubber

    client = _redshift_client()
    stub = Stubber(client)
    stub.add_response("batch_execute_statement", {"Id": "stmt-11"})
    running = {"Id": "stmt-11", "Status": "STARTED"}
    stub.add_response("describe_statement", running, {"Id": "stmt-11"})
    if cancel_fails:
        stub.add_client_error("cancel_statement", "ValidationException", "Could not cancel")
    else:
        stub.add_response("cancel_statement", {"Status": True}, {"Id": "stmt-11"})
    resource = _redshift(monkeypatch, client, timeout_seconds=0)
    with stub, pytest.raises(TimeoutError, match=f"stmt-11 still STARTED.*{said}"):
        resource.replace_ranges(DAILY_QUOTES, RANGES, None, None)
    stub.assert_no_pending_responses()


def test_redshift_no_ranges_send_nothing(monkeypatch):
    from botocore.stub import Stubber

    client = _redshift_client()
    resource = _redshift(monkeypatch, client)
    with Stubber(client) as stub:  # any call would fail: no response is queued
        result = resource.replace_ranges(DAILY_QUOTES, [], None, None)
        stub.assert_no_pending_responses()
    assert (result.rows_deleted, result.rows_inserted, result.statement_id) == (0, 0, None)


def test_redshift_sql_carries_no_row_values(monkeypatch):
    """COPY reads the rows from S3: the SQL names keys only, never a price, volume or source."""
    from botocore.stub import Stubber

    client = _redshift_client()
    sent: list[dict] = []
    client.meta.events.register(
        "provide-client-params.redshift-data.BatchExecuteStatement",
        lambda params, **_: sent.append(dict(params)),
    )
    frame = _ranges_frame().assign(close=987.654321, volume=424242424242, source="rowmarker")
    stub = Stubber(client)
    stub.add_response("batch_execute_statement", {"Id": "stmt-10"})
    stub.add_response(
        "describe_statement", {"Id": "stmt-10", "Status": "FINISHED"}, {"Id": "stmt-10"}
    )
    resource = _redshift(monkeypatch, client)
    with stub:
        resource.replace_ranges(DAILY_QUOTES, RANGES, frame, STAGE_URI)
    (params,) = sent
    text = " ".join(params["Sqls"]) + " " + params["StatementName"]
    for value in ("987.654", "424242424242", "rowmarker", "147.44", "3179541", "alphavantage"):
        assert value not in text


@pytest.mark.parametrize(
    "bad",
    [
        KeyRange("IBM'; DROP TABLE market.daily_quotes; --", "2023-11-06", "2023-11-10"),
        KeyRange("IBM", "2023-11-06' OR '1'='1", "2023-11-10"),
        KeyRange("IBM", "2023-11-06", "2023-11-10 00:00"),
        KeyRange("IBM", "2023-02-30", "2023-03-01"),
        KeyRange("IBM", "20231106", "20231110"),
        KeyRange("IBM", "2023-11-10", "2023-11-06"),
        KeyRange("", "2023-11-06", "2023-11-10"),
        KeyRange("IB M", "2023-11-06", "2023-11-10"),
    ],
)
def test_range_values_are_validated_before_any_sql(monkeypatch, duck, bad):
    from botocore.stub import Stubber

    client = _redshift_client()
    resource = _redshift(monkeypatch, client)
    with Stubber(client), pytest.raises(ValueError):
        resource.replace_ranges(DAILY_QUOTES, [bad], None, None)
    with pytest.raises(ValueError):
        duck.replace_ranges(DAILY_QUOTES, [bad], None)
