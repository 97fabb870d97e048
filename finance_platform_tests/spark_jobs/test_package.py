"""`make spark-package` builds what EMR / Glue run, and it works without an installed package."""

import os
import subprocess
import sys
import zipfile

from finance_platform.spark_jobs.package import build


def test_package_holds_the_entry_point_the_jobs_and_dagster_pipes(tmp_path):
    artifacts = build(tmp_path / "spark")
    names = set(zipfile.ZipFile(artifacts["zip"]).namelist())
    for required in (
        "finance_platform/spark_jobs/run.py",
        "finance_platform/spark_jobs/registry.py",
        "finance_platform/spark_jobs/jobs.py",
        "finance_platform/transforms/spark/__init__.py",
        "dagster_pipes/__init__.py",
    ):
        assert required in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    # Reproducible: same sources, same bytes (so an upload can be skipped when unchanged).
    again = build(tmp_path / "again")
    assert again["zip"].read_bytes() == artifacts["zip"].read_bytes()


def test_entry_point_runs_from_the_zip_alone_and_refuses_to_run_outside_pipes(tmp_path):
    artifacts = build(tmp_path / "spark")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(artifacts["zip"])}
    # -S: no site-packages, so the code can only come from the zip (as on a cluster).
    proc = subprocess.run(
        [sys.executable, "-S", str(artifacts["script"]), "--finance-job", "customer_segments"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode != 0
    assert "not started by Dagster Pipes" in proc.stderr
    unknown = subprocess.run(
        [sys.executable, "-S", str(artifacts["script"]), "--finance-job", "nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert unknown.returncode == 2
    assert "unknown or missing job 'nope'" in unknown.stderr
