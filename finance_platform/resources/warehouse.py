"""The warehouse: a DuckDB file locally, Redshift Serverless (Data API + COPY) in production.

Both expose ``replace_ranges`` and ``replace_partition``: delete the rows of some keys and
insert the new ones in one transaction, so a re-run never duplicates and never leaves a
gap, and a reader sees either the old rows or the new ones. Both go through one path:
the keys become a validated ``_Keys`` predicate, each engine runs DELETE + INSERT.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

if TYPE_CHECKING:
    import pandas as pd

_IDENT = re.compile(r"[a-z_][a-z0-9_]*")
_S3_URI = re.compile(r"s3://[A-Za-z0-9.\-_/=]+")
# Key text (tickers such as BRK.B): nothing that could end or escape a SQL string literal.
_KEY_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-_]*")
_VARCHAR = re.compile(r"VARCHAR\(([0-9]+)\)")
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


def _key_value(table: TableSpec, column: str, value: Any) -> str:
    """One key value, checked against its column's type so it is safe inside SQL quotes.

    DATE columns take a real calendar day written ``YYYY-MM-DD``; other columns take
    letters, digits, ``.``, ``-`` and ``_`` (within a VARCHAR's length). Neither can hold a
    quote, a backslash, a space or a newline, so the Redshift batch (the Data API takes no
    parameters in a batch) can quote them as literals.
    """
    text = str(value)
    sql_type = table.columns[column].upper()
    if sql_type == "DATE":
        if not _ISO_DAY.fullmatch(text):
            raise ValueError(f"{column} value {text!r} has unexpected characters (want YYYY-MM-DD)")
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{column} value {text!r} is not a calendar date") from None
        return text
    width = _VARCHAR.fullmatch(sql_type)
    if not _KEY_TEXT.fullmatch(text) or (width and len(text) > int(width.group(1))):
        raise ValueError(f"{column} value {text!r} has unexpected characters")
    return text


def _partition_literals(table: TableSpec, partition: Mapping[str, Any]) -> dict[str, str]:
    if set(partition) != set(table.partition_columns):
        raise ValueError(
            f"partition must name exactly {table.partition_columns}, got {sorted(partition)}"
        )
    return {c: _key_value(table, c, partition[c]) for c in table.partition_columns}


# One condition of a term: (column, (value,)) is ``column = value``,
# (column, (first, last)) is ``column BETWEEN first AND last``.
_Condition = tuple[str, tuple[str, ...]]


@dataclass(frozen=True)
class _Keys:
    """The rows one replacement owns: terms OR-ed together, each an AND of conditions.

    Values are validated by ``_key_value`` before a ``_Keys`` exists. ``constant`` holds
    the columns every row shares (a partition's values, which the lake keeps in folder
    names rather than in the Parquet files). No terms: the replacement owns no rows.
    """

    terms: tuple[tuple[_Condition, ...], ...]
    scope: str  # "partition" or "ranges", for messages
    label: str
    constant: Mapping[str, str]

    @classmethod
    def partition(cls, table: TableSpec, values: Mapping[str, str]) -> _Keys:
        term = tuple((c, (values[c],)) for c in table.partition_columns)
        label = " ".join(f"{c}={v}" for c, v in values.items())
        return cls((term,), "partition", label, dict(values))

    @classmethod
    def ranges(cls, table: TableSpec, ranges: Sequence[KeyRange]) -> _Keys:
        if table.partition_columns != ("symbol", "trade_date"):
            raise ValueError(f"{table.name}: ranges need the key (symbol, trade_date)")
        terms = []
        for r in ranges:
            symbol = _key_value(table, "symbol", r.symbol)
            first = _key_value(table, "trade_date", r.first)
            last = _key_value(table, "trade_date", r.last)
            if first > last:
                raise ValueError(f"key range {r} ends before it starts")
            terms.append((("symbol", (symbol,)), ("trade_date", (first, last))))
        label = ", ".join(str(r) for r in ranges[:5]) + (" ..." if len(ranges) > 5 else "")
        return cls(tuple(terms), "ranges", label, {})

    def where(self, inline: bool = False) -> tuple[str, list[str]]:
        """The predicate, values as ``?`` parameters or (``inline``) as quoted literals."""
        params: list[str] = []

        def value(v: str) -> str:
            if inline:
                return f"'{v}'"  # safe: _key_value admits no quote or backslash
            params.append(v)
            return "?"

        def condition(column: str, values: tuple[str, ...]) -> str:
            if len(values) == 1:
                return f"{column} = {value(values[0])}"
            return f"{column} BETWEEN {value(values[0])} AND {value(values[1])}"

        terms = [" AND ".join(condition(c, v) for c, v in term) for term in self.terms]
        sql = terms[0] if len(terms) == 1 else " OR ".join(f"({t})" for t in terms)
        return sql, params

    def check_frame(self, table: TableSpec, frame: pd.DataFrame) -> None:
        """Refuse rows outside these keys or repeating a key: a load may only touch its own."""
        missing = [c for c in table.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"rows for {table.name} lack columns {missing}")
        import pandas as pd  # lazy

        key = {c: _key_text(table, frame, c) for c in table.partition_columns}
        inside = pd.Series(False, index=frame.index)
        for term in self.terms:
            match = pd.Series(True, index=frame.index)
            for column, values in term:
                if len(values) == 1:
                    match &= (key[column] == values[0]).fillna(False)
                else:
                    between = (key[column] >= values[0]) & (key[column] <= values[1])
                    match &= between.fillna(False)
            inside |= match
        if not bool(inside.all()):
            outside = frame.loc[~inside, list(table.partition_columns)].head(5)
            raise ValueError(
                f"rows outside the replaced {self.scope} {self.label}, e.g. "
                f"{outside.to_dict('records')}; a load may only touch its own {self.scope}"
            )
        repeated = frame.assign(**key).duplicated(subset=list(key), keep=False)
        if bool(repeated.any()):
            shown = frame.loc[repeated, list(key)].head(5).to_dict("records")
            raise ValueError(
                f"rows repeat a key {list(key)} of {table.name}, e.g. {shown}; "
                "the key is the table's primary key (which Redshift does not enforce)"
            )


def _key_text(table: TableSpec, frame: pd.DataFrame, column: str) -> pd.Series:
    """A key column as the text ``_key_value`` produces (a DATE as its ``YYYY-MM-DD``)."""
    text = frame[column].astype("string")
    return text.str.slice(0, 10) if table.columns[column].upper() == "DATE" else text


class WarehouseResource(dg.ConfigurableResource):
    """What every warehouse offers (``DuckDBWarehouseResource``, ``RedshiftWarehouseResource``).

    SQL is built from ``TableSpec`` identifiers (validated) and key values (validated
    against their column's type, see ``_key_value``), never from free text. Engines
    implement ``_delete_then_insert``; everything before it is shared.
    """

    def replace_partition(
        self,
        table: TableSpec,
        partition: Mapping[str, Any],
        frame: pd.DataFrame | None,
        source_uri: str | None = None,
    ) -> LoadResult:
        """Atomically replace the rows of one partition with ``frame`` (``None``/empty = no rows).

        ``source_uri`` is the lake folder holding the partition's Parquet files, without
        the partition columns (what Redshift COPY reads); DuckDB loads ``frame`` directly.
        """
        values = _partition_literals(table, partition)
        deleted, inserted, statement_id = self._replace(
            table, _Keys.partition(table, values), frame, source_uri
        )
        return LoadResult(table.name, values, deleted, inserted, self.engine, statement_id)

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
        No ranges: nothing is sent to the warehouse.
        """
        deleted, inserted, statement_id = self._replace(
            table, _Keys.ranges(table, ranges), frame, source_uri
        )
        return RangeLoadResult(
            table.name, list(ranges), deleted, inserted, self.engine, statement_id
        )

    def _replace(
        self, table: TableSpec, keys: _Keys, frame: pd.DataFrame | None, source_uri: str | None
    ) -> tuple[int, int, str | None]:
        rows = frame if frame is not None and len(frame) else None
        if rows is not None:
            keys.check_frame(table, rows)
        if not keys.terms:
            return 0, 0, None
        return self._delete_then_insert(table, keys, rows, source_uri)

    def _delete_then_insert(
        self, table: TableSpec, keys: _Keys, rows: pd.DataFrame | None, source_uri: str | None
    ) -> tuple[int, int, str | None]:
        """DELETE the rows of ``keys`` and INSERT ``rows`` in one transaction.

        Returns (rows deleted, rows inserted, the engine's statement id or ``None``).
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

    def _delete_then_insert(
        self, table: TableSpec, keys: _Keys, rows: pd.DataFrame | None, source_uri: str | None
    ) -> tuple[int, int, str | None]:
        where, params = keys.where()
        con = self.connect()
        try:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.schema}")
            con.execute(table.create_sql())
            con.execute("BEGIN TRANSACTION")
            try:
                delete = f"DELETE FROM {table.name} WHERE {where}"  # noqa: S608  # nosec B608 - validated
                deleted = con.execute(delete, params).fetchone()
                if rows is not None:
                    con.register("incoming_rows", rows)
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
        return (int(deleted[0]) if deleted else 0), (0 if rows is None else len(rows)), None


def _redshift_data_client(region: str | None) -> Any:
    import boto3  # lazy

    return boto3.client("redshift-data", region_name=region)


class RedshiftWarehouseResource(WarehouseResource):
    """Redshift Serverless through the Data API: COPY (Parquet, IAM role) + DELETE + INSERT.

    A Data API batch runs as a single transaction, so readers never see the keys'
    rows missing or doubled. TLS is the Data API's HTTPS endpoint.
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

    @property
    def loads_from_lake(self) -> bool:
        return True

    def partition_sql(
        self, table: TableSpec, partition: Mapping[str, Any], source_uri: str | None, has_rows: bool
    ) -> list[str]:
        """The statements of one partition replacement, in order (one transaction)."""
        keys = _Keys.partition(table, _partition_literals(table, partition))
        return self._batch_sql(table, keys, source_uri, has_rows)

    def ranges_sql(
        self, table: TableSpec, ranges: list[KeyRange], source_uri: str | None, has_rows: bool
    ) -> list[str]:
        """The statements of one range replacement, in order (one Data API batch = one transaction).

        COPY loads the run's staged Parquet (all columns) into a temp table; the DELETE of
        the ranges and the INSERT from the stage then commit together.
        """
        return self._batch_sql(table, _Keys.ranges(table, ranges), source_uri, has_rows)

    def _batch_sql(
        self, table: TableSpec, keys: _Keys, source_uri: str | None, has_rows: bool
    ) -> list[str]:
        """CREATE, [stage + COPY], DELETE, [INSERT + drop stage]: one Data API batch.

        COPY runs before the DELETE so the table is locked only for DELETE + INSERT, not
        while S3 is read. Columns in ``keys.constant`` are not in the files (they are the
        partition's folder names): the INSERT writes them as literals.
        """
        if not _ROLE_ARN.fullmatch(self.iam_role_arn):
            raise ValueError("iam_role_arn is not an IAM role ARN")
        where, _ = keys.where(inline=True)
        sqls = [f"CREATE SCHEMA IF NOT EXISTS {table.schema}", table.create_sql()]
        delete = f"DELETE FROM {table.name} WHERE {where}"  # noqa: S608  # nosec B608 - validated literals
        if not has_rows:
            return [*sqls, delete]
        if not source_uri or not _S3_URI.fullmatch(source_uri):
            raise ValueError(f"COPY needs an s3:// folder of Parquet files, got {source_uri!r}")
        staged = [c for c in table.columns if c not in keys.constant]
        stage_cols = ", ".join(f"{c} {table.columns[c]}" for c in staged)
        columns = ", ".join([*keys.constant, *staged])
        select = ", ".join([*(f"'{v}'" for v in keys.constant.values()), *staged])
        return [
            *sqls,
            f"CREATE TEMP TABLE {table.stage_name} ({stage_cols})",
            f"COPY {table.stage_name} FROM '{source_uri.rstrip('/')}/' "
            f"IAM_ROLE '{self.iam_role_arn}' FORMAT AS PARQUET",
            delete,
            f"INSERT INTO {table.name} ({columns}) SELECT {select} FROM {table.stage_name}",  # noqa: S608  # nosec B608 - validated
            f"DROP TABLE {table.stage_name}",
        ]

    def _delete_then_insert(
        self, table: TableSpec, keys: _Keys, rows: pd.DataFrame | None, source_uri: str | None
    ) -> tuple[int, int, str | None]:
        sqls = self._batch_sql(table, keys, source_uri, rows is not None)
        client = _redshift_data_client(self.region)
        kwargs: dict[str, Any] = {
            "WorkgroupName": self.workgroup_name,
            "Database": self.database,
            "Sqls": sqls,
            "StatementName": f"replace {table.name} {keys.label}"[:500],
        }
        if self.secret_arn:
            kwargs["SecretArn"] = self.secret_arn
        statement_id = client.batch_execute_statement(**kwargs)["Id"]
        subs = self._wait(client, statement_id).get("SubStatements", [])
        delete_at = next(i for i, q in enumerate(sqls) if q.startswith("DELETE "))

        def result_rows(at: int) -> int:
            return max(int(subs[at].get("ResultRows", 0)), 0) if len(subs) > at else 0

        inserted = result_rows(delete_at + 1) if rows is not None else 0
        return result_rows(delete_at), inserted, statement_id

    def _failure(self, desc: Mapping[str, Any]) -> str:
        """Which statement of the batch failed and Redshift's error, with secrets masked."""
        failed = [s for s in desc.get("SubStatements", []) if s.get("Status") == "FAILED"]
        where = f" at {failed[0].get('Id')}" if failed else ""
        error = str(desc.get("Error") or (failed[0].get("Error") if failed else "") or "")
        if self.secret_arn:
            error = error.replace(self.secret_arn, "***")
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
                # Left running, the batch could still commit after the step has failed.
                raise TimeoutError(
                    f"Redshift statement {statement_id} still {state} after "
                    f"{self.timeout_seconds:.0f}s; {self._cancel(client, statement_id)}"
                )
            time.sleep(self.poll_seconds)

    @staticmethod
    def _cancel(client: Any, statement_id: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError  # lazy

        try:
            client.cancel_statement(Id=statement_id)
        except (BotoCoreError, ClientError) as exc:
            return (
                f"cancelling it failed ({type(exc).__name__}), so it may still commit; "
                "re-running the same keys replaces them again"
            )
        return "cancelled it: the batch is one transaction, so it rolls back as a whole"


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
