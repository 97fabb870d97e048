"""Fixtures for alert tests: a real webhook receiver on 127.0.0.1 and a real Dagster instance."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest


@dataclass
class WebhookReceiver:
    """Stands in for Slack: records every JSON body it accepts with HTTP 200.

    ``mode`` is ``ok``, ``error`` (answers HTTP 500) or ``hang`` (answers nothing until
    released, so the client's timeout fires).
    """

    url: str
    mode: str = "ok"
    accepted: list[dict] = field(default_factory=list)
    refused: int = 0
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def texts(self) -> list[str]:
        return [body.get("text", "") for body in self.accepted]


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if receiver.mode == "hang":
                receiver.refused += 1
                receiver.release.wait(timeout=30)
                return  # close without an answer
            if receiver.mode == "error":
                receiver.refused += 1
                self.send_response(500)
                self.end_headers()
                self.wfile.write(b"internal_error")
                return
            receiver.accepted.append(json.loads(body or b"{}"))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(None))  # type: ignore[arg-type]
    receiver = WebhookReceiver(url=f"http://127.0.0.1:{server.server_port}/services/T0/B0/XYZ")
    server.RequestHandlerClass = _handler(receiver)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def instance(isolated_env) -> Iterator[dg.DagsterInstance]:
    """A real SQLite-backed instance in the test's temporary DAGSTER_HOME."""
    home = Path(os.environ["DAGSTER_HOME"])
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    inst = dg.DagsterInstance.get()
    try:
        yield inst
    finally:
        inst.dispose()


# -- a small real pipeline whose failures the sensors must report ------------------------


class LedgerProbe(dg.ConfigurableResource):
    """Steers the test pipeline: fail, produce few rows, leave values missing, be slow."""

    fail_with: str = ""
    rows: int = 3
    missing_rate: float = 0.0
    sleep_s: float = 0.0


@dg.asset(group_name="alerts_test")
def ledger_balances(probe: LedgerProbe) -> dg.MaterializeResult:
    if probe.sleep_s:
        time.sleep(probe.sleep_s)
    if probe.fail_with:
        raise ValueError(probe.fail_with)
    return dg.MaterializeResult(metadata={"dagster/row_count": dg.MetadataValue.int(probe.rows)})


@dg.asset_check(asset=ledger_balances, description="At least 1 row per load (ERROR).")
def ledger_row_count(probe: LedgerProbe) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=probe.rows >= 1,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"observed_value": probe.rows, "threshold": ">= 1 row"},
    )


@dg.asset_check(asset=ledger_balances, description="Missing rate at most 5% (WARN).")
def ledger_missing_rate(probe: LedgerProbe) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=probe.missing_rate <= 0.05,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"missing_rate": probe.missing_rate, "max_missing_rate": 0.05},
    )


ledger_job = dg.define_asset_job("ledger_job", selection=dg.AssetSelection.assets(ledger_balances))


def run_ledger(instance: dg.DagsterInstance, **probe: object) -> dg.ExecuteInProcessResult:
    """Materialize the ledger and its checks for real in ``instance``."""
    defs = dg.Definitions(
        assets=[ledger_balances],
        asset_checks=[ledger_row_count, ledger_missing_rate],
        jobs=[ledger_job],
        resources={"probe": LedgerProbe(**probe)},  # type: ignore[arg-type]
    )
    return defs.resolve_job_def("ledger_job").execute_in_process(
        instance=instance, raise_on_error=False
    )


def tick(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None, **resources
):
    """One sensor evaluation, as the daemon would do it; returns the SensorResult."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    return sensor(context)
