"""The catalog: every lake table queryable by name where analysts look.

Production: the Glue Data Catalog (what Athena and BI tools read). Locally: views in the
DuckDB warehouse file. Both use the same ``database.table`` names, so
``select segment_name_en, count(*) from customer_segment_db.customer_segments group by 1``
runs unchanged in either place. There is no crawler: the asset that writes a table
registers it (``CatalogResource.register_lake_table``), so the catalog says what was
written, when it was written — schema, location, partitions — and nothing guesses.

A table is described once, engine-free (``CatalogTable``), from what the lake holds; each
catalog turns the same description into its own objects, and one function (``plan``) says
what changed since the last registration, so both report the same changes.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import posixpath
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote

import dagster as dg
from pydantic import Field

if TYPE_CHECKING:
    import pyarrow as pa

    from finance_platform.resources.lake import LakeResource

FORMATS = ("parquet", "csv", "json")
MONITORING_DATABASE = "platform_monitoring_db"


class CatalogEntry(NamedTuple):
    """Where a lake table is found by name: ``database.table``, and how its files are stored."""

    database: str
    table: str
    format: str = "parquet"


# Each lake table folder -> its catalog name. Written out rather than derived from folder
# names: the SQL name is what analysts' queries and dashboards depend on, so renaming a
# folder must not silently rename a table (finance_platform_tests/resources/test_catalog.py
# checks every table of the customer contract has an entry here).
# Quality logs get a database of their own: they describe checks, hold no customer row, so
# operations and auditors can be granted them without any read on the customer layers.
LAKE_TABLES: dict[str, CatalogEntry] = {
    # raw deliveries, as delivered (every column text)
    "raw/customer_base": CatalogEntry("customer_raw_db", "customer_base", "csv"),
    "raw/customer_behavior_assets": CatalogEntry(
        "customer_raw_db", "customer_behavior_assets", "csv"
    ),
    # cleaned tables and what cleaning refused
    "cleaned/customer_base": CatalogEntry("customer_cleaned_db", "customer_base"),
    "cleaned/customer_behavior": CatalogEntry("customer_cleaned_db", "customer_behavior"),
    "quarantine/customer_base": CatalogEntry("customer_cleaned_db", "quarantine_customer_base"),
    "quarantine/customer_behavior": CatalogEntry(
        "customer_cleaned_db", "quarantine_customer_behavior"
    ),
    # features, segments, recommendations
    "features/customer_features": CatalogEntry("customer_feature_db", "customer_features"),
    "features/behavior_metrics": CatalogEntry("customer_feature_db", "behavior_metrics"),
    "segments/customer_segments": CatalogEntry("customer_segment_db", "customer_segments"),
    "segments/segment_profiles": CatalogEntry("customer_segment_db", "segment_profiles"),
    "recommendations/product_recommendations": CatalogEntry(
        "customer_recommendation_db", "product_recommendations"
    ),
    "recommendations/marketing_targets": CatalogEntry(
        "customer_recommendation_db", "marketing_targets"
    ),
    # quality logs (one row per check evaluation, partitioned by date)
    "monitoring/quality_logs": CatalogEntry(MONITORING_DATABASE, "quality_logs"),
    # market quotes (partitioned by symbol and trade date)
    "curated/quotes": CatalogEntry("market_curated_db", "daily_quotes"),
}

_IDENT = re.compile(r"[a-z_][a-z0-9_]*")
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE = re.compile(r"-?[0-9]{1,18}")
_SUFFIXES = {"parquet": (".parquet",), "csv": (".csv",), "json": (".json", ".jsonl")}


def catalog_entry(lake_path: str) -> CatalogEntry:
    """The catalog name of the lake table at ``lake_path`` (its folder, e.g. ``segments/x``)."""
    entry = LAKE_TABLES.get(lake_path.strip("/"))
    if entry is None:
        raise KeyError(
            f"lake table {lake_path!r} has no catalog name: add it to LAKE_TABLES in "
            f"finance_platform/resources/catalog.py (known: {sorted(LAKE_TABLES)})"
        )
    return entry


# -- types ----------------------------------------------------------------------------------
def hive_type(arrow_type: pa.DataType) -> str:
    """The Glue/Hive type string Athena reads an Arrow (Parquet) column as.

    Unsigned integers widen to the next signed type (Hive has none); ``uint64`` becomes
    ``decimal(20,0)`` so no value overflows. Types Athena cannot read from Parquet (time of
    day, durations) raise ``TypeError`` naming the type: a table the catalog would
    misdescribe is refused at registration, not discovered by an analyst's failing query.
    """
    import pyarrow as pa

    t = arrow_type
    types = pa.types
    if types.is_dictionary(t):
        return hive_type(t.value_type)
    scalar = {
        pa.bool_(): "boolean",
        pa.int8(): "tinyint",
        pa.int16(): "smallint",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.uint8(): "smallint",
        pa.uint16(): "int",
        pa.uint32(): "bigint",
        pa.uint64(): "decimal(20,0)",
        pa.float16(): "float",
        pa.float32(): "float",
        pa.float64(): "double",
        pa.date32(): "date",
        pa.date64(): "date",
        # A column that held no value in this write: declared text so the table registers;
        # every value reads as null.
        pa.null(): "string",
    }
    if t in scalar:
        return scalar[t]
    if types.is_string(t) or types.is_large_string(t) or types.is_string_view(t):
        return "string"
    if (
        types.is_binary(t)
        or types.is_large_binary(t)
        or types.is_fixed_size_binary(t)
        or types.is_binary_view(t)
    ):
        return "binary"
    if types.is_timestamp(t):
        return "timestamp"
    if types.is_decimal(t):
        if t.precision > 38:
            raise TypeError(f"{t}: Hive decimals hold at most 38 digits")
        return f"decimal({t.precision},{t.scale})"
    if types.is_list(t) or types.is_large_list(t) or types.is_fixed_size_list(t):
        return f"array<{hive_type(t.value_type)}>"
    if types.is_map(t):
        return f"map<{hive_type(t.key_type)},{hive_type(t.item_type)}>"
    if types.is_struct(t):
        fields = ",".join(
            f"{t.field(i).name}:{hive_type(t.field(i).type)}" for i in range(t.num_fields)
        )
        return f"struct<{fields}>"
    raise TypeError(f"Arrow type {t} has no Glue/Hive equivalent Athena can read")


# DuckDB's name for each scalar Hive type, for the partition columns a view casts.
_DUCKDB_SCALAR = {
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


def _duckdb_type(hive: str) -> str:
    if hive in _DUCKDB_SCALAR:
        return _DUCKDB_SCALAR[hive]
    if re.fullmatch(r"decimal\([0-9]+,[0-9]+\)", hive):
        return hive.upper()
    raise TypeError(f"partition column type {hive!r} is not a scalar type")


# -- what was written -------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    name: str
    type: str  # Glue/Hive type string (``hive_type``)
    comment: str = ""


@dataclass(frozen=True)
class Partition:
    values: tuple[str, ...]  # in the order of the table's partition keys
    location: str  # lake URI of the partition's folder (no trailing slash)


@dataclass(frozen=True)
class CatalogTable:
    """A table as written to the lake, in terms every catalog understands.

    ``location`` is the lake URI (``s3://bucket/...`` or a local absolute path, no trailing
    slash) of the folder holding the data: for a versioned table, its published version
    folder, so a reader never sees a half-written or superseded version. ``columns`` are the
    columns inside the files; ``partition_keys`` the hive folder names above them.
    """

    database: str
    name: str
    columns: tuple[Column, ...]
    location: str
    format: str = "parquet"
    partition_keys: tuple[Column, ...] = ()
    partitions: tuple[Partition, ...] = ()
    description: str = ""
    # The text encoding of a CSV table's files (Python's codec name, e.g. "utf-8", "gb18030").
    encoding: str = "utf-8"

    def __post_init__(self) -> None:
        for ident in (self.database, self.name):
            if not _IDENT.fullmatch(ident):
                raise ValueError(f"catalog names are lower-case identifiers, got {ident!r}")
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {self.format!r}")
        names = [c.name for c in (*self.columns, *self.partition_keys)]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated or any(not n or n != n.lower() for n in names):
            raise ValueError(f"{self.qualified_name}: column names must be unique and lower case")
        for p in self.partitions:
            if len(p.values) != len(self.partition_keys):
                raise ValueError(f"{self.qualified_name}: partition {p.values} does not fit keys")

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.name}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CatalogTable:
        raw = json.loads(text)
        return cls(
            database=raw["database"],
            name=raw["name"],
            columns=tuple(Column(**c) for c in raw["columns"]),
            location=raw["location"],
            format=raw["format"],
            partition_keys=tuple(Column(**c) for c in raw["partition_keys"]),
            partitions=tuple(
                Partition(tuple(p["values"]), p["location"]) for p in raw["partitions"]
            ),
            description=raw["description"],
            encoding=raw.get("encoding", "utf-8"),  # tables registered before it was kept
        )


def _is_hidden(relative: str) -> bool:
    """Hive's rule, which Athena (Trino) and Spark follow: ``_*`` and ``.*`` are not data."""
    return any(part.startswith(("_", ".")) for part in relative.split("/"))


