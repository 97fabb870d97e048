"""What the Slack/CloudWatch sensors cost per daemon tick.

    .venv/bin/python benchmarks/alert_sensors.py --runs 30

Creates a temporary SQLite instance, executes ``--runs`` small real runs (a third
fail, a third have failed checks), then times one tick of each sensor catching up on
them (up to 50 runs per tick) and an idle tick (nothing new: the common case every
30 s). Alerts go to the log (no Slack configured), so this measures the event-log
reads and message building, not the network.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import dagster as dg


class Probe(dg.ConfigurableResource):
    mode: str = "ok"


@dg.asset
def ledger(probe: Probe) -> dg.MaterializeResult:
    if probe.mode == "fail":
        raise ValueError("boom")
    return dg.MaterializeResult(metadata={"dagster/row_count": 3})


@dg.asset_check(asset=ledger)
def ledger_ok(probe: Probe) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=probe.mode != "bad_check", metadata={"observed_value": 1, "threshold": 0}
    )


job = dg.define_asset_job("ledger_job", selection=[ledger])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--idle-ticks", type=int, default=20)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="alert_bench_"))
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    for name in ("SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN"):
        os.environ.pop(name, None)

    import logging

    logging.getLogger("dagster").setLevel(logging.WARNING)

    from finance_platform.defs.alerts.sensors import build_alert_sensors
    from finance_platform.resources.metrics import CloudWatchMetricsResource
    from finance_platform.resources.slack import SlackAlertsResource
    from finance_platform.settings import load_settings

    resources = {"slack": SlackAlertsResource(), "metrics": CloudWatchMetricsResource()}
    sensors = build_alert_sensors(load_settings())

    with dg.DagsterInstance.get() as instance:
        cursors = {}
        for sensor in sensors:
            ctx = dg.build_sensor_context(instance=instance, resources=resources)
            cursors[sensor.name] = sensor(ctx).cursor
        start = time.perf_counter()
        for i in range(args.runs):
            mode = ("ok", "fail", "bad_check")[i % 3]
            defs = dg.Definitions(
                assets=[ledger],
                asset_checks=[ledger_ok],
                jobs=[job],
                resources={"probe": Probe(mode=mode)},
            )
            defs.resolve_job_def("ledger_job").execute_in_process(
                instance=instance, raise_on_error=False
            )
        print(
            f"{args.runs} runs executed in {time.perf_counter() - start:.1f} s (setup, not timed)"
        )

        for sensor in sensors:
            t = time.perf_counter()
            ticks = 0
            while True:
                ctx = dg.build_sensor_context(
                    instance=instance, cursor=cursors[sensor.name], resources=resources
                )
                result = sensor(ctx)
                ticks += 1
                caught_up = result.cursor == cursors[sensor.name]
                cursors[sensor.name] = result.cursor
                if caught_up:
                    break
            catch_up = time.perf_counter() - t
            idle = []
            for _ in range(args.idle_ticks):
                ctx = dg.build_sensor_context(
                    instance=instance, cursor=cursors[sensor.name], resources=resources
                )
                t = time.perf_counter()
                sensor(ctx)
                idle.append(time.perf_counter() - t)
            print(
                f"{sensor.name:30s} catch-up over {args.runs} runs: {catch_up * 1000:7.0f} ms "
                f"({ticks} ticks)  idle tick median: {statistics.median(idle) * 1000:5.1f} ms"
            )


if __name__ == "__main__":
    main()
