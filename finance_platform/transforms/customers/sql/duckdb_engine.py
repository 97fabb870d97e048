"""Runs a ``Stage`` on DuckDB: the local engine, out of core within a memory budget.

The step's work happens in a DuckDB file in a scratch folder: materialized views are tables
there, and whatever does not fit in ``memory_limit`` (sorts, joins, aggregates, tables)
spills to disk, so the peak memory does not grow with the delivery. Deliveries are read by
DuckDB's parallel CSV reader as text; outputs are streamed to Parquet by ``COPY``.

Reading a delivery (``CsvRead``) gives the input view the stages expect
(``transforms/customers/sql/__init__.py``):
- the file's header (as the raw asset read it) names the columns, so extra or reordered
  columns are fine; a repeated name counts once (its first place);
- an empty field is NULL; a line that does not split into the header's fields is kept
  with ``_malformed`` (its fields as far as they went): short lines are padded with NULL,
  long ones caught in spare columns; ``_row`` is the line's place in the file: the file is
  cut at line ends into a few pieces (a kernel copy), each read with ``WITH ORDINALITY``
  (which makes a scan serial) and the pieces in parallel, ``_row`` = the piece's byte offset
  plus the line's number in it (unique, increasing in file order; Spark's scheme too);
- text in another encoding than UTF-8 (GB18030) is transcoded to a UTF-8 copy first;
- a line the reader cannot split at all (more fields than the spare columns, a quote never
  closed) fails the step, naming the line numbers, never the content (it may hold names).
"""

from __future__ import annotations

import codecs
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from finance_platform.transforms.customers import contract
from finance_platform.transforms.customers.sql import SPARE_COLUMNS, Stage, View
from finance_platform.transforms.customers.sql.render import ident, lit

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

PIECE_BYTES = 32 * 1024**2  # a delivery smaller than this is read in one piece
_TRANSCODE_CHUNK = 1 << 24


class UnreadableLines(ValueError):
    """Lines of a delivery the CSV reader could not split (numbers, never content)."""


@dataclass(frozen=True)
class CsvRead:
    """A delivery on local disk: ``columns`` are the contract's, ``header`` the file's own."""

    path: str
    columns: tuple[str, ...]
    header: tuple[str, ...] = ()
    encoding: str = "utf-8"


@dataclass(frozen=True)
class ParquetRead:
    """A table (a folder of Parquet files) on local disk."""

    path: str


def _header(read: CsvRead) -> tuple[str, ...]:
    if read.header:
        return read.header
    import csv

    with open(read.path, encoding=read.encoding, newline="") as src:
        first = src.readline().lstrip("\ufeff")
    return tuple(c.strip() for c in next(csv.reader([first]), []))


def _unique_names(header: tuple[str, ...]) -> list[str]:
    """The header as column names: a repeated name keeps its first place, later ones renamed."""
    seen: set[str] = set()
    names = []
    for i, name in enumerate(header):
        names.append(name if name and name not in seen else f"__column_{i}")
        seen.add(name)
    return names


def _utf8(read: CsvRead, work_dir: str) -> str:
    """The delivery as UTF-8: itself, or a transcoded copy in ``work_dir`` (streamed)."""
    if codecs.lookup(read.encoding).name == "utf-8":
        return read.path
    target = os.path.join(work_dir, f"utf8-{os.path.basename(read.path)}")
    decoder = codecs.getincrementaldecoder(read.encoding)(errors="strict")
    with open(read.path, "rb") as src, open(target, "w", encoding="utf-8", newline="") as out:
        while chunk := src.read(_TRANSCODE_CHUNK):
            out.write(decoder.decode(chunk))
        out.write(decoder.decode(b"", final=True))
    return target


def _copy_range(src: int, dst: int, offset: int, length: int) -> None:
    """``length`` bytes of ``src`` from ``offset`` into ``dst`` (in the kernel where it can)."""
    try:
        while length > 0:
            done = os.copy_file_range(src, dst, length, offset)
            if done == 0:
                raise OSError("copy_file_range copied nothing")
            offset, length = offset + done, length - done
    except OSError:
        os.lseek(src, offset, os.SEEK_SET)
        while length > 0:
            block = os.read(src, min(length, _TRANSCODE_CHUNK))
            os.write(dst, block)
            length -= len(block)


