"""The data lake: a local folder by default, an S3 prefix in production, one API for both.

Paths handed to this resource are relative to the lake root and use ``/``
(``curated/quotes``); layers and tables follow ``<layer>/<table>/`` with
hive-style partition folders so DuckDB, Spark and Athena read them directly.

Published tables (the customer group's) are versioned so that a failed step never
destroys the last good table: a step writes a new version folder beside the others
(``<table>/version=<stamp>-<tag>/``), and only once the step has succeeded does
``publish`` switch the table to it, by replacing one small pointer object
(``<table>/_current.json``): a rename on a folder, a single PUT on S3, each atomic.
Readers here resolve the pointer; the last ``keep_versions`` published versions stay
queryable (read ``<table>/`` as a hive table: the ``version`` column tells them apart).
"""

from __future__ import annotations

import datetime as dt
import json
import posixpath
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.fs as pafs


POINTER = "_current.json"
VERSION_PREFIX = "version="
# A staged version no step published within this time belongs to a failed step.
STALE_STAGING = dt.timedelta(days=1)


class LakeResource(dg.ConfigurableResource):
    """Read and write lake objects through ``pyarrow.fs`` (local or S3).

    In production the bucket's default encryption is SSE-KMS with the platform's
    customer-managed key and its policy refuses anything else (see deploy/),
    so every object written here is encrypted without per-call headers.
    """

    root: str = Field(
        default="./.lake",
        description="Lake root: a local folder or s3://bucket/prefix.",
    )
    region: str | None = Field(default=None, description="AWS region for an s3:// root.")
    keep_versions: int = Field(
        default=5,
        ge=1,
        description="Published versions kept per versioned table (the current one included).",
    )

    # -- locations -----------------------------------------------------------
    @property
    def is_s3(self) -> bool:
        return self.root.startswith("s3://")

    def _base(self) -> tuple[pafs.FileSystem, str]:
        import pyarrow.fs as pafs

        if self.is_s3:
            from finance_platform.settings import s3_endpoint_url

            options: dict[str, Any] = {"region": self.region} if self.region else {}
            endpoint = s3_endpoint_url()
            if endpoint:
                scheme, _, host = endpoint.partition("://")
                options.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
            fs = pafs.S3FileSystem(**options)
            return fs, self.root.removeprefix("s3://").rstrip("/")
        from pathlib import Path

        base = Path(self.root).expanduser().resolve()
        return pafs.LocalFileSystem(), base.as_posix()

    def _resolve(self, relative: str) -> tuple[pafs.FileSystem, str]:
        rel = relative.strip("/")
        if ".." in rel.split("/"):
            raise ValueError(f"lake paths may not leave the lake root: {relative!r}")
        fs, base = self._base()
        return fs, posixpath.join(base, rel) if rel else base

    def uri(self, relative: str = "") -> str:
        """Full location for engines that open paths themselves (DuckDB, Spark, COPY)."""
        _, path = self._resolve(relative)
        return f"s3://{path}" if self.is_s3 else path

    # -- objects ---------------------------------------------------------------
    def write_bytes(self, relative: str, data: bytes) -> str:
        fs, path = self._resolve(relative)
        fs.create_dir(posixpath.dirname(path), recursive=True)
        with fs.open_output_stream(path) as out:
            out.write(data)
        return self.uri(relative)

    def read_bytes(self, relative: str) -> bytes:
        fs, path = self._resolve(relative)
        with fs.open_input_stream(path) as src:
            return src.read()

    def modified_time(self, relative: str) -> dt.datetime | None:
        """When the object was last written (S3 ``LastModified``, file mtime), in UTC."""
        import pyarrow.fs as pafs

        fs, path = self._resolve(relative)
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.NotFound or info.mtime is None:
            return None
        moment = info.mtime
        return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)

    def open_input(self, relative: str) -> pa.NativeFile:
        """A readable stream (use as a context manager) for large objects, e.g. CSV deliveries."""
        fs, path = self._resolve(relative)
        return fs.open_input_stream(path)

    def iter_blocks(self, relative: str, size: int = 1 << 24) -> Iterator[bytes]:
        """An object's bytes in blocks of ``size`` (random-access reads: on a local disk about
        3x the throughput of ``open_input``'s stream, measured on a 2.4 GB delivery)."""
        fs, path = self._resolve(relative)
        with fs.open_input_file(path) as src:
            while (block := src.read_buffer(size)).size:
                yield block.to_pybytes()

    def read_tail(self, relative: str, size: int) -> bytes:
        """The last ``size`` bytes of an object (a ranged read: the rest is never fetched)."""
        fs, path = self._resolve(relative)
        with fs.open_input_file(path) as src:
            length = src.size()
            src.seek(max(length - size, 0))
            return src.read()

    def download(self, relative: str, local: str) -> str:
        """Copy a lake object or folder to the local path ``local`` (streamed); returns it."""
        import pyarrow.fs as pafs

        fs, path = self._resolve(relative)
        target = pafs.LocalFileSystem()
        if fs.get_file_info(path).type == pafs.FileType.Directory:
            target.create_dir(local, recursive=True)
        else:
            target.create_dir(posixpath.dirname(local), recursive=True)
        pafs.copy_files(path, local, fs, target, use_threads=True)
        return local

    def upload(self, local: str, relative: str) -> str:
        """Replace the lake folder ``relative`` with the local folder ``local`` (streamed)."""
        import pyarrow.fs as pafs

        fs, path = self._resolve(relative)
        self.delete_dir(relative)
        fs.create_dir(path, recursive=True)
        pafs.copy_files(local, path, pafs.LocalFileSystem(), fs, use_threads=True)
        return self.uri(relative)

    def exists(self, relative: str) -> bool:
        import pyarrow.fs as pafs

        fs, path = self._resolve(relative)
        return fs.get_file_info(path).type != pafs.FileType.NotFound

    def list_files(self, relative_dir: str, suffix: str = "", recursive: bool = True) -> list[str]:
        """Files under a folder (and its subfolders if ``recursive``), lake-relative, sorted."""
        import pyarrow.fs as pafs

        fs, path = self._resolve(relative_dir)
        if fs.get_file_info(path).type == pafs.FileType.NotFound:
            return []
        _, base = self._base()
        infos = fs.get_file_info(pafs.FileSelector(path, recursive=recursive))
        return sorted(
            posixpath.relpath(info.path, base)
            for info in infos
            if info.type == pafs.FileType.File and info.path.endswith(suffix)
        )

    def delete_dir(self, relative_dir: str) -> None:
        import pyarrow.fs as pafs

        fs, path = self._resolve(relative_dir)
        if fs.get_file_info(path).type != pafs.FileType.NotFound:
            fs.delete_dir(path)

    # -- published versions ------------------------------------------------------
    def published(self, table_dir: str) -> dict[str, Any] | None:
        """The pointer of a versioned table (``version``, ``history``, ``info``), or ``None``."""
        pointer = posixpath.join(table_dir.strip("/"), POINTER)
        if not self.exists(pointer):
            return None
        return json.loads(self.read_bytes(pointer))

    def resolve(self, relative: str) -> str:
        """The folder holding a table's current data: its published version, else itself."""
        current = self.published(relative)
        if current is None:
            return relative
        return posixpath.join(relative.strip("/"), f"{VERSION_PREFIX}{current['version']}")

    def stage(self, table_dir: str, tag: str = "") -> str:
        """A new, empty version folder of ``table_dir`` to write into (not yet visible)."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        label = "".join(c for c in (tag or uuid.uuid4().hex)[:8] if c.isalnum()) or "x"
        return posixpath.join(table_dir.strip("/"), f"{VERSION_PREFIX}{stamp}-{label}")

    def publish(self, table_dir: str, staged: str, info: dict[str, Any] | None = None) -> dict:
        """Make ``staged`` (from ``stage``) the table's current version, atomically.

        Old versions beyond ``keep_versions`` and abandoned stagings (of failed steps)
        older than a day are deleted afterwards; nothing a reader may hold is removed.
        """
        table = table_dir.strip("/")
        parent, name = posixpath.split(staged.strip("/"))
        if parent != table or not name.startswith(VERSION_PREFIX):
            raise ValueError(f"{staged!r} is not a staged version of {table!r}")
        if not self.exists(staged):
            raise FileNotFoundError(f"nothing was written to {staged!r}: not publishing it")
        version = name.removeprefix(VERSION_PREFIX)
        previous = self.published(table)
        history = [version]
        if previous is not None:
            history += [v for v in previous.get("history", [previous["version"]]) if v != version]
        pointer = {
            "version": version,
            "published_at": dt.datetime.now(dt.UTC).isoformat(),
            "history": history[: self.keep_versions],
            "info": dict(info or {}),
        }
        self._replace_object(
            posixpath.join(table, POINTER), json.dumps(pointer, default=str, indent=1).encode()
        )
        self._prune(table, set(pointer["history"]), dropped=set(history[self.keep_versions :]))
        return pointer

    def _replace_object(self, relative: str, data: bytes) -> None:
        """Write an object so readers see the old or the new bytes, never a mix or nothing."""
        fs, path = self._resolve(relative)
        if self.is_s3:  # a PUT replaces an object atomically
            self.write_bytes(relative, data)
            return
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        fs.create_dir(posixpath.dirname(path), recursive=True)
        with fs.open_output_stream(temporary) as out:
            out.write(data)
        fs.move(temporary, path)  # rename(2): atomic replace on one file system

    def _prune(self, table: str, keep: set[str], dropped: set[str]) -> None:
        import pyarrow.fs as pafs

        fs, path = self._resolve(table)
        stale_before = (dt.datetime.now(dt.UTC) - STALE_STAGING).strftime("%Y%m%dT%H%M%S%fZ")
        for info in fs.get_file_info(pafs.FileSelector(path, recursive=False)):
            name = info.base_name
            if info.type == pafs.FileType.File and not name.startswith(("_", ".")):
                fs.delete_file(info.path)  # data files of the unversioned layout before
                continue
            if info.type != pafs.FileType.Directory or not name.startswith(VERSION_PREFIX):
                continue
            version = name.removeprefix(VERSION_PREFIX)
            if version in keep:
                continue
            if version in dropped or version < stale_before:
                fs.delete_dir(info.path)

    # -- tables ----------------------------------------------------------------
    def write_table(
        self,
        relative_dir: str,
        data: pa.Table | pd.DataFrame,
        partition_cols: list[str] | None = None,
        mode: str = "replace_partitions",
        basename: str = "part-{i}.parquet",
    ) -> str:
        """Write Parquet under ``relative_dir``.

        ``mode``: ``replace_partitions`` rewrites only the hive partitions present
        in ``data`` (re-running a partition never duplicates it), ``overwrite``
        replaces the whole table.
        """
        import pyarrow as pa
        import pyarrow.dataset as ds

        table = (
            data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        )
        fs, path = self._resolve(relative_dir)
        if mode == "overwrite":
            self.delete_dir(relative_dir)
        elif mode != "replace_partitions":
            raise ValueError(f"unknown write mode {mode!r}")
        partitioning = None
        if partition_cols:
            part_schema = pa.schema([table.schema.field(c) for c in partition_cols])
            partitioning = ds.partitioning(part_schema, flavor="hive")
        fs.create_dir(path, recursive=True)
        ds.write_dataset(
            table,
            path,
            filesystem=fs,
            format="parquet",
            partitioning=partitioning,
            basename_template=basename,
            existing_data_behavior="delete_matching",
            max_rows_per_group=1_000_000,
        )
        return self.uri(relative_dir)

    def write_parquet(
        self,
        relative_dir: str,
        table: pa.Table,
        rows_per_file: int = 3_000_000,
        **options: Any,
    ) -> str:
        """Replace an unpartitioned table via ``pyarrow.parquet.write_table``.

        For one big table this is several times faster than ``write_table``'s dataset
        writer. A table over ``rows_per_file`` rows is split into that many-row files
        (``part-00000.parquet``, ...), encoded in parallel threads (Parquet encoding is
        single-threaded per file and releases the GIL). ``options`` go to
        ``write_table`` (e.g. ``use_dictionary=[...]``).
        """
        import os
        from concurrent.futures import ThreadPoolExecutor

        import pyarrow.parquet as pq

        fs, path = self._resolve(relative_dir)
        self.delete_dir(relative_dir)
        fs.create_dir(path, recursive=True)
        files = max(1, -(-table.num_rows // rows_per_file))
        step = -(-table.num_rows // files) if table.num_rows else 0

        def write(i: int) -> None:
            part = table.slice(i * step, step) if files > 1 else table
            target = posixpath.join(path, f"part-{i:05d}.parquet")  # sorts in row order
            pq.write_table(part, target, filesystem=fs, **options)

        with ThreadPoolExecutor(max_workers=min(files, os.cpu_count() or 1)) as pool:
            list(pool.map(write, range(files)))
        return self.uri(relative_dir)

    def _dataset(self, relative_dir: str) -> Any:
        """A (hive-partitioned) Parquet table as a pyarrow dataset: its published version."""
        import pyarrow.dataset as ds

        fs, path = self._resolve(self.resolve(relative_dir))
        return ds.dataset(path, filesystem=fs, format="parquet", partitioning="hive")

    def count_rows(self, relative_dir: str) -> int:
        """Rows of a Parquet table from file footers (no data read); 0 if it does not exist."""

        if not self.exists(relative_dir):
            return 0
        return self._dataset(relative_dir).count_rows()

    def read_table_schema(self, relative_dir: str) -> pa.Schema:
        """Schema of a (hive-partitioned) Parquet table, from its footers (no data read)."""

        return self._dataset(relative_dir).schema

    def head_table(self, relative_dir: str, rows: int) -> pa.Table:
        """The first ``rows`` rows of a Parquet table, reading only the pages they are in.

        ``Dataset.head`` reads whole row groups with read-ahead over several files: 5 GB
        of memory for a preview of a Spark-written million-row table. Streaming the first
        file's first batch reads kilobytes. Hive-partitioned tables (partition values live
        in folder names) go through the dataset.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        dataset = self._dataset(relative_dir)
        batches: list[pa.RecordBatch] = []
        needed = rows
        for file in sorted(dataset.files):
            if needed <= 0:
                break
            with dataset.filesystem.open_input_file(file) as handle:
                parquet = pq.ParquetFile(handle, pre_buffer=False, buffer_size=1 << 16)
                if parquet.schema_arrow.names != dataset.schema.names:
                    return dataset.head(rows)
                for batch in parquet.iter_batches(batch_size=min(needed, 65_536)):
                    batches.append(batch.slice(0, needed))
                    needed -= len(batches[-1])
                    if needed <= 0:
                        break
        if not batches:
            return dataset.schema.empty_table()
        return pa.Table.from_batches(batches).cast(dataset.schema)

    def read_table(
        self,
        relative_dir: str,
        columns: list[str] | None = None,
        filter: Any = None,  # noqa: A002 - mirrors pyarrow's argument name
    ) -> pa.Table:
        """Read a (hive-partitioned) Parquet table; partition columns come back as columns.

        A versioned table reads its published version.
        """

        dataset = self._dataset(relative_dir)
        return dataset.to_table(columns=columns, filter=filter)

    def column_minima(self, relative_dir: str, columns: list[str]) -> dict[str, float | None]:
        """The smallest value of each of ``columns``, streamed batch by batch (bounded memory:
        a 60M-row table never sits in memory whole); None for a column with no values."""
        import pyarrow.compute as pc

        dataset = self._dataset(relative_dir)
        minima: dict[str, float | None] = dict.fromkeys(columns)
        for batch in dataset.to_batches(columns=columns, batch_size=1 << 20):
            for column in columns:
                low = pc.min(batch.column(column)).as_py()
                if low is not None and (minima[column] is None or low < minima[column]):
                    minima[column] = low
        return minima
