"""The platform's processes as a user runs them: sandbox, dagster-webserver, dagster-daemon.

Used by the end-to-end tests (``finance_platform_tests/e2e``, the delivery-sensor daemon
test) and by ``benchmarks/backfill.py``. Every process is ``python -m ...`` started from
the root of *this* checkout with ``PYTHONPATH`` set to it, so the webserver, its code
server, the daemon and each run they launch import this checkout's ``finance_platform``
(not the one the virtualenv was installed from). Each gets its own process group
(``start_new_session``): stopping it takes its children (code servers, run workers) too.

Failures raise ``ServiceError`` with the tail of the process's log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
WORKSPACE = REPO / "workspace.yaml"
# A developer's key, webhook or settings must never reach a test or benchmark instance.
ISOLATED_PREFIXES = ("FINANCE_", "ALPHAVANTAGE_", "SLACK_")
BACKFILL_TAG = "dagster/backfill"
# Statuses after which a backfill or a run changes no more.
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
RUN_DONE = {"SUCCESS", "FAILURE", "CANCELED"}


class ServiceError(RuntimeError):
    """A process exited, did not get ready in time, or its API answered with an error."""


def tail(path: Path, lines: int = 60) -> str:
    """The last ``lines`` lines of a log file ('' if it does not exist yet)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def instance_env(root: Path, **settings: str) -> dict[str, str]:
    """The environment of a fresh instance under ``root``, then ``settings`` on top.

    ``root/dagster_home`` (a copy of the repository's dagster.yaml: SQLite storage, the
    queued run coordinator, the pools), ``root/lake`` and ``root/warehouse.duckdb``; every
    ``FINANCE_*``, ``ALPHAVANTAGE_*`` and ``SLACK_*`` variable of the caller is dropped.
    """
    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(ISOLATED_PREFIXES) and k != "DAGSTER_HOME"
    }
    env.update(
        DAGSTER_HOME=str(home),
        FINANCE_LAKE_ROOT=str(root / "lake"),
        FINANCE_WAREHOUSE_PATH=str(root / "warehouse.duckdb"),
        GX_ANALYTICS_ENABLED="false",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
    )
    env.update(settings)
    return env


# -- processes --------------------------------------------------------------------------------
@dataclass
class Process:
    """``python -m <module>`` from the repository root, its output appended to ``log``."""

    name: str
    proc: subprocess.Popen
    log: Path

    @classmethod
    def start(cls, name: str, args: Sequence[str], env: dict[str, str], log: Path) -> Process:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", *args],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: children go down with it
            )
        return cls(name, proc, log)

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise ServiceError(
                f"{self.name} exited ({self.proc.returncode}); log {self.log}:\n{tail(self.log)}"
            )

    def terminate(self) -> None:
        _signal_group(self.proc, signal.SIGTERM)

    def stop(self, timeout: float = 30) -> None:
        stop_group(self.proc, timeout)


def stop_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the process group of ``proc`` (started with its own session), then SIGKILL."""
    _signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        proc.wait(timeout=10)


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):  # gone meanwhile
            os.killpg(proc.pid, signum)


def stop_all(*processes: Process | Sandbox | None) -> None:
    """Stop them all, skipping ``None``: signalled in the order given (the daemon before the
    webserver, so it launches nothing more), then waited for together."""
    running = [p for p in processes if p is not None]
    for process in running:
        process.terminate()
    for process in running:
        process.stop()


@dataclass
class Webserver(Process):
    """``dagster-webserver`` on 127.0.0.1 serving workspace.yaml; ``url`` without a path."""

    url: str = ""

    def graphql(self, query: str, **variables: Any) -> dict:
        return graphql(self.url, query, **variables)

    def wait_until_loaded(self, timeout: float = 240) -> None:
        """Until GraphQL answers ``{ version }`` and every code location has loaded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                data = self.graphql(_WORKSPACE_STATUS)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
                continue
            entries = data["workspaceOrError"].get("locationEntries") or []
            if data["version"] and entries and all(e["loadStatus"] == "LOADED" for e in entries):
                errors = [
                    f"{e['name']}: {e['locationOrLoadError']['message']}"
                    for e in entries
                    if e["locationOrLoadError"]["__typename"] == "PythonError"
                ]
                if errors:
                    raise ServiceError("code location failed to load:\n" + "\n".join(errors))
                return
            time.sleep(0.5)
        raise ServiceError(f"webserver not ready after {timeout:.0f} s:\n{tail(self.log)}")