def _data_files(lake: LakeResource, folder: str, fmt: str) -> list[str]:
    """The data files under ``folder``, relative to it; refuses anything a reader would choke on.

    Athena reads every visible file under a table's location, so a stray file of another
    format would break every query of the table: it is an error here instead.
    """
    files = [posixpath.relpath(f, folder) for f in lake.list_files(folder)]
    visible = [f for f in files if not _is_hidden(f)]
    strays = [f for f in visible if not f.lower().endswith(_SUFFIXES[fmt])]
    if strays:
        raise ValueError(
            f"{folder}: {strays[:5]} are not {fmt} files, and Athena would read them as part "
            "of the table; move them out of the table's folder (or prefix them with _)"
        )
    if not visible:
        raise FileNotFoundError(f"no {fmt} files under {folder!r}: nothing to register")
    return visible


def _partition_layout(files: Sequence[str]) -> tuple[tuple[str, ...], dict[tuple[str, ...], str]]:
    """(partition keys, {values: relative folder}) from hive folder names ``key=value/``."""
    layouts: dict[tuple[str, ...], dict[tuple[str, ...], str]] = {}
    for file in files:
        folders = file.split("/")[:-1]
        pairs = [p.split("=", 1) for p in folders]
        if any(len(p) != 2 or not p[0] for p in pairs):
            raise ValueError(f"{file}: every folder under a table must be a hive key=value folder")
        keys = tuple(k.lower() for k, _ in pairs)
        values = tuple(unquote(v) for _, v in pairs)
        layouts.setdefault(keys, {})[values] = "/".join(folders)
    if len(layouts) != 1:
        raise ValueError(f"files are partitioned inconsistently: {sorted(layouts)}")
    ((keys, partitions),) = layouts.items()
    return keys, partitions


