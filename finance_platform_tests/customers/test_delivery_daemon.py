"""The bank's real file dropped as delivered, picked up by the sensor ticking in ``dagster-daemon``.

The path a user takes: ``aws s3 cp customer_base.csv s3://bucket/raw/`` (an undated name in
``raw/``, its upload day as delivery date), the behaviour file beside it, the sensor started
with ``dagster sensor start``, and the daemon (not the test) evaluating it and launching the
run through the instance's queued run coordinator. The run must build every customer table
from all 10,000 real customers.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from finance_platform.resources.lake import LakeResource
from finance_platform.sample_data import DefectRates, generate
from finance_platform.transforms.customers.contract import TABLES
from finance_platform_tests.customers.test_real_file import REAL_FILE
from finance_platform_tests.support.services import (
    Process,
    dagster_cli,
    instance_env,
    start_daemon,
    tail,
)

SENSOR = "customers_delivery_sensor"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.skipif(not REAL_FILE.exists(), reason=f"no real customer file at {REAL_FILE}"),
]


def _wait_for_run(instance: dg.DagsterInstance, daemon: Process, timeout=420):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        daemon.check_alive()
        runs = instance.get_runs(dg.RunsFilter(job_name="customers_job"))
        if runs and runs[0].is_finished:
            return runs
        time.sleep(2)
    pytest.fail("no finished customers_job run in time; daemon log:\n" + tail(daemon.log))


def test_the_daemon_runs_the_group_on_the_real_file_dropped_in_raw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    env = instance_env(tmp_path / "daemon")  # tmp_path's own lake/home are the fixture's
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
    dagster_cli(env, "sensor", "start", SENSOR)
    daemon = start_daemon(env, tmp_path / "daemon.log")
    try:
        with dg.DagsterInstance.get() as instance:
            runs = _wait_for_run(instance, daemon)
            run = runs[0]
            assert len(runs) == 1, "one delivery, one run"
            assert run.status == dg.DagsterRunStatus.SUCCESS, tail(daemon.log)
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
        daemon.stop()
    lake = LakeResource(root=str(lake_root))
    assert lake.count_rows(TABLES["cleaned_customer_base"].path) == 10_000
    assert lake.count_rows(TABLES["customer_segments"].path) == 10_000
    assert lake.count_rows(TABLES["marketing_targets"].path) > 0
