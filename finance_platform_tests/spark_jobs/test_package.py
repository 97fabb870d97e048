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
        "finance_platform/transforms/customers/sql/steps.py",
        "finance_platform/transforms/customers/contract.py",
        "sqlglot/__init__.py",
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


def test_the_rules_become_spark_sql_from_the_zip_alone_without_dagster_or_pandas(tmp_path):
    """On a cluster only the zip is there: the contract, every stage and its Spark SQL."""
    artifacts = build(tmp_path / "spark")
    probe = (
        "import sys\n"
        "from finance_platform.spark_jobs import jobs, registry\n"
        "from finance_platform.transforms.customers import contract\n"
        "from finance_platform.transforms.customers.sql import steps, spark_engine\n"
        "assert registry.JOBS['customers_cleaning'].companions\n"
        "params = {'deliveries': {'customer_base': 'raw/b.csv',"
        " 'customer_behavior_assets': 'raw/a.csv'}, 'run_date': '2026-01-05'}\n"
        "for table in steps.STAGES:\n"
        "    for view in steps.stage_for(table, params).views:\n"
        "        assert spark_engine.to_spark(view.query).lstrip().startswith('SELECT')\n"
        "print(sorted(contract.TABLES), sorted(m for m in ('dagster', 'pandas', 'pyspark')"
        " if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(artifacts["zip"])},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "'marketing_targets'" in proc.stdout
    assert proc.stdout.strip().endswith("[]")  # none of Dagster, pandas or PySpark imported