def _guess_type(values: Sequence[str]) -> str:
    """A partition key's type from its values, when the written schema does not carry it."""
    if values and all(_ISO_DAY.fullmatch(v) for v in values):
        return "date"
    if values and all(_WHOLE.fullmatch(v) for v in values):
        return "bigint"
    return "string"


def _csv_header(lake: LakeResource, relative: str, encoding: str) -> list[str]:
    """The header of a delivered CSV file in ``encoding`` (a BOM, as Excel writes, removed)."""
    with lake.open_input(relative) as stream:
        first_line = stream.read(1 << 16).split(b"\n", 1)[0].rstrip(b"\r")
    text = first_line.decode(encoding, errors="replace").lstrip("\ufeff")
    names = [n.strip() for n in next(csv.reader(io.StringIO(text)), [])]
    if not names or not all(names):
        raise ValueError(f"{relative}: no header line naming every column")
    return names


def describe_lake_table(
    lake: LakeResource,
    lake_path: str,
    schema: pa.Schema | None = None,
    *,
    description: str = "",
    encoding: str = "utf-8",
) -> CatalogTable:
    """Describe the table at ``lake_path`` as the lake holds it now, under its catalog name.

    ``schema`` is the Arrow schema the asset wrote (pass it: when old partitions predate a
    new column, it is the written schema that is current); without it, Parquet tables take
    the schema from their files' footers and CSV tables every header column as ``string``.
    A versioned table (``LakeResource.stage``/``publish``) is described at its published
    version folder. Partitions are every hive folder present, so a partition deleted from
    the lake disappears from the catalog at the next registration.
    """
    entry = catalog_entry(lake_path)
    folder = lake.resolve(lake_path.strip("/"))
    files = _data_files(lake, folder, entry.format)
    keys, layout = _partition_layout(files)
    fields: dict[str, str] = {}
    if schema is not None:
        fields = {f.name.lower(): hive_type(f.type) for f in schema}
    elif entry.format == "parquet":
        fields = {f.name.lower(): hive_type(f.type) for f in lake.read_table_schema(folder)}
    elif entry.format == "csv":
        fields = dict.fromkeys(
            (n.lower() for n in _csv_header(lake, f"{folder}/{files[-1]}", encoding)), "string"
        )
    else:
        raise ValueError(
            f"{lake_path}: a {entry.format} table needs the schema it was written with"
        )
    partition_keys = tuple(
        Column(k, fields.get(k) or _guess_type([values[i] for values in layout]))
        for i, k in enumerate(keys)
    )
    columns = tuple(Column(name, kind) for name, kind in fields.items() if name not in keys)
    location = lake.uri(folder)
    partitions = tuple(
        Partition(values, f"{location}/{relative}")
        for values, relative in sorted(layout.items())
        if keys
    )
    return CatalogTable(
        database=entry.database,
        name=entry.table,
        columns=columns,
        location=location,
        format=entry.format,
        partition_keys=partition_keys,
        partitions=partitions,
        description=description,
        encoding=codecs.lookup(encoding).name,
    )


