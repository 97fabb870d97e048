"""Every customer SQL stage in order on one DuckDB engine, without Dagster (fast, for properties).

The same reads the assets make (the delivery's header and encoding as the raw assets detect
them, each table from the folder its stage wrote), so what holds here holds for the group.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from finance_platform.defs.customers import raw_files
from finance_platform.resources.lake import LakeResource
from finance_platform.transforms.customers import contract
from finance_platform.transforms.customers.sql import steps
from finance_platform.transforms.customers.sql.duckdb_engine import (
    CsvRead,
    DuckDBEngine,
    ParquetRead,
)


def build_all(
    lake_root: Path, deliveries: dict[str, str], run_date: dt.date
) -> tuple[dict[str, pa.Table], dict[str, dict[str, list[dict]]]]:
    """Every table (and quarantine) built from ``deliveries`` ({file: lake-relative CSV}).

    Returns the tables by name and each stage's stats views as rows.
    """
    lake = LakeResource(root=str(lake_root))
    params: dict = {"deliveries": deliveries, "encodings": {}, "headers": {}}
    params["run_date"] = run_date.isoformat()
    for file, path in deliveries.items():
        fmt = raw_files.file_format(lake, path)
        params["encodings"][file] = fmt.encoding
        params["headers"][file] = raw_files.read_header(lake, path, fmt)
    out = Path(lake_root) / "_stages"
    stats: dict[str, dict[str, list[dict]]] = {}
    with tempfile.TemporaryDirectory(prefix="stages-") as work:
        engine = DuckDBEngine(memory_limit_bytes=512 * 1024**2, threads=1, work_dir=work)
        try:
            for table in steps.STAGES:
                stage = steps.stage_for(table, params)
                reads = {}
                for view in stage.inputs:
                    delivery = contract.DELIVERIES.get(view)
                    if delivery is None:
                        reads[view] = ParquetRead(path=str(out / view))
                        continue
                    reads[view] = CsvRead(
                        path=lake.uri(deliveries[delivery.file]),
                        columns=delivery.columns,
                        header=tuple(params["headers"][delivery.file]),
                        encoding=params["encodings"][delivery.file],
                    )
                writes = {view: str(out / view) for view in stage.outputs}
                built = engine.build(stage, reads, writes)
                stats[table] = {name: t.to_pylist() for name, t in built.items()}
        finally:
            engine.close()
    names = [*contract.TABLES, *contract.QUARANTINES]
    return {name: pq.read_table(out / name) for name in names}, stats
