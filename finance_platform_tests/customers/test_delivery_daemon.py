"""The bank's real file dropped as delivered, picked up by the sensor ticking in ``dagster-daemon``.

The path a user takes: ``aws s3 cp customer_base.csv s3://bucket/raw/`` (an undated name in
``raw/``, its upload day as delivery date), the behaviour file beside it, the sensor started
with ``dagster sensor start``, and the daemon (not the test) evaluating it and launching the
run through the instance's queued run coordinator. The run must build every customer table
from all 10,000 real customers.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from finance_platform.defs.customers.common import PATHS
from finance_platform.resources.lake import LakeResource
from finance_platform.sample_data import DefectRates, generate
from finance_platform_tests.customers.test_real_file import REAL_FILE

REPO = Path(__file__).resolve().parents[2]
SENSOR = "customers_delivery_sensor"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.skipif(not REAL_FILE.exists(), reason=f"no real customer file at {REAL_FILE}"),
]


def _env(root: Path) -> dict[str, str]:
    home = root / "daemon_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FINANCE_", "ALPHAVANTAGE_", "SLACK_")) and k != "DAGSTER_HOME"
    }
    env.update(
        DAGSTER_HOME=str(home),
        FINANCE_LAKE_ROOT=str(root / "daemon_lake"),
        FINANCE_WAREHOUSE_PATH=str(root / "daemon_warehouse.duckdb"),
        GX_ANALYTICS_ENABLED="false",
    )
    return env


def _dagster(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dagster", *args, "-w", str(REPO / "workspace.yaml")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _wait_for_run(instance: dg.DagsterInstance, daemon: subprocess.Popen, log: Path, timeout=420):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert daemon.poll() is None, "dagster-daemon exited:\n" + log.read_text()[-4000:]
        runs = instance.get_runs(dg.RunsFilter(job_name="customers_job"))
        if runs and runs[0].is_finished:
            return runs
        time.sleep(2)
    pytest.fail("no finished customers_job run in time; daemon log:\n" + log.read_text()[-4000:])


def test_the_daemon_runs_the_group_on_the_real_file_dropped_in_raw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    env = _env(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    lake_root = Path(env["FINANCE_LAKE_ROOT"])
    today = dt.datetime.now(dt.UTC).date()
    dropped = lake_root / "raw" / "customer_base.csv"  # as `aws s3 cp customer_base.csv .../raw/`
    dropped.parent.mkdir(parents=True)
    shutil.copyfile(REAL_FILE, dropped)
    generate(
        lake_root / "raw", months=12, seed=3, delivery_date=today, defects=DefectRates.none(),
        base_file=dropped,
    )  # fmt: skip
    _dagster(env, "sensor", "start", SENSOR)
    log = tmp_path / "daemon.log"
    with log.open("w") as out:
        daemon = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-daemon")), "run"]
            + ["-w", str(REPO / "workspace.yaml")],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            with dg.DagsterInstance.get() as instance:
                runs = _wait_for_run(instance, daemon, log)
                run = runs[0]
                assert len(runs) == 1, "one delivery, one run"
                assert run.status == dg.DagsterRunStatus.SUCCESS, log.read_text()[-4000:]
                assert run.tags["finance/delivery"] == today.strftime("%Y%m%d")
                assert run.tags["dagster/sensor_name"] == SENSOR
                mat = instance.get_latest_materialization_event(
                    dg.AssetKey("raw_customer_base")
                ).asset_materialization
                assert mat.metadata["delivery_date_source"].value == "modified time"
                assert mat.metadata["lake_path"].value == "raw/customer_base.csv"
                state = next(s for s in instance.all_instigator_state() if s.name == SENSOR)
                ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
                assert [t.status.value for t in ticks if t.run_ids] == ["SUCCESS"]
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(timeout=30)
    lake = LakeResource(root=str(lake_root))
    assert lake.count_rows(PATHS["cleaned_customer_base"]) == 10_000
    assert lake.count_rows(PATHS["customer_segments"]) == 10_000
    assert lake.count_rows(PATHS["marketing_targets"]) > 0