# -- what changed -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Changes:
    """What one registration changes in a catalog (``plan``)."""

    created: bool
    table_changed: bool  # the table's own definition (columns, location, format, keys, text)
    keys_changed: bool
    columns_added: tuple[str, ...] = ()
    columns_removed: tuple[str, ...] = ()
    columns_retyped: tuple[str, ...] = ()
    partitions_added: tuple[Partition, ...] = ()
    partitions_updated: tuple[Partition, ...] = ()
    partitions_removed: tuple[Partition, ...] = ()


def plan(previous: CatalogTable | None, wanted: CatalogTable) -> Changes:
    """The changes that make a catalog holding ``previous`` hold ``wanted``.

    A partition is updated when its folder moved or when the table's columns or format
    changed (each partition carries the schema it is read with); when the partition keys
    themselves change, every old partition goes and every new one is created.
    """
    if previous is None:
        return Changes(True, True, True, partitions_added=wanted.partitions)
    before = {c.name: c.type for c in previous.columns}
    after = {c.name: c.type for c in wanted.columns}
    keys_changed = previous.partition_keys != wanted.partition_keys
    schema_changed = (
        before != after or previous.format != wanted.format or previous.encoding != wanted.encoding
    )
    old = {} if keys_changed else {p.values: p for p in previous.partitions}
    new = {p.values: p for p in wanted.partitions}
    return Changes(
        created=False,
        table_changed=(
            schema_changed
            or keys_changed
            or previous.columns != wanted.columns
            or previous.location != wanted.location
            or previous.description != wanted.description
        ),
        keys_changed=keys_changed,
        columns_added=tuple(c for c in after if c not in before),
        columns_removed=tuple(c for c in before if c not in after),
        columns_retyped=tuple(c for c in after if c in before and before[c] != after[c]),
        partitions_added=tuple(p for v, p in new.items() if v not in old),
        partitions_updated=tuple(
            p
            for v, p in new.items()
            if v in old and (schema_changed or old[v].location != p.location)
        ),
        partitions_removed=tuple(
            previous.partitions if keys_changed else (p for v, p in old.items() if v not in new)
        ),
    )


@dataclass(frozen=True)
class Registration:
    """The outcome of registering one table: its name, where it points, what changed."""

    table: str
    catalog: str  # "glue" or "duckdb"
    location: str
    partitions: int
    changes: Changes
    note: str = ""  # why the table is registered but not queryable there, if it is not

    def metadata(self) -> dict[str, dg.MetadataValue]:
        """Materialization metadata naming the catalog table (no secret is ever in here)."""
        c = self.changes
        meta: dict[str, dg.MetadataValue] = {
            "catalog_table": dg.MetadataValue.text(self.table),
            "catalog": dg.MetadataValue.text(self.catalog),
            "catalog_location": dg.MetadataValue.path(self.location),
            "catalog_partitions": dg.MetadataValue.int(self.partitions),
        }
        schema_change = {
            "added": list(c.columns_added),
            "removed": list(c.columns_removed),
            "retyped": list(c.columns_retyped),
        }
        if not c.created and any(schema_change.values()):
            meta["catalog_schema_change"] = dg.MetadataValue.json(schema_change)
        if self.note:
            meta["catalog_note"] = dg.MetadataValue.text(self.note)
        return meta


