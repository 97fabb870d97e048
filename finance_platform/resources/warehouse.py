"""The warehouse: a DuckDB file locally, Redshift Serverless (Data API + COPY) in production.

Both expose ``replace_partition``: delete a partition's rows and insert the new
ones in one transaction, so a re-run never duplicates and never leaves a gap,
and a reader sees either the old rows or the new ones.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

if TYPE_CHECKING:
    import pandas as pd

_IDENT = re.compile(r"[a-z_][a-z0-9_]*")
_LITERAL = re.compile(r"[A-Za-z0-9.\-: ]{1,32}")
_S3_URI = re.compile(r"s3://[A-Za-z0-9.\-_/=]+")
_TICKER = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,15}")
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# key=value or key 'value' credentials a COPY or connection error might echo back
_CREDENTIAL = re.compile(
    r"((?:aws_secret_access_key|aws_access_key_id|aws_session_token|token|password|secret)"
    r"[\s=:']+)[^\s;',]+",
    re.IGNORECASE,
)
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]+")


@dataclass(frozen=True)
class TableSpec:
    """A warehouse table: ``schema.table``, ordered columns with SQL types, and its key.

    ``partition_columns`` are the columns that identify one partition (they are
    hive folder names in the lake, not stored inside the Parquet files).
    """

    name: str
    columns: Mapping[str, str]
    partition_columns: tuple[str, ...]

    def __post_init__(self) -> None:
        parts = self.name.split(".")
        if len(parts) != 2 or not all(_IDENT.fullmatch(p) for p in parts):
            raise ValueError(f"table name must be schema.table in lower case, got {self.name!r}")
        for col in (*self.columns, *self.partition_columns):
            if not _IDENT.fullmatch(col):
                raise ValueError(f"bad column name {col!r}")
        missing = set(self.partition_columns) - set(self.columns)
        if missing:
            raise ValueError(f"partition columns {sorted(missing)} are not table columns")

    @property
    def schema(self) -> str:
        return self.name.split(".")[0]

    @property
    def stage_name(self) -> str:
        return "stage_" + self.name.split(".")[1]

    @property
    def file_columns(self) -> list[str]:
        """Columns inside the Parquet files, in table order (COPY maps them by position)."""
        return [c for c in self.columns if c not in self.partition_columns]

    def create_sql(self) -> str:
        cols = ", ".join(f"{c} {t}" for c, t in self.columns.items())
        key = ", ".join(self.partition_columns)
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({cols}, PRIMARY KEY ({key}))"


@dataclass(frozen=True)
class LoadResult:
    table: str
    partition: dict[str, str]
    rows_deleted: int
    rows_inserted: int
    engine: str
    statement_id: str | None = None


@dataclass(frozen=True)
class KeyRange:
    """The rows of one symbol from ``first`` to ``last`` trading day (inclusive, ISO dates)."""

    symbol: str
    first: str
    last: str

    def __str__(self) -> str:
        return f"{self.symbol} {self.first}..{self.last}"

    def as_dict(self) -> dict[str, str]:
        return {"symbol": self.symbol, "first": self.first, "last": self.last}


@dataclass(frozen=True)
class RangeLoadResult:
    table: str
    ranges: list[KeyRange]
    rows_deleted: int
    rows_inserted: int
    engine: str
    statement_id: str | None = None


def _ticker(value: str) -> str:
    """A symbol as settings allow it (letters, digits, ``.``, ``-``): safe inside SQL quotes."""
    if not _TICKER.fullmatch(value):
        raise ValueError(f"symbol {value!r} has unexpected characters")
    return value


def _iso_day(value: str) -> str:
    """A calendar day written ``YYYY-MM-DD`` (a real date): safe inside SQL quotes."""
    if not _ISO_DAY.fullmatch(value):
        raise ValueError(f"day {value!r} has unexpected characters (want YYYY-MM-DD)")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"day {value!r} is not a calendar date") from None
    return value


def _range_literals(table: TableSpec, ranges: list[KeyRange]) -> list[tuple[str, str, str]]:
    if table.partition_columns != ("symbol", "trade_date"):
        raise ValueError(f"{table.name}: ranges need the key (symbol, trade_date)")
    out = []
    for r in ranges:
        _ticker(r.symbol)
        _iso_day(r.first)
        _iso_day(r.last)
        if r.first > r.last:
            raise ValueError(f"key range {r} ends before it starts")
        out.append((r.symbol, r.first, r.last))
    return out


def _check_frame_in_ranges(table: TableSpec, ranges: list[KeyRange], frame: pd.DataFrame) -> None:
    """Refuse rows outside the ranges being replaced: a load may only touch its own keys."""
    missing = [c for c in table.columns if c not in frame.columns]
    if missing:
        raise ValueError(f"rows for {table.name} lack columns {missing}")
    days = frame["trade_date"].astype("string").str.slice(0, 10)
    symbols = frame["symbol"].astype("string")
    inside = days.isna()  # all False
    for r in ranges:
        inside |= (symbols == r.symbol) & (days >= r.first) & (days <= r.last)
    if not bool(inside.all()):
        outside = frame.loc[~inside, ["symbol", "trade_date"]].head(5).to_dict("records")
        raise ValueError(f"rows outside the replaced ranges, e.g. {outside}")


def _partition_literals(table: TableSpec, partition: Mapping[str, Any]) -> dict[str, str]:
    if set(partition) != set(table.partition_columns):
        raise ValueError(
            f"partition must name exactly {table.partition_columns}, got {sorted(partition)}"
        )
    out = {}
    for col in table.partition_columns:
        value = str(partition[col])
        if not _LITERAL.fullmatch(value):
            raise ValueError(f"partition value {col}={value!r} has unexpected characters")
        out[col] = value
    return out


class WarehouseResource(dg.ConfigurableResource):
    """What every warehouse offers (``DuckDBWarehouseResource``, ``RedshiftWarehouseResource``).

    SQL is built from ``TableSpec`` identifiers (validated) and partition
    values (validated against a strict pattern), never from free text.
    """

    def replace_partition(
        self,
        table: TableSpec,
        partition: Mapping[str, Any],
        frame: pd.DataFrame | None,
        source_uri: str | None = None,
    ) -> LoadResult:
        """Atomically replace the rows of one partition with ``frame`` (``None``/empty = no rows).

        ``source_uri`` is the lake folder holding the partition's Parquet files
        (what Redshift COPY reads); DuckDB loads ``frame`` directly.
        """
        raise NotImplementedError

    def replace_ranges(
        self,
        table: TableSpec,
        ranges: list[KeyRange],
        frame: pd.DataFrame | None,
        source_uri: str | None = None,
    ) -> RangeLoadResult:
        """Atomically replace every row of ``ranges`` with ``frame``, in one transaction.

        ``frame`` carries all table columns (partition columns included); ``source_uri``
        is a lake folder holding the same rows as Parquet (what Redshift COPY reads).
        """
        raise NotImplementedError

    @property
    def loads_from_lake(self) -> bool:
        """True if ``replace_ranges`` reads ``source_uri`` (COPY) rather than the frame."""
        return False

    @property
    def engine(self) -> str:
        raise NotImplementedError


class DuckDBWarehouseResource(WarehouseResource):
    """Local warehouse in one DuckDB file (one writer at a time: the `warehouse` pool)."""

    path: str = Field(description="DuckDB database file.")

    @property
    def engine(self) -> str:
        return "duckdb"

    def connect(self, read_only: bool = False) -> Any:
        from pathlib import Path

        import duckdb  # lazy

        if not read_only:
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(str(Path(self.path).expanduser()), read_only=read_only)

    def query(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Run a read query and return a DataFrame (for tests, the demo and notebooks)."""
        con = self.connect(read_only=True)
        try:
            return con.execute(sql, params or []).df()
        finally:
            con.close()

    def replace_partition(
        self,
        table: TableSpec,
        partition: Mapping[str, Any],
        frame: pd.DataFrame | None,
        source_uri: str | None = None,
    ) -> LoadResult:
        values = _partition_literals(table, partition)
        rows = 0 if frame is None else len(frame)
        if rows:
            _check_frame_matches(table, values, frame)
        where = " AND ".join(f"{c} = ?" for c in table.partition_columns)
        params = [values[c] for c in table.partition_columns]
        deleted = self._delete_then_insert(table, where, params, frame if rows else None)
        return LoadResult(
            table=table.name,
            partition=values,
            rows_deleted=deleted,
            rows_inserted=rows,
            engine=self.engine,
        )

    def _delete_then_insert(
        self, table: TableSpec, where: str, params: list[str], frame: pd.DataFrame | None
    ) -> int:
        """DELETE the rows matching ``where`` and INSERT ``frame``, in one transaction."""
        con = self.connect()
        try:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.schema}")
            con.execute(table.create_sql())
            con.execute("BEGIN TRANSACTION")
            try:
                delete = f"DELETE FROM {table.name} WHERE {where}"  # noqa: S608  # nosec B608 - validated
                deleted = con.execute(delete, params).fetchone()
                if frame is not None:
                    con.register("incoming_rows", frame)
                    cols = ", ".join(table.columns)
                    casts = ", ".join(f"CAST({c} AS {t})" for c, t in table.columns.items())
                    con.execute(
                        f"INSERT INTO {table.name} ({cols}) SELECT {casts} FROM incoming_rows"  # noqa: S608  # nosec B608 - identifiers validated in TableSpec
                    )
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        finally:
            con.close()
        return int(deleted[0]) if deleted else 0

    def replace_ranges(
        self,
        table: TableSpec,
        ranges: list[KeyRange],
        frame: pd.DataFrame | None,
        source_uri: str | None = None,
    ) -> RangeLoadResult:
        literals = _range_literals(table, ranges)
        rows = 0 if frame is None else len(frame)
        if rows:
            _check_frame_in_ranges(table, ranges, frame)
        if not ranges:
            return RangeLoadResult(table.name, [], 0, 0, self.engine)
        where = " OR ".join("(symbol = ? AND trade_date BETWEEN ? AND ?)" for _ in literals)
        params = [v for triple in literals for v in triple]
        deleted = self._delete_then_insert(table, where, params, frame if rows else None)
        return RangeLoadResult(
            table=table.name,
            ranges=list(ranges),
            rows_deleted=deleted,
            rows_inserted=rows,
            engine=self.engine,
        )


