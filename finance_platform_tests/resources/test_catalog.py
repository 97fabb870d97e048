"""Every lake table is registered by name: Glue (moto's server, an S3 lake) and DuckDB (real).

The Glue tests write real objects to S3 through the lake resource and read the catalog back
with boto3, because Athena itself cannot run here: the assertions are on what Athena would
read (location, columns, SerDe, partitions). The DuckDB tests run the analysts' SQL.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finance_platform.resources.catalog import (
    LAKE_TABLES,
    CatalogTable,
    Changes,
    Column,
    DuckDBCatalogResource,
    GlueCatalogResource,
    Partition,
    catalog_entry,
    describe_lake_table,
    hive_type,
)
from finance_platform.resources.lake import LakeResource

SEGMENTS = "segments/customer_segments"
QUOTES = "curated/quotes"
LOGS = "monitoring/quality_logs"
RAW_BASE = "raw/customer_base"
REGION = "us-east-1"
ANALYST_SQL = (
    "select segment_name_en, count(*) from customer_segment_db.customer_segments group by 1"
)


# -- what the assets write --------------------------------------------------------------------
def segments_v1() -> pa.Table:
    return pa.table(
        {
            "customer_id": ["C001", "C002", "C003", "C004", "C005"],
            "segment_id": ["S001", "S001", "S003", "S004", "S004"],
            "segment_name_en": [
                "High-net-worth active investor",
                "High-net-worth active investor",
                "Mid-tier active",
                "New customer in nurture",
                "New customer in nurture",
            ],
        }
    )


def segments_v2() -> pa.Table:
    """The next week's segments: one customer moved, and a column was added."""
    return (
        segments_v1()
        .append_column(
            "segment_characteristics", pa.array(["assets>=1M"] * 2 + ["500k-1M"] * 2 + ["new"])
        )
        .set_column(
            2,
            "segment_name_en",
            pa.array(
                ["High-net-worth active investor"]
                + ["Mid-tier active"] * 3
                + ["New customer in nurture"]
            ),
        )
    )


def publish(lake: LakeResource, path: str, table: pa.Table, run: str) -> str:
    """What a customer asset does: write a staged version, then publish it."""
    staged = lake.stage(path, run)
    lake.write_parquet(staged, table)
    # The cleaning statistics live inside a version (hidden from readers by their `_`).
    lake.write_bytes(f"{staged}/_cleaning_stats.json", b"{}")
    lake.publish(path, staged)
    return lake.resolve(path)


def quotes(symbol: str, days: list[str], extra: bool = False) -> pa.Table:
    columns = {
        "symbol": [symbol] * len(days),
        "trade_date": days,
        "close": [100.0 + i for i in range(len(days))],
        "volume": pa.array([1000 * (i + 1) for i in range(len(days))], pa.int64()),
    }
    if extra:
        columns["adjusted_close"] = [99.0 + i for i in range(len(days))]
    return pa.table(columns)


def write_quotes(lake: LakeResource, table: pa.Table) -> None:
    """What curated_quotes does: hive folders symbol=/trade_date=/ replaced per partition."""
    lake.write_table(QUOTES, table, partition_cols=["symbol", "trade_date"])


def write_raw_delivery(lake: LakeResource, name: str = "customer_base_20240105.csv") -> None:
    """A delivery as Excel exports it: a UTF-8 BOM, CRLF, a quoted field holding a comma."""
    text = (
        "customer_id,name,age,branch_name\r\n"
        'C001,Wang Wei,45,"Pudong, Shanghai"\r\n'
        "C002,Li Na,31,Haidian\r\n"
    )
    lake.write_bytes(f"{RAW_BASE}/{name}", b"\xef\xbb\xbf" + text.encode())


# -- moto: S3 lake + Glue catalog ------------------------------------------------------------
@pytest.fixture
def s3_lake(aws: None) -> LakeResource:
    return LakeResource(root="s3://bank-lake/platform", region=REGION)