# -- the catalogs -----------------------------------------------------------------------------
class CatalogResource(dg.ConfigurableResource):
    """What every catalog offers (``GlueCatalogResource``, ``DuckDBCatalogResource``).

    Catalogs implement ``_read`` (the table as last registered, or ``None``) and ``_apply``;
    what changed is decided once, by ``plan``.
    """

    def register(self, table: CatalogTable) -> Registration:
        """Create or update ``table`` and its partitions so the catalog matches it exactly."""
        return self._register(self._read(table.database, table.name), table)

    def register_lake_table(
        self,
        lake: LakeResource,
        lake_path: str,
        schema: pa.Schema | None = None,
        *,
        description: str = "",
        encoding: str = "utf-8",
    ) -> Registration:
        """Register what the lake holds at ``lake_path``: the call an asset makes after writing.

        ``encoding`` is the text encoding of a CSV table's files (a delivery's, as detected).

        The catalog is read *before* the lake is listed. Two runs registering the same
        partitioned table at once then never remove each other's partitions: whatever this
        read finds in the catalog was registered after its files were written, so the
        listing that follows sees those files too.
        """
        entry = catalog_entry(lake_path)
        previous = self._read(entry.database, entry.table)
        table = describe_lake_table(
            lake, lake_path, schema, description=description, encoding=encoding
        )
        return self._register(previous, table)

    def _register(self, previous: CatalogTable | None, wanted: CatalogTable) -> Registration:
        changes = plan(previous, wanted)
        note = self._apply(previous, wanted, changes) or ""
        return Registration(
            wanted.qualified_name,
            self.engine,
            wanted.location,
            len(wanted.partitions),
            changes,
            note,
        )

    @property
    def engine(self) -> str:
        raise NotImplementedError

    def _read(self, database: str, name: str) -> CatalogTable | None:
        raise NotImplementedError

    def _apply(
        self, previous: CatalogTable | None, wanted: CatalogTable, changes: Changes
    ) -> str | None:
        """Make the catalog hold ``wanted``; return why it cannot be queried there, if so."""
        raise NotImplementedError


# Glue/Hive storage for each format: what Athena needs to read the files.
_PARQUET_STORAGE = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}
_TEXT_FORMATS = {
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
}
_STORAGE = {
    "parquet": _PARQUET_STORAGE,
    # OpenCSVSerde: deliveries quote fields that contain commas (names, branch names).
    "csv": {
        **_TEXT_FORMATS,
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
            "Parameters": {"separatorChar": ",", "quoteChar": '"', "escapeChar": "\\"},
        },
    },
    "json": {
        **_TEXT_FORMATS,
        "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
    },
}
_FORMAT_OF_SERDE = {s["SerdeInfo"]["SerializationLibrary"]: f for f, s in _STORAGE.items()}
# Glue's limits per call: BatchCreate/BatchUpdatePartition 100 entries, BatchDelete 25.
_BATCH_WRITE = 100
_BATCH_DELETE = 25


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _folder(location: str) -> str:
    """A lake URI as a Glue location: Athena reads a folder, written with a trailing slash."""
    return location.rstrip("/") + "/"