def start_webserver(env: dict[str, str], log: Path, port: int | None = None) -> Webserver:
    """Start ``dagster-webserver``; call ``wait_until_loaded`` before using it."""
    port = port or free_port()
    args = ["dagster_webserver", "-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)]
    started = Process.start("dagster-webserver", args, env, log)
    return Webserver(started.name, started.proc, started.log, url=f"http://127.0.0.1:{port}")


def start_daemon(env: dict[str, str], log: Path) -> Process:
    """``dagster-daemon run``: queued runs, backfills, sensors, run retries."""
    args = ["dagster._daemon", "run", "-w", str(WORKSPACE)]
    return Process.start("dagster-daemon", args, env, log)


def dagster_cli(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """``dagster <args> -w workspace.yaml`` to completion; its stdout, or ServiceError."""
    done = subprocess.run(
        [sys.executable, "-m", "dagster", *args, "-w", str(WORKSPACE)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise ServiceError(f"dagster {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


# -- the Alpha Vantage sandbox ------------------------------------------------------------------
@dataclass(frozen=True)
class SandboxCounts:
    """What the sandbox said at exit: requests served, refused by its limits, and received."""

    served: int
    throttled: int
    requests: int


_SERVED = re.compile(r"^served (\d+) throttled (\d+) requests (\d+)", re.M)


@dataclass
class Sandbox:
    """``python -m finance_platform.sandbox`` (synthetic Alpha Vantage) as its own process.

    Its first stdout line names its URL; on SIGTERM it prints what it served, which
    ``stop`` returns. Restart on the same ``port`` to keep clients' base URL valid.
    """

    proc: subprocess.Popen
    url: str
    log: Path
    counts: SandboxCounts | None = field(default=None, init=False)
    _terminated: bool = field(default=False, init=False)

    @classmethod
    def start(
        cls,
        env: dict[str, str],
        log: Path,
        per_minute: int = 5,
        per_day: int = 25,
        port: int = 0,
        timeout: float = 60,
    ) -> Sandbox:
        """Start it with these limits (0 = none) on ``port`` (0 = a free one)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        args = ["--port", str(port), "--per-minute", str(per_minute), "--per-day", str(per_day)]
        with log.open("a") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "finance_platform.sandbox", *args],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                start_new_session=True,
            )
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        first = proc.stdout.readline() if ready else ""
        if " on http" not in first:
            stop_group(proc)
            raise ServiceError(f"sandbox did not start ({first!r}):\n{tail(log)}")
        return cls(proc, first.strip().split(" on ")[-1], log)

    @property
    def port(self) -> int:
        return int(self.url.split(":")[-1].split("/")[0])

    def terminate(self) -> None:
        """SIGTERM, once: a second one could interrupt the line that says what it served."""
        if not self._terminated:
            self._terminated = True
            _signal_group(self.proc, signal.SIGTERM)

    def stop(self) -> SandboxCounts:
        """Stop it (idempotent) and return what it served."""
        if self.counts is None:
            self.terminate()
            out, _ = self.proc.communicate(timeout=30)
            found = _SERVED.search(out or "")
            if not found:
                raise ServiceError(f"sandbox printed no 'served' line: {out!r}\n{tail(self.log)}")
            self.counts = SandboxCounts(*(int(n) for n in found.groups()))
        return self.counts


# -- GraphQL ------------------------------------------------------------------------------------
def graphql(base_url: str, query: str, **variables: Any) -> dict:
    """POST ``query`` to ``<base_url>/graphql``; its data, or ServiceError on GraphQL errors."""
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(
        f"{base_url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        payload = json.load(response)
    if payload.get("errors"):
        raise ServiceError(f"GraphQL errors: {json.dumps(payload['errors'], indent=2)[:3000]}")
    return payload["data"]


_WORKSPACE_STATUS = """
{
  version
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""

_LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""

_BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status error { message } }
    ... on Error { message }
  }
}
"""

_RUN_FIELDS = "runId status tags { key value } assetSelection { path }"

_BACKFILL_RUNS = f"""
query BackfillRuns($tag: String!) {{
  runsOrError(filter: {{tags: [{{key: "{BACKFILL_TAG}", value: $tag}}]}}) {{
    __typename
    ... on Runs {{ results {{ {_RUN_FIELDS} }} }}
    ... on Error {{ message }}
  }}
}}
"""

_RUN = f"""
query Run($id: ID!) {{
  runOrError(runId: $id) {{
    __typename
    ... on Run {{ {_RUN_FIELDS} }}
    ... on Error {{ message }}
  }}
}}
"""

_REEXECUTE = """
mutation Reexecute($params: ReexecutionParams!) {
  launchRunReexecution(reexecutionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}
"""


def launch_partition_backfill(
    base_url: str, partitions: Iterable[str], assets: Iterable[str]
) -> str:
    """Launch a backfill of ``assets`` x ``partitions`` as the UI does; its id."""
    params = {
        "partitionNames": list(partitions),
        "assetSelection": [{"path": key.split("/")} for key in assets],
    }
    launched = graphql(base_url, _LAUNCH_BACKFILL, params=params)["launchPartitionBackfill"]
    if launched["__typename"] != "LaunchBackfillSuccess":
        raise ServiceError(f"backfill not launched: {launched}")
    return launched["backfillId"]


def backfill_status(base_url: str, backfill_id: str) -> str:
    found = graphql(base_url, _BACKFILL, id=backfill_id)["partitionBackfillOrError"]
    if found["__typename"] != "PartitionBackfill":
        raise ServiceError(f"backfill {backfill_id}: {found}")
    return found["status"]


def backfill_runs(base_url: str, backfill_id: str) -> list[dict]:
    """Every run tagged with the backfill: its own and the daemon's automatic retries of them
    (a re-execution launched from the UI or ``reexecute_run`` does not carry the tag)."""
    found = graphql(base_url, _BACKFILL_RUNS, tag=backfill_id)["runsOrError"]
    if found["__typename"] != "Runs":
        raise ServiceError(f"runs of backfill {backfill_id}: {found}")
    return found["results"]


def count_by_status(runs: Iterable[dict]) -> dict[str, int]:
    """``{"SUCCESS": 2, "FAILURE": 1}`` for a list of runs."""
    return dict(Counter(run["status"] for run in runs))


def run_tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["tags"]}


def _wait(what: str, done, timeout: float, watch: Sequence[Process], poll: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        for process in watch:
            process.check_alive()
        result = done()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name} ({p.log})\n{tail(p.log, 30)}" for p in watch)
            raise ServiceError(f"{what} not done after {timeout:.0f} s\n{logs}")
        time.sleep(poll)


def wait_for_backfill(
    base_url: str, backfill_id: str, timeout: float = 600, watch: Sequence[Process] = ()
) -> str:
    """Until the backfill's status is final and none of its runs is still going; the status.

    ``watch`` (the daemon, the webserver) must stay up meanwhile.
    """

    def done() -> str | None:
        status = backfill_status(base_url, backfill_id)
        if status not in BACKFILL_DONE:
            return None
        if any(r["status"] not in RUN_DONE for r in backfill_runs(base_url, backfill_id)):
            return None
        return status

    return _wait(f"backfill {backfill_id}", done, timeout, watch)


def get_run(base_url: str, run_id: str) -> dict:
    found = graphql(base_url, _RUN, id=run_id)["runOrError"]
    if found["__typename"] != "Run":
        raise ServiceError(f"run {run_id}: {found}")
    return found


def wait_for_run(
    base_url: str, run_id: str, timeout: float = 300, watch: Sequence[Process] = ()
) -> dict:
    """Until the run has finished; the run (``runId status tags assetSelection``)."""

    def done() -> dict | None:
        run = get_run(base_url, run_id)
        return run if run["status"] in RUN_DONE else None

    return _wait(f"run {run_id}", done, timeout, watch)


def reexecute_run(base_url: str, run_id: str, strategy: str = "FROM_FAILURE") -> str:
    """Re-execute a run as the UI's "Re-execute from failure" does; the new run's id."""
    params = {"parentRunId": run_id, "strategy": strategy}
    launched = graphql(base_url, _REEXECUTE, params=params)["launchRunReexecution"]
    if launched["__typename"] != "LaunchRunSuccess":
        raise ServiceError(f"re-execution of {run_id} not launched: {launched}")
    return launched["run"]["runId"]


def weekdays(first: str, last: str) -> list[str]:
    """Every weekday from ``first`` to ``last`` (the date partitions of a UI range selection)."""
    day, end, out = dt.date.fromisoformat(first), dt.date.fromisoformat(last), []
    while day <= end:
        if day.weekday() < 5:
            out.append(day.isoformat())
        day += dt.timedelta(days=1)
    return out
