"""The lake resource: objects and hive-partitioned tables on a local folder."""

import pyarrow as pa
import pytest

from finance_platform.resources.lake import LakeResource


def test_bytes_round_trip_and_listing(lake: LakeResource, lake_root):
    uri = lake.write_bytes("raw/quotes/symbol=IBM/date=2023-11-10.json", b'{"a": 1}')
    assert uri == str(lake_root / "raw/quotes/symbol=IBM/date=2023-11-10.json")
    assert lake.read_bytes("raw/quotes/symbol=IBM/date=2023-11-10.json") == b'{"a": 1}'
    assert lake.exists("raw/quotes/symbol=IBM/date=2023-11-10.json")
    assert not lake.exists("raw/quotes/symbol=IBM/date=2023-11-09.json")
    assert lake.list_files("raw/quotes", suffix=".json") == [
        "raw/quotes/symbol=IBM/date=2023-11-10.json"
    ]
    assert lake.list_files("raw/nothing") == []


def test_paths_cannot_escape_the_lake(lake: LakeResource):
    with pytest.raises(ValueError, match="may not leave"):
        lake.write_bytes("../outside.txt", b"x")


def test_rewriting_a_partition_replaces_it_and_keeps_the_others(lake: LakeResource):
    first = pa.table({"symbol": ["IBM", "AAPL"], "close": [1.0, 2.0]})
    lake.write_table("curated/quotes", first, partition_cols=["symbol"])
    again = pa.table({"symbol": ["IBM"], "close": [3.0]})
    lake.write_table("curated/quotes", again, partition_cols=["symbol"])

    got = lake.read_table("curated/quotes").to_pandas().sort_values("symbol")
    assert got["symbol"].astype(str).tolist() == ["AAPL", "IBM"]
    assert got["close"].tolist() == [2.0, 3.0]
    assert any("symbol=IBM" in f for f in lake.list_files("curated/quotes", ".parquet"))


def test_overwrite_replaces_the_whole_table(lake: LakeResource):
    lake.write_table("features/x", pa.table({"k": [1, 2]}))
    lake.write_table("features/x", pa.table({"k": [9]}), mode="overwrite")
    assert lake.read_table("features/x").column("k").to_pylist() == [9]


def test_big_tables_are_written_as_several_files_that_read_back_in_row_order(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    table = pa.table({"row": list(range(25)), "text": [f"r{i}" for i in range(25)]})
    lake.write_parquet("features/t", table, rows_per_file=2)  # 13 files: part-00012 > part-00002
    files = sorted(p.name for p in (tmp_path / "features/t").iterdir())
    assert files[0] == "part-00000.parquet" and len(files) == 13
    assert lake.read_table("features/t").to_pydict() == table.to_pydict()
    lake.write_parquet("features/t", table.slice(0, 3))  # replaces, no stale files left
    assert lake.count_rows("features/t") == 3


def test_head_reads_the_first_rows_across_small_files_and_partitioned_tables(lake: LakeResource):
    table = pa.table({"k": list(range(10)), "v": [f"r{i}" for i in range(10)]})
    lake.write_parquet("features/h", table, rows_per_file=3)  # files of 3, 3, 3, 1 rows
    head = lake.head_table("features/h", 5)
    assert head.to_pydict() == {"k": [0, 1, 2, 3, 4], "v": ["r0", "r1", "r2", "r3", "r4"]}
    assert lake.head_table("features/h", 50).num_rows == 10

    quotes = pa.table({"symbol": ["IBM", "IBM", "AAPL"], "close": [1.0, 2.0, 3.0]})
    lake.write_table("curated/quotes", quotes, partition_cols=["symbol"])
    head = lake.head_table("curated/quotes", 2)
    assert head.num_rows == 2 and head.schema.names == ["close", "symbol"]

    lake.write_parquet("features/empty", table.slice(0, 0))
    assert lake.head_table("features/empty", 5).schema.names == ["k", "v"]