class GlueCatalogResource(CatalogResource):
    """The Glue Data Catalog (production): one Glue table per lake table, partitions included.

    Calls only the table and partition APIs on the platform's databases (the IAM policies in
    deploy/cloudformation/data-platform.yaml grant exactly these). Tables are updated only
    when something changed, so a re-run adds no table version to Glue's history.
    """

    region: str | None = Field(default=None, description="AWS region of the catalog.")
    catalog_id: str | None = Field(
        default=None, description="Account id owning the catalog (default: the caller's)."
    )

    @property
    def engine(self) -> str:
        return "glue"

    def _client(self) -> Any:
        import boto3  # lazy

        return boto3.client("glue", region_name=self.region)

    def _ids(self, database: str, name: str | None = None) -> dict[str, str]:
        ids = {"DatabaseName": database}
        if name is not None:
            ids["TableName"] = name
        if self.catalog_id:
            ids["CatalogId"] = self.catalog_id
        return ids

    def _read(self, database: str, name: str) -> CatalogTable | None:
        client = self._client()
        try:
            found = client.get_table(**self._ids(database), Name=name)["Table"]
        except client.exceptions.EntityNotFoundException:
            return None
        sd = found["StorageDescriptor"]
        partitions = [
            Partition(tuple(p["Values"]), p["StorageDescriptor"]["Location"].rstrip("/"))
            for page in client.get_paginator("get_partitions").paginate(
                **self._ids(database, name), ExcludeColumnSchema=True
            )
            for p in page["Partitions"]
        ]

        def columns(items: list[dict]) -> tuple[Column, ...]:
            return tuple(Column(c["Name"], c["Type"], c.get("Comment", "")) for c in items)

        serde = sd.get("SerdeInfo", {}).get("SerializationLibrary", "")
        return CatalogTable(
            database=database,
            name=name,
            columns=columns(sd.get("Columns", [])),
            location=sd.get("Location", "").rstrip("/"),
            # A table some other tool made in an unknown format is rewritten as ours.
            format=_FORMAT_OF_SERDE.get(serde, "parquet"),
            partition_keys=columns(found.get("PartitionKeys", [])),
            partitions=tuple(sorted(partitions, key=lambda p: p.values)),
            description=found.get("Description", ""),
            encoding=sd.get("SerdeInfo", {})
            .get("Parameters", {})
            .get("serialization.encoding", "utf-8"),
        )

    @staticmethod
    def _storage(table: CatalogTable, location: str) -> dict[str, Any]:
        storage = {
            "Columns": [_glue_column(c) for c in table.columns],
            "Location": _folder(location),
            "Compressed": False,
            "StoredAsSubDirectories": False,
            **json.loads(json.dumps(_STORAGE[table.format])),  # a copy per call
        }
        if table.format == "csv" and table.encoding != "utf-8":
            # Hive's text SerDes decode with this charset (Java's name for GB18030 is the same).
            storage["SerdeInfo"]["Parameters"]["serialization.encoding"] = table.encoding
        return storage

    def _table_input(self, table: CatalogTable) -> dict[str, Any]:
        parameters = {"classification": table.format, "EXTERNAL": "TRUE"}
        if table.format == "csv":
            parameters["skip.header.line.count"] = "1"  # every delivery starts with its header
        return {
            "Name": table.name,
            "Description": table.description[:2048],
            "TableType": "EXTERNAL_TABLE",
            "Parameters": parameters,
            "PartitionKeys": [_glue_column(c) for c in table.partition_keys],
            "StorageDescriptor": self._storage(table, table.location),
        }

    def _partition_input(self, table: CatalogTable, partition: Partition) -> dict[str, Any]:
        return {
            "Values": list(partition.values),
            "StorageDescriptor": self._storage(table, partition.location),
        }

    def _apply(self, previous: CatalogTable | None, wanted: CatalogTable, changes: Changes) -> None:
        client = self._client()
        ids = self._ids(wanted.database, wanted.name)
        if changes.keys_changed and previous is not None:
            # Glue cannot re-key a table that has partitions: drop them, then re-key it.
            self._delete_partitions(client, ids, previous.partitions)
        if changes.created:
            try:
                client.create_table(
                    **self._ids(wanted.database), TableInput=self._table_input(wanted)
                )
            except client.exceptions.AlreadyExistsException:  # another run created it first
                client.update_table(
                    **self._ids(wanted.database), TableInput=self._table_input(wanted)
                )
        elif changes.table_changed:
            client.update_table(**self._ids(wanted.database), TableInput=self._table_input(wanted))
        created = self._create_partitions(client, ids, wanted, changes.partitions_added)
        # Partitions another run created meanwhile are brought up to date instead.
        self._update_partitions(client, ids, wanted, [*changes.partitions_updated, *created])
        if not changes.keys_changed:
            self._delete_partitions(client, ids, changes.partitions_removed)

    def _create_partitions(
        self, client: Any, ids: dict, table: CatalogTable, partitions: Sequence[Partition]
    ) -> list[Partition]:
        """Create ``partitions``; returns those that already existed."""
        existed: list[Partition] = []
        for chunk in _chunks(partitions, _BATCH_WRITE):
            reply = client.batch_create_partition(
                **ids, PartitionInputList=[self._partition_input(table, p) for p in chunk]
            )
            by_values = {p.values: p for p in chunk}
            errors = reply.get("Errors", [])
            for error in errors:
                if error["ErrorDetail"].get("ErrorCode") == "AlreadyExistsException":
                    existed.append(by_values[tuple(error["PartitionValues"])])
            _raise_for(errors, "create", table, ignore="AlreadyExistsException")
        return existed

    def _update_partitions(
        self, client: Any, ids: dict, table: CatalogTable, partitions: Sequence[Partition]
    ) -> None:
        for chunk in _chunks(partitions, _BATCH_WRITE):
            entries = [
                {
                    "PartitionValueList": list(p.values),
                    "PartitionInput": self._partition_input(table, p),
                }
                for p in chunk
            ]
            reply = client.batch_update_partition(**ids, Entries=entries)
            _raise_for(reply.get("Errors", []), "update", table)

    def _delete_partitions(self, client: Any, ids: dict, partitions: Sequence[Partition]) -> None:
        for chunk in _chunks(partitions, _BATCH_DELETE):
            reply = client.batch_delete_partition(
                **ids, PartitionsToDelete=[{"Values": list(p.values)} for p in chunk]
            )
            # Already gone (another run removed it) is what was wanted.
            _raise_for(reply.get("Errors", []), "delete", None, ignore="EntityNotFoundException")