def split_lines(path: str, work_dir: str, pieces: int) -> list[tuple[int, str]]:
    """The data lines of ``path`` (after its header line) as ``pieces`` files cut at line
    ends, each with the byte offset of its first line in ``path``."""
    size = os.path.getsize(path)
    with open(path, "rb") as src:
        src.readline()
        start = src.tell()
        cuts = [start]
        for k in range(1, pieces):
            src.seek(max(start + (size - start) * k // pieces - 1, cuts[-1]))
            src.readline()
            cuts.append(min(src.tell(), size))
        cuts.append(size)
        out = []
        for k in range(pieces):
            if cuts[k + 1] <= cuts[k]:
                continue
            target = os.path.join(work_dir, f"piece-{k}-{os.path.basename(path)}")
            with open(target, "wb") as dst:
                _copy_range(src.fileno(), dst.fileno(), cuts[k], cuts[k + 1] - cuts[k])
            out.append((cuts[k], target))
    return out


def _line_number(path: str, offset: int) -> int:
    """The 1-based line (header = 1) holding byte ``offset`` of ``path``."""
    lines, read = 1, 0
    with open(path, "rb") as src:
        while read < offset and (block := src.read(min(_TRANSCODE_CHUNK, offset - read))):
            lines += block.count(b"\n")
            read += len(block)
    return lines


class DuckDBEngine:
    """One DuckDB database in ``work_dir`` that holds a step's inputs, views and tables."""

    def __init__(self, memory_limit_bytes: int, threads: int, work_dir: str):
        import duckdb

        self.work_dir = work_dir
        self.threads = max(int(threads), 1)
        os.makedirs(os.path.join(work_dir, "spill"), exist_ok=True)
        self.con: duckdb.DuckDBPyConnection = duckdb.connect(
            os.path.join(work_dir, "work.duckdb"),
            config={
                "memory_limit": f"{max(memory_limit_bytes // 1024**2, 128)}MB",
                "threads": self.threads,
                "temp_directory": os.path.join(work_dir, "spill"),
                # outputs are tables (order is not part of a table); not keeping the scan
                # order lets DuckDB stream every result instead of buffering it
                "preserve_insertion_order": False,
            },
        )
        self.con.execute("SET enable_progress_bar = false")  # a step's log, not a terminal
        # DuckDB guesses a CSV scan holds a few dozen rows and then builds its hash tables on
        # the delivery (12M rows and every column) instead of the small side; the stages write
        # every join with its smaller input on the right, the side a hash join builds on
        self.con.execute("SET disabled_optimizers = 'build_side_probe_side'")
        # per delivery view: the UTF-8 file read, and (byte offset, rejects table) per piece
        self._reads: dict[str, tuple[str, list[tuple[int, str]]]] = {}

    # -- inputs ---------------------------------------------------------------------------
    def read_csv(self, view: str, read: CsvRead) -> None:
        header = _header(read)
        missing = [c for c in read.columns if c not in header]
        if missing:
            raise KeyError(f"{read.path} is missing required column(s): {', '.join(missing)}")
        names = _unique_names(header)
        spare = [f"__spare_{i}" for i in range(1, SPARE_COLUMNS + 1)]
        spec = "{" + ", ".join(f"{lit(n)}: 'VARCHAR'" for n in (*names, *spare)) + "}"
        path = _utf8(read, self.work_dir)
        pieces = max(1, min(self.threads * 2, os.path.getsize(path) // PIECE_BYTES))
        columns = ", ".join(f"NULLIF({ident(c)}, '') AS {ident(c)}" for c in read.columns)
        malformed = f"({ident(names[-1])} IS NULL OR {spare[0]} IS NOT NULL)"
        scans = []
        self._reads[view] = (path, [])
        for k, (offset, piece) in enumerate(split_lines(path, self.work_dir, pieces)):
            rejects = f"__rejects_{view}_{k}"
            source = (
                f"read_csv({lit(piece)}, header = false, columns = {spec}, auto_detect = false, "
                f"delim = ',', quote = '\"', escape = '\"', null_padding = true, "
                # no text reads as NULL: an empty field is '' (made NULL above), a missing one NULL
                f"nullstr = {lit(chr(1))}, ignore_errors = true, store_rejects = true, "
                f"rejects_table = {lit(rejects)}, rejects_scan = {lit(rejects + '_scan')})"
            )
            scans.append(
                f"SELECT {columns}, CAST({offset} + ordinality AS BIGINT) AS _row, "
                f"{malformed} AS _malformed FROM {source} WITH ORDINALITY"
            )
            self._reads[view][1].append((offset, rejects))
        if not scans:  # a header and nothing else: no rows, the same columns
            nulls = ", ".join(f"CAST(NULL AS VARCHAR) AS {ident(c)}" for c in read.columns)
            scans.append(
                f"SELECT {nulls}, CAST(NULL AS BIGINT) AS _row, FALSE AS _malformed WHERE FALSE"
            )
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {' UNION ALL '.join(scans)}")

    def read_parquet(self, view: str, read: ParquetRead) -> None:
        pattern = (
            os.path.join(read.path, "**", "*.parquet") if os.path.isdir(read.path) else read.path
        )
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS "
            f"SELECT * FROM read_parquet({lit(pattern)}, hive_partitioning = false)"
        )

    def register(self, view: str, table: Any) -> None:
        """An in-memory table (Arrow) as input view ``view`` (tests)."""
        self.con.register(f"__input_{view}", table)
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM __input_{view}")

    # -- running ----------------------------------------------------------------------------
    def create(self, view: View) -> None:
        kind = "TABLE" if view.materialize else "TEMP VIEW"
        self.con.execute(f"CREATE OR REPLACE {kind} {view.name} AS {view.query}")
        if view.materialize:
            self._check_rejects()

    def _check_rejects(self) -> None:
        tables = {
            r[0] for r in self.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        for path, pieces in self._reads.values():
            offsets = []
            for offset, rejects in pieces:
                if rejects in tables:  # created when that piece is first scanned
                    offsets += [
                        offset + int(position)
                        for (position,) in self.con.execute(
                            f"SELECT MIN(byte_position) FROM {rejects} GROUP BY line"
                        ).fetchall()
                    ]
            if offsets:
                offsets.sort()
                lines = ", ".join(str(_line_number(path, o)) for o in offsets[:20])
                more = f" (and {len(offsets) - 20} more)" if len(offsets) > 20 else ""
                raise UnreadableLines(
                    f"{os.path.basename(path)}: {len(offsets)} line(s) cannot be split into "
                    f"fields (more fields than the header, or a quote never closed): line(s) "
                    f"{lines}{more}. Fix or remove them and re-deliver."
                )

    def run(self, stage: Stage) -> None:
        for view in stage.views:
            self.create(view)

    def write_parquet(self, view: str, folder: str) -> None:
        """``view`` as one Parquet file in ``folder`` (its contract columns, checked)."""
        expected = list(contract.table(view).columns)
        got = [row[0] for row in self.con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()]
        if got != expected:
            raise ValueError(f"{view}: the stage makes columns {got}, the contract says {expected}")
        os.makedirs(folder, exist_ok=True)
        target = os.path.join(folder, "part-0.parquet")
        self.con.execute(
            f"COPY (SELECT * FROM {view}) TO {lit(target)} (FORMAT parquet, COMPRESSION snappy)"
        )
        self._check_rejects()

    def fetch(self, view: str) -> pa.Table:
        return self.con.sql(f"SELECT * FROM {view}").to_arrow_table()

    def build(
        self,
        stage: Stage,
        reads: Mapping[str, CsvRead | ParquetRead],
        writes: Mapping[str, str],
        progress: Callable[[str], None] | None = None,
    ) -> dict[str, pa.Table]:
        """Run ``stage`` on ``reads`` ({input view: read}), write its outputs to ``writes``
        ({output view: local folder}) and return its stats views. ``progress`` hears of
        each table kept and each output written, with its time (long steps show progress)."""
        missing = [name for name in stage.inputs if name not in reads]
        if missing:
            raise KeyError(f"stage {stage.name} needs input(s) {missing}")
        for name in stage.inputs:
            read = reads[name]
            if isinstance(read, CsvRead):
                self.read_csv(name, read)
            else:
                self.read_parquet(name, read)
        say = progress or (lambda _message: None)
        for view in stage.views:
            started = time.perf_counter()
            self.create(view)
            if view.materialize:
                say(f"{stage.name}: {view.name} computed in {time.perf_counter() - started:.1f} s")
        for view in stage.outputs:
            if view in writes:
                started = time.perf_counter()
                self.write_parquet(view, writes[view])
                say(f"{stage.name}: {view} written in {time.perf_counter() - started:.1f} s")
        return {view: self.fetch(view) for view in stage.stats}

    def close(self) -> None:
        self.con.close()


def run_on_tables(stage: Stage, inputs: Mapping[str, Any]) -> dict[str, pa.Table]:
    """``stage`` on in-memory ``inputs`` (by view name): its outputs and stats as Arrow (tests)."""
    import tempfile

    missing = [name for name in stage.inputs if name not in inputs]
    if missing:
        raise KeyError(f"stage {stage.name} needs input(s) {missing}")
    with tempfile.TemporaryDirectory(prefix="duckdb-stage-") as work:
        engine = DuckDBEngine(memory_limit_bytes=512 * 1024**2, threads=1, work_dir=work)
        try:
            for name in stage.inputs:
                engine.register(name, inputs[name])
            engine.run(stage)
            return {view: engine.fetch(view) for view in (*stage.outputs, *stage.stats)}
        finally:
            engine.close()