@pytest.fixture
def glue_catalog(aws: None) -> GlueCatalogResource:
    return GlueCatalogResource(region=REGION)


def glue_table(database: str, name: str) -> dict:
    import boto3

    return boto3.client("glue").get_table(DatabaseName=database, Name=name)["Table"]


def glue_partitions(database: str, name: str) -> dict[tuple[str, ...], dict]:
    import boto3

    pages = boto3.client("glue").get_paginator("get_partitions")
    return {
        tuple(p["Values"]): p
        for page in pages.paginate(DatabaseName=database, TableName=name)
        for p in page["Partitions"]
    }


def glue_versions(database: str, name: str) -> int:
    import boto3

    reply = boto3.client("glue").get_table_versions(DatabaseName=database, TableName=name)
    return len(reply["TableVersions"])


def names_and_types(columns: list[dict]) -> list[tuple[str, str]]:
    return [(c["Name"], c["Type"]) for c in columns]


@pytest.mark.integration
def test_glue_table_is_the_published_version_and_follows_each_publish(s3_lake, glue_catalog):
    current = publish(s3_lake, SEGMENTS, segments_v1(), "run1")
    first = glue_catalog.register_lake_table(s3_lake, SEGMENTS, segments_v1().schema)

    table = glue_table("customer_segment_db", "customer_segments")
    sd = table["StorageDescriptor"]
    assert first.table == "customer_segment_db.customer_segments" and first.changes.created
    assert sd["Location"] == f"s3://bank-lake/platform/{current}/"
    assert "/version=" in sd["Location"]  # the published version, never a staged one
    assert names_and_types(sd["Columns"]) == [
        ("customer_id", "string"),
        ("segment_id", "string"),
        ("segment_name_en", "string"),
    ]
    assert table["PartitionKeys"] == []
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["Parameters"]["classification"] == "parquet"
    assert sd["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert sd["InputFormat"].endswith("MapredParquetInputFormat")
    assert first.metadata()["catalog_table"].value == "customer_segment_db.customer_segments"

    # A re-run that wrote nothing new changes nothing, not even Glue's version history.
    versions = glue_versions("customer_segment_db", "customer_segments")
    again = glue_catalog.register_lake_table(s3_lake, SEGMENTS, segments_v1().schema)
    assert not again.changes.table_changed
    assert glue_versions("customer_segment_db", "customer_segments") == versions

    # Next week's run publishes a new version with a new column: both are visible.
    newer = publish(s3_lake, SEGMENTS, segments_v2(), "run2")
    second = glue_catalog.register_lake_table(s3_lake, SEGMENTS, segments_v2().schema)
    sd = glue_table("customer_segment_db", "customer_segments")["StorageDescriptor"]
    assert newer != current and sd["Location"] == f"s3://bank-lake/platform/{newer}/"
    assert [c["Name"] for c in sd["Columns"]][-1] == "segment_characteristics"
    assert second.changes.columns_added == ("segment_characteristics",)
    assert second.metadata()["catalog_schema_change"].value == {
        "added": ["segment_characteristics"],
        "removed": [],
        "retyped": [],
    }


@pytest.mark.integration
def test_glue_partitions_match_the_lake_after_reruns_removals_and_a_schema_change(
    s3_lake, glue_catalog
):
    write_quotes(
        s3_lake,
        pa.concat_tables(
            [
                quotes("IBM", ["2024-01-02", "2024-01-03"]),
                quotes("AAPL", ["2024-01-02", "2024-01-03"]),
            ]
        ),
    )
    first = glue_catalog.register_lake_table(s3_lake, QUOTES)
    table = glue_table("market_curated_db", "daily_quotes")
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [
        ("symbol", "string"),
        ("trade_date", "string"),
    ]
    assert names_and_types(table["StorageDescriptor"]["Columns"]) == [
        ("close", "double"),
        ("volume", "bigint"),
    ]
    parts = glue_partitions("market_curated_db", "daily_quotes")
    assert sorted(parts) == [
        ("AAPL", "2024-01-02"),
        ("AAPL", "2024-01-03"),
        ("IBM", "2024-01-02"),
        ("IBM", "2024-01-03"),
    ]
    assert parts[("IBM", "2024-01-03")]["StorageDescriptor"]["Location"] == (
        "s3://bank-lake/platform/curated/quotes/symbol=IBM/trade_date=2024-01-03/"
    )
    assert first.partitions == 4 and len(first.changes.partitions_added) == 4

    # The next trading day: one partition added, the others untouched.
    write_quotes(s3_lake, quotes("IBM", ["2024-01-04"]))
    added = glue_catalog.register_lake_table(s3_lake, QUOTES)
    assert [p.values for p in added.changes.partitions_added] == [("IBM", "2024-01-04")]
    assert not added.changes.partitions_updated and not added.changes.partitions_removed
    assert len(glue_partitions("market_curated_db", "daily_quotes")) == 5

    # Re-running the same day rewrites its files: the catalog has nothing to change.
    write_quotes(s3_lake, quotes("IBM", ["2024-01-04"]))
    rerun = glue_catalog.register_lake_table(s3_lake, QUOTES)
    assert rerun.changes == Changes(created=False, table_changed=False, keys_changed=False)

    # A partition removed from the lake is removed from the catalog.
    s3_lake.delete_dir(f"{QUOTES}/symbol=AAPL/trade_date=2024-01-02")
    removed = glue_catalog.register_lake_table(s3_lake, QUOTES)
    assert [p.values for p in removed.changes.partitions_removed] == [("AAPL", "2024-01-02")]
    assert ("AAPL", "2024-01-02") not in glue_partitions("market_curated_db", "daily_quotes")

    # A column added: the table and every partition (each carries its schema) show it.
    wider = quotes("MSFT", ["2024-01-04"], extra=True)
    write_quotes(s3_lake, wider)
    changed = glue_catalog.register_lake_table(s3_lake, QUOTES, wider.schema)
    assert changed.changes.columns_added == ("adjusted_close",)
    assert len(changed.changes.partitions_updated) == 4  # the ones that were there before
    columns = glue_table("market_curated_db", "daily_quotes")["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in columns] == ["close", "volume", "adjusted_close"]
    parts = glue_partitions("market_curated_db", "daily_quotes")
    assert len(parts) == 5
    for values, partition in parts.items():
        assert [c["Name"] for c in partition["StorageDescriptor"]["Columns"]] == [
            "close",
            "volume",
            "adjusted_close",
        ], values


@pytest.mark.integration
def test_glue_pages_and_batches_many_partitions(s3_lake, glue_catalog):
    """More partitions than one Glue call takes (100 to create, 25 to delete, 1 page)."""
    import datetime as dt

    days = [(dt.date(2024, 1, 1) + dt.timedelta(days=i)).isoformat() for i in range(130)]
    row = pa.table({"check": ["row_count"], "passed": [True]})
    buffer = pa.BufferOutputStream()
    pq.write_table(row, buffer)
    for day in days:
        s3_lake.write_bytes(f"{LOGS}/date={day}/000000-a.parquet", buffer.getvalue().to_pybytes())
    first = glue_catalog.register_lake_table(s3_lake, LOGS)
    assert len(glue_partitions("platform_monitoring_db", "quality_logs")) == 130 == first.partitions
    key = glue_table("platform_monitoring_db", "quality_logs")["PartitionKeys"]
    assert key == [{"Name": "date", "Type": "string"}]

    for day in days[:40]:  # e.g. expired by the lake's lifecycle rule
        s3_lake.delete_dir(f"{LOGS}/date={day}")
    second = glue_catalog.register_lake_table(s3_lake, LOGS)
    assert len(second.changes.partitions_removed) == 40
    assert sorted(glue_partitions("platform_monitoring_db", "quality_logs")) == [
        (d,) for d in days[40:]
    ]


@pytest.mark.integration
def test_glue_raw_delivery_is_a_csv_table_that_skips_each_files_header(s3_lake, glue_catalog):
    write_raw_delivery(s3_lake)
    registered = glue_catalog.register_lake_table(s3_lake, RAW_BASE)
    table = glue_table("customer_raw_db", "customer_base")
    sd = table["StorageDescriptor"]
    assert registered.location == "s3://bank-lake/platform/raw/customer_base"
    assert sd["Location"] == "s3://bank-lake/platform/raw/customer_base/"
    assert names_and_types(sd["Columns"]) == [
        ("customer_id", "string"),
        ("name", "string"),
        ("age", "string"),
        ("branch_name", "string"),
    ]
    assert table["Parameters"]["skip.header.line.count"] == "1"
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.serde2.OpenCSVSerde"
    assert sd["SerdeInfo"]["Parameters"]["quoteChar"] == '"'
    assert sd["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"


def write_gb18030_delivery(lake: LakeResource) -> None:
    """A core-banking export: GB18030 text, and a last line cut short by the transfer."""
    text = "customer_id,name,age,branch_name\nC001,王伟,45,浦东支行\nC002,李娜,31,海淀支行\nC003,张"
    lake.write_bytes(f"{RAW_BASE}/customer_base_20240106.csv", text.encode("gb18030"))


@pytest.mark.integration
def test_glue_raw_delivery_in_gb18030_declares_its_encoding(s3_lake, glue_catalog):
    write_gb18030_delivery(s3_lake)
    registered = glue_catalog.register_lake_table(s3_lake, RAW_BASE, encoding="gb18030")
    serde = glue_table("customer_raw_db", "customer_base")["StorageDescriptor"]["SerdeInfo"]
    assert serde["Parameters"]["serialization.encoding"] == "gb18030"
    assert not registered.note
    # Registering it again reads the encoding back: nothing changes.
    again = glue_catalog.register_lake_table(s3_lake, RAW_BASE, encoding="gb18030")
    assert not again.changes.table_changed


@pytest.mark.integration
def test_duckdb_reads_a_cut_last_line_and_says_when_it_cannot_decode(lake, duck_catalog):
    write_raw_delivery(lake)
    # A cut line (too few fields) is padded, not an error that fails the registering step.
    lake.write_bytes(
        f"{RAW_BASE}/customer_base_20240106.csv",
        b"customer_id,name,age,branch_name\nC003,Zhang San,52,Minhang\nC004,Zh",
    )
    duck_catalog.register_lake_table(lake, RAW_BASE)
    rows = query(
        duck_catalog, "select customer_id, age from customer_raw_db.customer_base order by 1"
    )
    assert rows == [("C001", "45"), ("C002", "31"), ("C003", "52"), ("C004", None)]

    # GB18030 needs DuckDB's `encodings` extension (a download): without it the table is
    # registered with a note saying why there is no view, and the step does not fail.
    lake.delete_dir(RAW_BASE)
    write_gb18030_delivery(lake)
    registered = duck_catalog.register_lake_table(lake, RAW_BASE, encoding="gb18030")
    import duckdb

    try:
        duckdb.connect().execute("LOAD encodings")
    except duckdb.Error:
        assert "encodings" in registered.note
        assert registered.metadata()["catalog_note"].value == registered.note
        assert query(
            duck_catalog,
            "select count(*) from information_schema.tables "
            "where table_schema = 'customer_raw_db' and table_name = 'customer_base'",
        ) == [(0,)]
    else:
        assert not registered.note
        rows = query(duck_catalog, "select name from customer_raw_db.customer_base order by 1")
        assert ("王伟",) in rows
    assert query(
        duck_catalog,
        "select table_name from lake_catalog.tables where database = 'customer_raw_db'",
    ) == [("customer_base",)]


@pytest.mark.integration
def test_glue_changing_the_partition_keys_rebuilds_the_partitions(glue_catalog):
    """A table re-keyed (e.g. quotes re-partitioned by year) loses no partition to Glue's rules."""
    by_day = CatalogTable(
        database="market_curated_db",
        name="daily_quotes",
        columns=(Column("close", "double"),),
        location="s3://bank-lake/platform/curated/quotes",
        partition_keys=(Column("trade_date", "string"),),
        partitions=(Partition(("2024-01-02",), "s3://bank-lake/q/trade_date=2024-01-02"),),
    )
    glue_catalog.register(by_day)
    by_year = dataclasses.replace(
        by_day,
        partition_keys=(Column("year", "int"),),
        partitions=(Partition(("2024",), "s3://bank-lake/q/year=2024"),),
    )
    changes = glue_catalog.register(by_year).changes
    assert changes.keys_changed and len(changes.partitions_removed) == 1
    assert glue_table("market_curated_db", "daily_quotes")["PartitionKeys"] == [
        {"Name": "year", "Type": "int"}
    ]
    assert list(glue_partitions("market_curated_db", "daily_quotes")) == [("2024",)]


@pytest.mark.integration
def test_glue_two_runs_registering_at_once_neither_fails_nor_loses_a_partition(
    s3_lake, glue_catalog
):
    """Run A read the catalog; run B then wrote, created the table and its partition.

    A's create_table and batch_create_partition meet AlreadyExists: A updates instead, and
    B's partition (its files were written before B registered it) stays registered.
    """
    write_quotes(s3_lake, quotes("IBM", ["2024-01-02"]))
    seen_by_a = glue_catalog._read("market_curated_db", "daily_quotes")  # before B
    assert seen_by_a is None
    write_quotes(s3_lake, quotes("AAPL", ["2024-01-02"]))
    glue_catalog.register_lake_table(s3_lake, QUOTES)  # run B
    a = glue_catalog._register(seen_by_a, describe_lake_table(s3_lake, QUOTES))
    assert a.changes.created  # A believed it was first, and still succeeded
    assert sorted(glue_partitions("market_curated_db", "daily_quotes")) == [
        ("AAPL", "2024-01-02"),
        ("IBM", "2024-01-02"),
    ]


def test_build_resources_picks_the_catalog_of_the_environment(tmp_path):
    from finance_platform.resources import build_resources
    from finance_platform.settings import Settings

    local = build_resources(Settings(env="local", warehouse_path=str(tmp_path / "w.duckdb")))
    assert isinstance(local["catalog"], DuckDBCatalogResource)
    assert local["catalog"].path == local["warehouse"].path  # the same DuckDB file
    prod = build_resources(Settings(env="prod", aws_region="eu-west-1"))["catalog"]
    assert isinstance(prod, GlueCatalogResource) and prod.region == "eu-west-1"


# -- DuckDB: the same names, the analysts' SQL -------------------------------------------------
@pytest.fixture
def duck_catalog(tmp_path: Path) -> DuckDBCatalogResource:
    return DuckDBCatalogResource(path=str(tmp_path / "warehouse.duckdb"))


def query(catalog: DuckDBCatalogResource, sql: str) -> list[tuple]:
    import duckdb

    con = duckdb.connect(catalog.path, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.integration
def test_the_analysts_query_runs_on_duckdb_and_follows_each_publish(lake, duck_catalog):
    publish(lake, SEGMENTS, segments_v1(), "run1")
    registration = duck_catalog.register_lake_table(lake, SEGMENTS, segments_v1().schema)
    assert registration.catalog == "duckdb" and registration.changes.created
    assert sorted(query(duck_catalog, ANALYST_SQL)) == [
        ("High-net-worth active investor", 2),
        ("Mid-tier active", 1),
        ("New customer in nurture", 2),
    ]
    # Exactly the columns Glue shows: no `version` column from the version folder's name.
    columns = query(duck_catalog, "describe customer_segment_db.customer_segments")
    assert [c[0] for c in columns] == ["customer_id", "segment_id", "segment_name_en"]

    publish(lake, SEGMENTS, segments_v2(), "run2")
    second = duck_catalog.register_lake_table(lake, SEGMENTS, segments_v2().schema)
    assert second.changes.columns_added == ("segment_characteristics",)
    assert sorted(query(duck_catalog, ANALYST_SQL)) == [
        ("High-net-worth active investor", 1),
        ("Mid-tier active", 3),
        ("New customer in nurture", 1),
    ]
    assert query(
        duck_catalog,
        "select segment_characteristics from customer_segment_db.customer_segments "
        "where customer_id = 'C005'",
    ) == [("new",)]


@pytest.mark.integration
def test_duckdb_partitioned_and_csv_tables_read_like_athena(lake, duck_catalog):
    write_quotes(
        lake,
        pa.concat_tables(
            [quotes("IBM", ["2024-01-02", "2024-01-03"]), quotes("AAPL", ["2024-01-02"])]
        ),
    )
    duck_catalog.register_lake_table(lake, QUOTES)
    sql = (
        "select symbol, count(*), sum(volume) from market_curated_db.daily_quotes "
        "group by 1 order by 1"
    )
    assert query(duck_catalog, sql) == [("AAPL", 1, 1000), ("IBM", 2, 3000)]
    # A new trading day is visible at once (the view reads the folders), then registered.
    write_quotes(lake, quotes("AAPL", ["2024-01-03"]))
    assert query(duck_catalog, sql)[0][:2] == ("AAPL", 2)
    lake.delete_dir(f"{QUOTES}/symbol=IBM/trade_date=2024-01-02")
    registered = duck_catalog.register_lake_table(lake, QUOTES)
    assert [p.values for p in registered.changes.partitions_removed] == [("IBM", "2024-01-02")]
    assert query(duck_catalog, sql) == [("AAPL", 2, 2000), ("IBM", 1, 2000)]
    assert query(
        duck_catalog,
        "select table_name, partitions from lake_catalog.tables where database = "
        "'market_curated_db'",
    ) == [("daily_quotes", 3)]

    write_raw_delivery(lake)
    duck_catalog.register_lake_table(lake, RAW_BASE)
    rows = query(
        duck_catalog,
        "select customer_id, age, branch_name from customer_raw_db.customer_base order by 1",
    )
    assert rows == [("C001", "45", "Pudong, Shanghai"), ("C002", "31", "Haidian")]


@pytest.mark.integration
def test_quality_logs_are_queryable_by_date(lake, duck_catalog):
    from finance_platform.defs.customers.common import QUALITY_LOGS, append_quality_log

    assert QUALITY_LOGS == LOGS  # the folder the checks write is the one mapped
    for passed in (True, False):
        append_quality_log(
            lake,
            run_id="r1",
            asset="cleaned_customer_base",
            check="missing_values",
            passed=passed,
            severity="WARN",
            observed={"rate": 0.2},
        )
    duck_catalog.register_lake_table(lake, LOGS)
    rows = query(
        duck_catalog,
        'select "check", count(*), count(distinct date), any_value(typeof(date)) '
        "from platform_monitoring_db.quality_logs group by 1",
    )
    assert rows == [("missing_values", 2, 1, "VARCHAR")]


@pytest.mark.integration
def test_registering_waits_for_another_process_holding_the_warehouse(lake, duck_catalog):
    """DuckDB admits one process per file: a registration waits for it instead of failing."""
    publish(lake, SEGMENTS, segments_v1(), "run1")
    holder = textwrap.dedent(
        f"""
        import duckdb, sys, time
        con = duckdb.connect({duck_catalog.path!r})
        print("locked", flush=True)
        time.sleep(float(sys.argv[1]))
        con.close()
        """
    )

    def hold(seconds: float) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", holder, str(seconds)], stdout=subprocess.PIPE, text=True
        )
        assert process.stdout.readline().strip() == "locked"
        return process

    process = hold(1.5)
    try:
        duck_catalog.register_lake_table(lake, SEGMENTS)
    finally:
        process.wait(timeout=30)
    assert len(query(duck_catalog, ANALYST_SQL)) == 3

    impatient = duck_catalog.model_copy(update={"lock_timeout_seconds": 0.3})
    process = hold(5)
    try:
        with pytest.raises(TimeoutError, match="stayed locked"):
            impatient.register_lake_table(lake, SEGMENTS)
    finally:
        process.kill()
        process.wait(timeout=30)


# -- describing what was written ---------------------------------------------------------------
def test_a_stray_file_in_a_table_folder_is_refused_hidden_ones_are_not(lake):
    publish(lake, SEGMENTS, segments_v1(), "run1")  # holds _cleaning_stats.json: fine
    assert describe_lake_table(lake, SEGMENTS).columns[0] == Column("customer_id", "string")
    lake.write_bytes(f"{lake.resolve(SEGMENTS)}/notes.txt", b"hello")
    with pytest.raises(ValueError, match="Athena would read them"):
        describe_lake_table(lake, SEGMENTS)


def test_a_table_without_a_catalog_name_is_refused_by_name(lake):
    with pytest.raises(KeyError, match="segments/unknown has no catalog name|no catalog name"):
        catalog_entry("segments/unknown")
    with pytest.raises(FileNotFoundError, match="nothing to register"):
        describe_lake_table(lake, SEGMENTS)


def test_every_customer_table_has_a_catalog_name_in_its_layers_database():
    from finance_platform.transforms.customers import contract

    expected = {
        "raw": "customer_raw_db",
        "cleaned": "customer_cleaned_db",
        "quarantine": "customer_cleaned_db",
        "features": "customer_feature_db",
        "segments": "customer_segment_db",
        "recommendations": "customer_recommendation_db",
        "monitoring": "platform_monitoring_db",
        "curated": "market_curated_db",
    }
    folders = [
        *(t.path for t in (*contract.TABLES.values(), *contract.QUARANTINES.values())),
        *(f"raw/{d.file}" for d in contract.DELIVERIES.values()),
        LOGS,
        QUOTES,
    ]
    assert sorted(folders) == sorted(LAKE_TABLES)
    for folder in folders:
        entry = catalog_entry(folder)
        assert entry.database == expected[folder.split("/")[0]], folder
    names = [f"{e.database}.{e.table}" for e in LAKE_TABLES.values()]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(
    ("arrow", "hive"),
    [
        (pa.bool_(), "boolean"),
        (pa.int8(), "tinyint"),
        (pa.int32(), "int"),
        (pa.int64(), "bigint"),
        (pa.uint32(), "bigint"),
        (pa.uint64(), "decimal(20,0)"),
        (pa.float32(), "float"),
        (pa.float64(), "double"),
        (pa.decimal128(18, 2), "decimal(18,2)"),
        (pa.string(), "string"),
        (pa.large_string(), "string"),
        (pa.dictionary(pa.int32(), pa.string()), "string"),
        (pa.binary(), "binary"),
        (pa.date32(), "date"),
        (pa.timestamp("us", tz="UTC"), "timestamp"),
        (pa.list_(pa.int64()), "array<bigint>"),
        (pa.map_(pa.string(), pa.float64()), "map<string,double>"),
        (pa.struct([("a", pa.int32()), ("b", pa.string())]), "struct<a:int,b:string>"),
    ],
)
def test_arrow_types_map_to_the_hive_types_athena_reads(arrow, hive):
    assert hive_type(arrow) == hive


@pytest.mark.parametrize("arrow", [pa.time64("us"), pa.duration("s"), pa.decimal256(40, 2)])
def test_types_athena_cannot_read_are_refused(arrow):
    with pytest.raises(TypeError):
        hive_type(arrow)