def _glue_column(column: Column) -> dict[str, str]:
    out = {"Name": column.name, "Type": column.type}
    if column.comment:
        out["Comment"] = column.comment[:255]
    return out


def _raise_for(
    errors: Sequence[Mapping[str, Any]], verb: str, table: CatalogTable | None, ignore: str = ""
) -> None:
    failed = [e for e in errors if e.get("ErrorDetail", {}).get("ErrorCode") != ignore]
    if failed:
        shown = [
            (e.get("PartitionValues") or e.get("PartitionValueList"), e["ErrorDetail"])
            for e in failed[:5]
        ]
        name = table.qualified_name if table else "table"
        raise RuntimeError(f"Glue could not {verb} {len(failed)} partition(s) of {name}: {shown}")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


REGISTRY_SCHEMA = "lake_catalog"
REGISTRY = f"{REGISTRY_SCHEMA}.tables"


class DuckDBCatalogResource(CatalogResource):
    """Views in the local DuckDB warehouse file, one per lake table, named ``database.table``.

    A view reads the lake folder at query time (``read_parquet``/``read_csv`` over a glob),
    so partitions written later are visible at once; what was registered, partitions
    included, is kept in ``lake_catalog.tables`` (the local counterpart of Glue's entries,
    queryable too). DuckDB lets one process at a time open the file for writing (the
    warehouse asset's load, a notebook): registering waits for the lock, up to
    ``lock_timeout_seconds``, rather than failing the step that wrote the table.
    """

    path: str = Field(description="DuckDB warehouse file (FINANCE_WAREHOUSE_PATH).")
    lock_timeout_seconds: float = Field(
        default=120.0, description="How long to wait for another process's lock on the file."
    )

    @property
    def engine(self) -> str:
        return "duckdb"

    def connect(self) -> Any:
        """A read-write connection, waiting while another process holds the file's lock."""
        from pathlib import Path

        import duckdb  # lazy

        target = Path(self.path).expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_seconds
        pause = 0.05
        while True:
            try:
                return duckdb.connect(str(target))
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"{target} stayed locked by another process for "
                        f"{self.lock_timeout_seconds:.0f}s (a DuckDB session left open?): {exc}"
                    ) from exc
                time.sleep(pause)
                pause = min(pause * 2, 1.0)

    def _read(self, database: str, name: str) -> CatalogTable | None:
        con = self.connect()
        try:
            if not _has_registry(con):
                return None
            row = con.execute(
                f"SELECT description FROM {REGISTRY} WHERE database = ? AND table_name = ?",  # noqa: S608  # nosec B608 - constant names
                [database, name],
            ).fetchone()
        finally:
            con.close()
        return CatalogTable.from_json(row[0]) if row else None

    def _apply(self, previous: CatalogTable | None, wanted: CatalogTable, changes: Changes) -> str:
        if "://" in wanted.location:
            raise ValueError(
                f"{wanted.qualified_name}: the local catalog reads lake folders on this "
                f"machine, not {wanted.location.split('://')[0]}:// (use FINANCE_ENV=prod)"
            )
        con = self.connect()
        try:
            # One transaction: the view and its registry row change together or not at all
            # (closing the connection before COMMIT rolls back).
            note = _readable_by_duckdb(con, wanted)  # before BEGIN: a failed LOAD aborts it
            con.begin()
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(wanted.database)}")
            if note:  # the registry keeps the table; no view reads it wrongly
                con.execute(f"DROP VIEW IF EXISTS {_quote(wanted.database)}.{_quote(wanted.name)}")
            else:
                con.execute(view_sql(wanted))
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {REGISTRY_SCHEMA}")
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {REGISTRY} (database VARCHAR, table_name VARCHAR, "
                "location VARCHAR, partitions BIGINT, registered_at TIMESTAMPTZ, "
                "description VARCHAR, PRIMARY KEY (database, table_name))"
            )
            con.execute(
                f"INSERT OR REPLACE INTO {REGISTRY} VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608  # nosec B608 - constant names
                [
                    wanted.database,
                    wanted.name,
                    wanted.location,
                    len(wanted.partitions),
                    dt.datetime.now(dt.UTC),
                    wanted.to_json(),
                ],
            )
            con.commit()
        finally:
            con.close()
        return note


