"""A delivery rewritten the ways real exports differ from the contract, for tests and trials.

``as_delivered(src, dst, ...)`` copies a CSV delivery and applies any mix of: a UTF-8
BOM (Excel's "CSV UTF-8"), CRLF line endings, another encoding (GBK / GB18030, as
Chinese core-banking systems write), dates in another format on every n-th row
(``YYYY/MM/DD`` or ``YYYYMMDD``), extra columns (``create_time``, ``update_time``), a
last line cut mid-row (an interrupted transfer), or nothing but the header.
Values are rewritten as text; no row is added or removed (but the cut one).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from finance_platform.transforms.customers import rules

# date / datetime / month columns of each table, and how each style writes them
DATE_COLUMNS = {
    "customer_base": {"open_account_date": "date"},
    "customer_behavior_assets": {
        "last_app_login_time": "datetime",
        "last_contact_time": "datetime",
        "marketing_cool_period": "date",
        "stat_month": "month",
    },
}
DATE_STYLES = {
    "slash": {"date": "%Y/%m/%d", "datetime": "%Y/%m/%d %H:%M:%S", "month": "%Y/%m"},
    "compact": {"date": "%Y%m%d", "datetime": "%Y%m%d %H:%M:%S", "month": "%Y%m"},
}
_CONTRACT = {"date": rules.DATE_FORMAT, "datetime": rules.DATETIME_FORMAT, "month": "%Y-%m"}


@dataclass(frozen=True)
class Variant:
    bom: bool = False
    crlf: bool = False
    encoding: str = "utf-8"
    date_style: str = ""  # "", "slash" or "compact"
    date_every: int = 50  # every n-th data row gets the date style
    extra_columns: bool = False  # create_time, update_time appended
    cut_last_line: bool = False
    header_only: bool = False


def _restyle(value: str, kind: str, style: str) -> str:
    import datetime as dt

    try:
        moment = dt.datetime.strptime(value, _CONTRACT[kind])
    except ValueError:
        return value  # a planted bad date stays as it was
    return moment.strftime(DATE_STYLES[style][kind])


def as_delivered(src: str | Path, dst: str | Path, variant: Variant, table: str) -> Path:
    """Write ``src`` (a contract-format delivery of ``table``) to ``dst`` as ``variant``."""
    src, dst = Path(src), Path(dst)
    with src.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, data = rows[0], rows[1:]
    if variant.header_only:
        data = []
    if variant.date_style:
        dated = {header.index(c): k for c, k in DATE_COLUMNS[table].items() if c in header}
        for i, row in enumerate(data):
            if i % variant.date_every == 0:
                for position, kind in dated.items():
                    row[position] = _restyle(row[position], kind, variant.date_style)
    if variant.extra_columns:
        header = [*header, "create_time", "update_time"]
        data = [[*row, "2025-06-30 23:00:00", "2025-07-01 01:00:00"] for row in data]
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if variant.crlf else "\n").writerows([header, *data])
    text = out.getvalue()
    if variant.cut_last_line and data:
        last = text.rstrip("\r\n")
        start = last.rfind("\n") + 1
        text = last[: start + max(1, (len(last) - start) // 3)]  # a third of the last row
    payload = text.encode(variant.encoding)
    if variant.bom:
        payload = b"\xef\xbb\xbf" + payload
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(payload)
    return dst
