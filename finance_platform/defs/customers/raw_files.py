"""Finding the bank's CSV deliveries in the lake (raw layer) and reading their format.

A delivery of table ``T`` is ``T.csv`` or ``T_<YYYYMMDD>.csv``, under ``raw/T/`` or
directly under ``raw/`` (where ``aws s3 cp T.csv s3://bucket/raw/`` puts it). Its
delivery date is the date in its name, else its object's modification time (UTC);
the newest delivery is the one with the latest (date, modification time).

What real exports carry is detected here and handed to the engine that parses the rows
(``transforms/customers/sql``, every column as text): a UTF-8 BOM (Excel), CRLF line
endings, GBK/GB18030 text (detected, or ``FINANCE_CUSTOMERS_ENCODING``), the header as
the file writes it. An empty or header-only file is an error naming the file.
"""

from __future__ import annotations

import codecs
import datetime as dt
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from finance_platform.transforms.customers import contract

if TYPE_CHECKING:
    from finance_platform.resources.lake import LakeResource

# Each delivered file's name -> the columns it must carry (``contract.DELIVERIES``).
TABLES = {raw.file: raw.columns for raw in contract.DELIVERIES.values()}
RAW_ROOT = "raw"
_NAME = re.compile(r"^(?P<table>[a-z_]+?)(?:_(?P<stamp>\d{8}))?\.csv$", re.IGNORECASE)
# Encodings tried, in order, when FINANCE_CUSTOMERS_ENCODING is not set. GB18030 is a
# superset of GBK and GB2312, the encodings Chinese core-banking exports use.
DETECTED_ENCODINGS = ("utf-8", "gb18030")
SNIFF_BYTES = 1 << 20
UTF8_BOM = codecs.BOM_UTF8


class DeliveryError(ValueError):
    """A delivery that cannot be read as a table: the message names the file and the problem."""


@dataclass(frozen=True)
class Delivery:
    table: str
    path: str  # lake-relative
    date_iso: str  # YYYY-MM-DD
    date_source: str  # "file name" or "modified time"
    modified: dt.datetime | None = None

    @property
    def stamp(self) -> str:
        return self.date_iso.replace("-", "")

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)


def expected_names(table: str) -> list[str]:
    """Where a delivery of ``table`` is looked for, as a sentence-ready list."""
    names = (f"{table}.csv", f"{table}_<YYYYMMDD>.csv")
    return [f"{RAW_ROOT}/{folder}{name}" for folder in (f"{table}/", "") for name in names]


def deliveries(lake: LakeResource, table: str) -> list[Delivery]:
    """All deliveries of ``table`` in the lake, oldest first."""
    candidates = lake.list_files(f"{RAW_ROOT}/{table}") + lake.list_files(RAW_ROOT, recursive=False)
    found = []
    for path in dict.fromkeys(candidates):
        match = _NAME.match(posixpath.basename(path))
        if not match or match["table"].lower() != table:
            continue
        modified = lake.modified_time(path)
        if match["stamp"]:
            stamp = match["stamp"]
            try:
                day = dt.date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:]))
            except ValueError:
                continue  # not a date: not a delivery name
            found.append(Delivery(table, path, day.isoformat(), "file name", modified))
        elif modified is not None:
            found.append(
                Delivery(table, path, modified.date().isoformat(), "modified time", modified)
            )
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(found, key=lambda d: (d.date_iso, d.modified or epoch, d.path))


def latest_delivery(lake: LakeResource, table: str) -> Delivery | None:
    found = deliveries(lake, table)
    return found[-1] if found else None


def no_delivery_message(lake: LakeResource, table: str) -> str:
    return f"no {table} delivery in {lake.uri(RAW_ROOT)}: expected one of " + ", ".join(
        expected_names(table)
    )


# -- encoding and layout ---------------------------------------------------------
@dataclass(frozen=True)
class FileFormat:
    """How a delivery's bytes are laid out (recorded in the raw asset's metadata)."""

    encoding: str  # Python codec name, e.g. utf-8, gb18030
    encoding_source: str  # "detected" or "FINANCE_CUSTOMERS_ENCODING"
    bom: bool
    line_endings: str  # LF, CRLF or none (a single line)
    ends_with_newline: bool