def _has_registry(con: Any) -> bool:
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = 'tables'",
        [REGISTRY_SCHEMA],
    ).fetchone()
    return bool(found and found[0])


# Python's codec names -> DuckDB's; DuckDB reads these three itself, any other encoding only
# with its `encodings` extension (downloaded from extensions.duckdb.org, so not offline).
_DUCKDB_ENCODINGS = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    "utf-16": "utf-16",
    "iso8859-1": "latin-1",
}


def _readable_by_duckdb(con: Any, table: CatalogTable) -> str:
    """Why ``con`` cannot read ``table``'s files, or "" when it can."""
    if table.format != "csv" or table.encoding in _DUCKDB_ENCODINGS:
        return ""
    import duckdb  # lazy

    try:
        con.execute("LOAD encodings")
    except duckdb.Error:
        return (
            f"no view: DuckDB reads {table.encoding} text only with its `encodings` "
            "extension, which is not installed (INSTALL encodings, online, then register "
            "again); the cleaned table holds these rows decoded"
        )
    return ""


def view_sql(table: CatalogTable) -> str:
    """The DuckDB view of ``table``: its declared columns, then its partition keys.

    Columns are listed rather than ``*``: DuckDB reads every ``key=value`` folder in a
    file's path as a column (a versioned table's ``version=...`` too), and the view must
    show exactly the columns Athena shows. Partition values are cast to their declared type
    as text would be (no guessing: ``month=01`` stays ``01`` in a string column).
    """
    suffix = _SUFFIXES[table.format][0]
    pattern = f"{table.location}/{'**/' if table.partition_keys else ''}*{suffix}"
    hive = "true" if table.partition_keys else "false"
    options = f"hive_partitioning = {hive}, hive_types_autocast = false, union_by_name = true"
    if table.format == "parquet":
        source = f"read_parquet({_literal(pattern)}, {options})"
    elif table.format == "csv":
        # Deliveries as delivered: a short (cut) line is padded with NULLs and a line no
        # reading can parse is left out of the view (the pipeline quarantines it with a reason).
        encoding = _literal(_DUCKDB_ENCODINGS.get(table.encoding, table.encoding))
        source = (
            f"read_csv({_literal(pattern)}, header = true, all_varchar = true, "
            f"encoding = {encoding}, null_padding = true, strict_mode = false, "
            f"ignore_errors = true, {options})"
        )
    else:
        source = f"read_json({_literal(pattern)}, format = 'newline_delimited', {options})"
    selected = [_quote(c.name) for c in table.columns] + [
        f"CAST({_quote(k.name)} AS {_duckdb_type(k.type)}) AS {_quote(k.name)}"
        for k in table.partition_keys
    ]
    name = f"{_quote(table.database)}.{_quote(table.name)}"
    # Identifiers are validated and quoted, the file pattern is a quoted literal.
    return f"CREATE OR REPLACE VIEW {name} AS SELECT {', '.join(selected)} FROM {source}"  # noqa: S608  # nosec B608


def build_catalog(env: str, warehouse_path: str, aws_region: str | None = None) -> CatalogResource:
    """DuckDB views in the warehouse file locally; the Glue Data Catalog in production."""
    if env != "prod":
        return DuckDBCatalogResource(path=warehouse_path)
    return GlueCatalogResource(region=aws_region)