def _check_frame_matches(table: TableSpec, values: dict[str, str], frame: pd.DataFrame) -> None:
    missing = [c for c in table.columns if c not in frame.columns]
    if missing:
        raise ValueError(f"rows for {table.name} lack columns {missing}")
    for col, value in values.items():
        seen = {str(v) for v in frame[col].astype("string").unique()}
        if seen != {value}:
            raise ValueError(
                f"rows for partition {col}={value} carry {col} values {sorted(seen)[:5]}; "
                "a partition load may only touch its own partition"
            )


def _redshift_data_client(region: str | None) -> Any:
    import boto3  # lazy

    return boto3.client("redshift-data", region_name=region)


class RedshiftWarehouseResource(WarehouseResource):
    """Redshift Serverless through the Data API: DELETE + COPY (Parquet, IAM role) in one batch.

    A Data API batch runs as a single transaction, so readers never see the
    partition missing or doubled. TLS is the Data API's HTTPS endpoint.
    """

    workgroup_name: str = Field(description="Redshift Serverless workgroup.")
    database: str = Field(default="finance", description="Database name.")
    iam_role_arn: str = Field(description="Role Redshift assumes to read the curated S3 prefix.")
    secret_arn: str | None = Field(
        default=None, description="Secrets Manager ARN for database credentials (else IAM)."
    )
    region: str | None = Field(default=None, description="AWS region.")
    poll_seconds: float = Field(default=1.0, description="Status polling interval.")
    timeout_seconds: float = Field(default=900.0, description="Give up waiting after this long.")

    @property
    def engine(self) -> str:
        return "redshift"

    def partition_sql(
        self, table: TableSpec, partition: Mapping[str, Any], source_uri: str | None, has_rows: bool
    ) -> list[str]:
        """The statements of one partition replacement, in order (one transaction)."""
        values = _partition_literals(table, partition)
        if not _ROLE_ARN.fullmatch(self.iam_role_arn):
            raise ValueError("iam_role_arn is not an IAM role ARN")
        where = " AND ".join(f"{c} = '{values[c]}'" for c in table.partition_columns)
        sqls = [
            f"CREATE SCHEMA IF NOT EXISTS {table.schema}",
            table.create_sql(),
            f"DELETE FROM {table.name} WHERE {where}",  # noqa: S608  # nosec B608 - validated literals
        ]
        if has_rows:
            if not source_uri or not _S3_URI.fullmatch(source_uri):
                raise ValueError(f"COPY needs an s3:// folder of Parquet files, got {source_uri!r}")
            folder = source_uri.rstrip("/") + "/"
            file_cols = table.file_columns
            stage_cols = ", ".join(f"{c} {table.columns[c]}" for c in file_cols)
            literals = ", ".join(f"'{values[c]}'" for c in table.partition_columns)
            sqls += [
                f"CREATE TEMP TABLE {table.stage_name} ({stage_cols})",
                f"COPY {table.stage_name} FROM '{folder}' IAM_ROLE '{self.iam_role_arn}' "
                "FORMAT AS PARQUET",
                f"INSERT INTO {table.name} ({', '.join(table.partition_columns)}, "  # noqa: S608  # nosec B608
                f"{', '.join(file_cols)}) SELECT {literals}, {', '.join(file_cols)} "
                f"FROM {table.stage_name}",
                f"DROP TABLE {table.stage_name}",
            ]
        return sqls

    @property
    def loads_from_lake(self) -> bool:
        return True

    def ranges_sql(
        self, table: TableSpec, ranges: list[KeyRange], source_uri: str | None, has_rows: bool
    ) -> list[str]:
        """The statements of one range replacement, in order (one Data API batch = one transaction).

        COPY loads the run's staged Parquet (all columns) into a temp table; the DELETE of
        the ranges and the INSERT from the stage then commit together.
        """
        literals = _range_literals(table, ranges)
        if not _ROLE_ARN.fullmatch(self.iam_role_arn):
            raise ValueError("iam_role_arn is not an IAM role ARN")
        where = " OR ".join(
            f"(symbol = '{s}' AND trade_date BETWEEN '{a}' AND '{b}')" for s, a, b in literals
        )
        cols = list(table.columns)
        sqls = [
            f"CREATE SCHEMA IF NOT EXISTS {table.schema}",
            table.create_sql(),
        ]
        if has_rows:
            if not source_uri or not _S3_URI.fullmatch(source_uri):
                raise ValueError(f"COPY needs an s3:// folder of Parquet files, got {source_uri!r}")
            stage_cols = ", ".join(f"{c} {t}" for c, t in table.columns.items())
            sqls += [
                f"CREATE TEMP TABLE {table.stage_name} ({stage_cols})",
                f"COPY {table.stage_name} FROM '{source_uri.rstrip('/')}/' "
                f"IAM_ROLE '{self.iam_role_arn}' FORMAT AS PARQUET",
            ]
        sqls.append(f"DELETE FROM {table.name} WHERE {where}")  # noqa: S608  # nosec B608 - validated literals
        if has_rows:
            sqls += [
                f"INSERT INTO {table.name} ({', '.join(cols)}) "  # noqa: S608  # nosec B608
                f"SELECT {', '.join(cols)} FROM {table.stage_name}",
                f"DROP TABLE {table.stage_name}",
            ]
        return sqls

    def replace_ranges(
        self,
        table: TableSpec,
        ranges: list[KeyRange],
        frame: pd.DataFrame | None,
        source_uri: str | None = None,
    ) -> RangeLoadResult:
        has_rows = frame is not None and len(frame) > 0
        if has_rows:
            _check_frame_in_ranges(table, ranges, frame)
        if not ranges:
            _range_literals(table, ranges)
            return RangeLoadResult(table.name, [], 0, 0, self.engine)
        sqls = self.ranges_sql(table, ranges, source_uri, has_rows)
        client = _redshift_data_client(self.region)
        label = ", ".join(str(r) for r in ranges[:5]) + (" ..." if len(ranges) > 5 else "")
        kwargs: dict[str, Any] = {
            "WorkgroupName": self.workgroup_name,
            "Database": self.database,
            "Sqls": sqls,
            "StatementName": f"replace {table.name} {label}"[:500],
        }
        if self.secret_arn:
            kwargs["SecretArn"] = self.secret_arn
        statement_id = client.batch_execute_statement(**kwargs)["Id"]
        status = self._wait(client, statement_id)
        subs = status.get("SubStatements", [])
        delete_at = 4 if has_rows else 2
        deleted = int(subs[delete_at].get("ResultRows", 0)) if len(subs) > delete_at else 0
        inserted = int(subs[5].get("ResultRows", 0)) if has_rows and len(subs) > 5 else 0
        return RangeLoadResult(
            table=table.name,
            ranges=list(ranges),
            rows_deleted=max(deleted, 0),
            rows_inserted=max(inserted, 0),
            engine=self.engine,
            statement_id=statement_id,
        )

    def replace_partition(
        self,
        table: TableSpec,
        partition: Mapping[str, Any],
        frame: pd.DataFrame | None,
        source_uri: str | None = None,
    ) -> LoadResult:
        has_rows = frame is not None and len(frame) > 0
        sqls = self.partition_sql(table, partition, source_uri, has_rows)
        values = _partition_literals(table, partition)
        client = _redshift_data_client(self.region)
        label = " ".join(f"{k}={v}" for k, v in values.items())
        kwargs: dict[str, Any] = {
            "WorkgroupName": self.workgroup_name,
            "Database": self.database,
            "Sqls": sqls,
            "StatementName": f"replace {table.name} {label}"[:500],
        }
        if self.secret_arn:
            kwargs["SecretArn"] = self.secret_arn
        statement_id = client.batch_execute_statement(**kwargs)["Id"]
        status = self._wait(client, statement_id)
        subs = status.get("SubStatements", [])
        deleted = int(subs[2].get("ResultRows", 0)) if len(subs) > 2 else 0
        inserted = int(subs[5].get("ResultRows", 0)) if has_rows and len(subs) > 5 else 0
        return LoadResult(
            table=table.name,
            partition=values,
            rows_deleted=max(deleted, 0),
            rows_inserted=max(inserted, 0),
            engine=self.engine,
            statement_id=statement_id,
        )

    def _failure(self, desc: Mapping[str, Any]) -> str:
        """Which statement of the batch failed and Redshift's error, with secrets masked."""
        failed = [s for s in desc.get("SubStatements", []) if s.get("Status") == "FAILED"]
        where = f" at {failed[0].get('Id')}" if failed else ""
        error = str(desc.get("Error") or (failed[0].get("Error") if failed else "") or "")
        for secret in (self.secret_arn,):
            if secret:
                error = error.replace(secret, "***")
        error = _CREDENTIAL.sub(lambda m: m.group(1) + "***", error)
        return f"{where}: {error}" if error else where

    def _wait(self, client: Any, statement_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            desc = client.describe_statement(Id=statement_id)
            state = desc.get("Status")
            if state == "FINISHED":
                return desc
            if state in ("FAILED", "ABORTED"):
                raise RuntimeError(
                    f"Redshift statement {statement_id} {state.lower()}{self._failure(desc)} "
                    "(the batch is one transaction: nothing was changed)"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"Redshift statement {statement_id} still {state} after "
                    f"{self.timeout_seconds:.0f}s"
                )
            time.sleep(self.poll_seconds)


def build_warehouse(env: str, duckdb_path: str, aws_region: str | None = None) -> WarehouseResource:
    """DuckDB at ``duckdb_path`` locally; Redshift Serverless (settings from env vars) in prod."""
    if env != "prod":
        return DuckDBWarehouseResource(path=duckdb_path)
    return RedshiftWarehouseResource(
        workgroup_name=dg.EnvVar("FINANCE_REDSHIFT_WORKGROUP"),
        database=dg.EnvVar("FINANCE_REDSHIFT_DATABASE"),
        iam_role_arn=dg.EnvVar("FINANCE_REDSHIFT_COPY_ROLE_ARN"),
        region=aws_region,
    )