def _decodes(data: bytes, encoding: str, final: bool) -> int | None:
    """None if ``data`` decodes; else the offset of the first byte that does not."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        decoder.decode(data, final=final)
    except UnicodeDecodeError as exc:
        return exc.start
    return None


def sniff_format(head: bytes, tail: bytes, whole: bool, configured: str = "") -> FileFormat:
    """The encoding and layout of a file from its first bytes (``head``) and last ones.

    ``whole``: ``head`` is the entire file. A configured encoding is used as given
    (after checking the codec exists); else the first of ``DETECTED_ENCODINGS`` that
    decodes the head. Raises ``DeliveryError`` when none does.
    """
    bom = head.startswith(UTF8_BOM)
    body = head[len(UTF8_BOM) :] if bom else head
    if configured:
        try:
            name = codecs.lookup(configured).name
        except LookupError as exc:
            raise DeliveryError(
                f"FINANCE_CUSTOMERS_ENCODING={configured!r} is not an encoding Python knows"
            ) from exc
        offset = _decodes(body, name, final=whole)
        if offset is not None:
            raise DeliveryError(
                f"is not valid {name} (FINANCE_CUSTOMERS_ENCODING) at byte {offset + 3 * bom}"
            )
        encoding, source = name, "FINANCE_CUSTOMERS_ENCODING"
    else:
        failures = {}
        for candidate in ("utf-8",) if bom else DETECTED_ENCODINGS:
            offset = _decodes(body, candidate, final=whole)
            if offset is None:
                encoding, source = codecs.lookup(candidate).name, "detected"
                break
            failures[candidate] = offset + 3 * bom
        else:
            tried = ", ".join(f"{enc} (bad byte at {off})" for enc, off in failures.items())
            raise DeliveryError(
                f"is in no encoding tried: {tried}; set FINANCE_CUSTOMERS_ENCODING to its encoding"
            )
    lines = body.split(b"\n", 1)
    endings = "CRLF" if lines[0].endswith(b"\r") else "LF"
    if len(lines) == 1:
        endings = "none"
    return FileFormat(encoding, source, bom, endings, tail.endswith(b"\n") or not tail)


def file_format(lake: LakeResource, path: str, configured: str = "") -> FileFormat:
    """``sniff_format`` on the first MB and the last bytes of a lake object (two ranged
    reads: a multi-GB delivery is not read through to find how it ends)."""
    with lake.open_input(path) as src:
        head = src.read(SNIFF_BYTES)
    whole = len(head) < SNIFF_BYTES
    tail = head[-2:] if whole else lake.read_tail(path, 2)
    try:
        return sniff_format(head, tail, whole, configured)
    except DeliveryError as exc:
        raise DeliveryError(f"{path} {exc}") from None


def read_header(lake: LakeResource, path: str, fmt: FileFormat | None = None) -> list[str]:
    import csv

    fmt = fmt or file_format(lake, path)
    with lake.open_input(path) as src:
        first = src.read(1 << 16)
    if fmt.bom:
        first = first[len(UTF8_BOM) :]
    line = first.split(b"\n", 1)[0].rstrip(b"\r")
    text = line.decode(fmt.encoding, errors="replace")
    return [c.strip() for c in next(csv.reader([text]), [])]


def count_rows(lake: LakeResource, path: str) -> int:
    """Data rows (non-empty lines after the header), counted without parsing.

    No field holds a newline (the contract); blank lines are not rows (the readers skip
    them too). A last line without a newline counts. The line ends of each block are found
    with NumPy (a substring search for blank lines in Python took longer than reading).
    """
    import numpy as np

    lines = blank = 0
    last_end = -2  # offset of the previous line end, and whether its line was blank
    offset = 0
    tail = b""
    for chunk in lake.iter_blocks(path):
        data = np.frombuffer(chunk, dtype=np.uint8)
        ends = np.flatnonzero(data == 10) + offset
        if ends.size:
            starts = np.concatenate(([last_end + 1], ends[:-1] + 1))
            length = ends - starts  # a line's bytes before its "\n" ("\r" counts as blank)
            cr = np.zeros(ends.size, dtype=bool)
            inside = ends - offset - 1 >= 0
            cr[inside] = data[ends[inside] - offset - 1] == 13
            if not inside[0] and tail.endswith(b"\r"):
                cr[0] = True
            blank += int(np.count_nonzero((length == 0) | ((length == 1) & cr)))
            lines += int(ends.size)
            last_end = int(ends[-1])
        offset += len(chunk)
        tail = chunk[-1:] if chunk else tail
    if offset and offset - 1 != last_end:
        lines += 1  # a last line without a line end
    return max(lines - blank - 1, 0)  # the first line is the header
