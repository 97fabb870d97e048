"""Warehouse partition replacement: DuckDB locally, Redshift Data API in production."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

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


def test_partition_values_are_validated_before_any_sql(duck):
    with pytest.raises(ValueError, match="unexpected characters"):
        duck.replace_partition(DAILY_QUOTES, {"symbol": "IBM'; DROP", "trade_date": "x"}, None)


def _expected_sqls(uri: str) -> list[str]:
    cols = DAILY_QUOTES.file_columns
    stage = ", ".join(f"{c} {DAILY_QUOTES.columns[c]}" for c in cols)
    return [
        "CREATE SCHEMA IF NOT EXISTS market",
        DAILY_QUOTES.create_sql(),
        "DELETE FROM market.daily_quotes WHERE symbol = 'IBM' AND trade_date = '2023-11-10'",
        f"CREATE TEMP TABLE stage_daily_quotes ({stage})",
        f"COPY stage_daily_quotes FROM '{uri}/' IAM_ROLE '{ROLE}' FORMAT AS PARQUET",
        f"INSERT INTO market.daily_quotes (symbol, trade_date, {', '.join(cols)}) "
        f"SELECT 'IBM', '2023-11-10', {', '.join(cols)} FROM stage_daily_quotes",
        "DROP TABLE stage_daily_quotes",
    ]


def test_redshift_replaces_a_partition_in_one_batch_transaction(monkeypatch):
    boto3 = pytest.importorskip("boto3")
    from botocore.stub import Stubber

    client = boto3.client(
        "redshift-data",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    uri = "s3://finance-lake/curated/quotes/symbol=IBM/trade_date=2023-11-10"
    stub = Stubber(client)
    stub.add_response(
        "batch_execute_statement",
        {"Id": "stmt-1"},
        {
            "WorkgroupName": "finance",
            "Database": "finance",
            "Sqls": _expected_sqls(uri),
            "StatementName": "replace market.daily_quotes symbol=IBM trade_date=2023-11-10",
        },
    )
    stub.add_response(
        "describe_statement",
        {"Id": "stmt-1", "Status": "STARTED"},
        {"Id": "stmt-1"},
    )
    subs = [
        {"Id": f"stmt-1:{i}", "Status": "FINISHED", "ResultRows": n}
        for i, n in enumerate([0, 0, 1, 0, 1, 1, 0], start=1)
    ]
    stub.add_response(
        "describe_statement",
        {"Id": "stmt-1", "Status": "FINISHED", "SubStatements": subs},
        {"Id": "stmt-1"},
    )
    monkeypatch.setattr(wh, "_redshift_data_client", lambda region: client)
    resource = RedshiftWarehouseResource(
        workgroup_name="finance", database="finance", iam_role_arn=ROLE, poll_seconds=0.01
    )
    with stub:
        result = resource.replace_partition(DAILY_QUOTES, PART, rows(), uri)
        stub.assert_no_pending_responses()
    assert (result.rows_deleted, result.rows_inserted, result.statement_id) == (1, 1, "stmt-1")


def test_redshift_market_closed_partition_only_deletes():
    resource = RedshiftWarehouseResource(workgroup_name="finance", iam_role_arn=ROLE)
    sqls = resource.partition_sql(DAILY_QUOTES, PART, None, has_rows=False)
    assert sqls[-1].startswith("DELETE FROM market.daily_quotes") and len(sqls) == 3


def test_redshift_failure_is_reported_and_nothing_changes(monkeypatch):
    class Failing:
        def batch_execute_statement(self, **kwargs):
            return {"Id": "s"}

        def describe_statement(self, Id):  # noqa: N803 - boto3 argument name
            return {"Id": Id, "Status": "FAILED", "Error": "S3ServiceException: Access Denied"}

    monkeypatch.setattr(wh, "_redshift_data_client", lambda region: Failing())
    resource = RedshiftWarehouseResource(workgroup_name="finance", iam_role_arn=ROLE)
    with pytest.raises(RuntimeError, match="Access Denied.*nothing was changed"):
        resource.replace_partition(DAILY_QUOTES, PART, rows(), "s3://b/curated/x")


def test_redshift_copy_source_must_be_s3():
    resource = RedshiftWarehouseResource(workgroup_name="finance", iam_role_arn=ROLE)
    with pytest.raises(ValueError, match="s3://"):
        resource.partition_sql(DAILY_QUOTES, PART, "/tmp/local'; --", has_rows=True)
