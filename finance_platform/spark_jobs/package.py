"""Build (and optionally upload) what EMR Serverless and Glue run: ``make spark-package``.

Writes ``<out>/run_job.py`` (the entry point script) and ``<out>/finance_platform.zip``
(the package plus ``dagster_pipes`` and ``sqlglot``, which turns the rules' SQL into Spark
SQL on the cluster; for ``--py-files`` / ``--extra-py-files``).
``--upload s3://bucket/prefix`` copies both there; point ``FINANCE_SPARK_ARTIFACTS_URI``
at the same prefix. See deploy/spark.md.
"""

from __future__ import annotations

import argparse
import hashlib
import zipfile
from pathlib import Path

ENTRY_POINT_SOURCE = '''"""EMR Serverless / Glue entry point (deploy/spark.md)."""
import sys

from finance_platform.spark_jobs.run import main

sys.exit(main())
'''

# Fixed timestamp so the same sources give the same zip (and the same sha256).
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)
_SKIP_PARTS = {"__pycache__"}


def _package_files(root: Path, package: str) -> list[tuple[Path, str]]:
    base = root / package
    files = []
    for path in sorted(base.rglob("*")):
        if path.is_dir() or _SKIP_PARTS & set(path.parts) or path.suffix in {".pyc", ".pyo"}:
            continue
        if path.suffix in {".py", ".json", ".sql", ".typed"}:
            files.append((path, path.relative_to(root).as_posix()))
    return files


def build(out: Path) -> dict[str, Path]:
    """Build the artifacts into ``out``; returns their paths."""
    import dagster_pipes
    import sqlglot

    import finance_platform

    out.mkdir(parents=True, exist_ok=True)
    project_root = Path(finance_platform.__file__).resolve().parent.parent
    pipes_root = Path(dagster_pipes.__file__).resolve().parent.parent
    members = _package_files(project_root, "finance_platform")
    members += _package_files(pipes_root, "dagster_pipes")
    members += _package_files(Path(sqlglot.__file__).resolve().parent.parent, "sqlglot")
    archive = out / "finance_platform.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, name in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    script = out / "run_job.py"
    script.write_text(ENTRY_POINT_SOURCE)
    return {"zip": archive, "script": script}


def upload(artifacts: dict[str, Path], uri: str) -> list[str]:
    import boto3

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3")
    uploaded = []
    for path in artifacts.values():
        key = f"{prefix.rstrip('/')}/{path.name}" if prefix else path.name
        s3.upload_file(str(path), bucket, key)
        uploaded.append(f"s3://{bucket}/{key}")
    return uploaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="dist/spark", type=Path)
    parser.add_argument("--upload", default="", help="s3://bucket/prefix to copy the artifacts to")
    args = parser.parse_args(argv)
    artifacts = build(args.out)
    for path in artifacts.values():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        print(f"{path}  {path.stat().st_size:>9,d} bytes  sha256 {digest}")
    if args.upload:
        if not args.upload.startswith("s3://"):
            parser.error("--upload must be an s3:// URI")
        for uri in upload(artifacts, args.upload):
            print(f"uploaded {uri}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
