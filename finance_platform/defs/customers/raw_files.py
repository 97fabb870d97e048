"""Finding and parsing the bank's CSV deliveries in the lake (raw layer).

Deliveries are ``raw/<table>/<table>_<YYYYMMDD>.csv``; the greatest name is the
newest delivery. Parsing uses pyarrow's multithreaded CSV reader with explicit
column types (numbers typed, low-cardinality labels dictionary-encoded); if a
number does not parse, the file is re-read with every column as text so the
cleaning step can quarantine exactly the bad rows instead of failing the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from finance_platform.transforms.customers import rules

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from finance_platform.resources.lake import LakeResource

TABLES = {
    "customer_base": rules.BASE_COLUMNS,
    "customer_behavior_assets": rules.BEHAVIOR_COLUMNS,
}
_NAME = re.compile(r"^(?P<table>[a-z_]+)_(?P<stamp>\d{8})\.csv$")

_DICT_COLUMNS = {
    "customer_base": (
        "gender",
        "occupation",
        "occupation_type",
        "lifecycle_stage",
        "marriage_status",
        "city_level",
        "branch_name",
    ),
    "customer_behavior_assets": (
        "asset_level",
        "contact_result",
        "stat_month",
        "marketing_cool_period",
    ),
}
_INT_COLUMNS = {
    "customer_base": rules.BASE_INT_COLUMNS,
    "customer_behavior_assets": rules.BEHAVIOR_INT_COLUMNS,
}
_FLOAT_COLUMNS = {
    "customer_base": rules.BASE_FLOAT_COLUMNS,
    "customer_behavior_assets": rules.BEHAVIOR_FLOAT_COLUMNS,
}


@dataclass(frozen=True)
class Delivery:
    table: str
    path: str  # lake-relative
    stamp: str  # YYYYMMDD

    @property
    def date_iso(self) -> str:
        return f"{self.stamp[:4]}-{self.stamp[4:6]}-{self.stamp[6:]}"


def deliveries(lake: LakeResource, table: str) -> list[Delivery]:
    """All deliveries of ``table`` in the lake, oldest first."""
    found = []
    for path in lake.list_files(f"raw/{table}", suffix=".csv"):
        match = _NAME.match(path.rsplit("/", 1)[-1])
        if match and match["table"] == table:
            found.append(Delivery(table, path, match["stamp"]))
    return sorted(found, key=lambda d: (d.stamp, d.path))


def latest_delivery(lake: LakeResource, table: str) -> Delivery | None:
    found = deliveries(lake, table)
    return found[-1] if found else None


def read_header(lake: LakeResource, path: str) -> list[str]:
    import csv
    import io

    with lake.open_input(path) as src:
        first = src.read(1 << 16)
    line = io.BytesIO(first).readline().decode("utf-8-sig")
    return [c.strip() for c in next(csv.reader([line]), [])]


def count_rows(lake: LakeResource, path: str) -> int:
    """Data rows (lines after the header), counted without parsing; no field holds a newline."""
    lines, last = 0, b"\n"
    with lake.open_input(path) as src:
        while chunk := src.read(1 << 24):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)


def _read(lake: LakeResource, path: str, include: list[str], types: dict) -> pa.Table:
    import pyarrow.csv as pacsv

    convert = pacsv.ConvertOptions(
        include_columns=include,
        column_types=types,
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    # pyarrow's default 1 MB blocks: 16 MB blocks parsed the 12M-row delivery in 24-26 s
    # against 12-15 s, on 2 cores.
    with lake.open_input(path) as src:
        return pacsv.read_csv(src, convert_options=convert)


def read_delivery(lake: LakeResource, table: str, path: str) -> pd.DataFrame:
    """The contract columns of one delivery as a DataFrame (extra columns are left out).

    Raises ``KeyError`` naming any missing required column.
    """
    import pyarrow as pa

    from finance_platform.transforms.customers.cleaning import missing_required_columns

    header = read_header(lake, path)
    required = TABLES[table]
    missing = missing_required_columns(header, required)
    if missing:
        raise KeyError(
            f"{table} delivery {path} is missing required column(s): {', '.join(missing)}"
        )
    dictionary = pa.dictionary(pa.int32(), pa.string())
    types = {c: pa.string() for c in required}
    types.update({c: dictionary for c in _DICT_COLUMNS[table]})
    text_types = dict(types)
    types.update({c: pa.int64() for c in _INT_COLUMNS[table]})
    types.update({c: pa.float64() for c in _FLOAT_COLUMNS[table]})
    try:
        arrow = _read(lake, path, list(required), types)
    except pa.ArrowInvalid:
        arrow = _read(lake, path, list(required), text_types)
    return arrow.to_pandas(split_blocks=True, self_destruct=True)
