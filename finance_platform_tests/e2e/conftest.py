"""The Dagster UI as a user meets it: a demo-materialized instance served by ``dagster-webserver``.

Session fixtures build a temporary instance (its own DAGSTER_HOME, lake and
warehouse), fill it like ``make demo`` does (fewer days, symbols and customers),
start the webserver on a free 127.0.0.1 port and, for the browser tests, a
headless Debian Chromium driven by Playwright. Screenshots and logs go to
``test-artifacts/e2e/`` (git-ignored) for CI to keep.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "e2e"

# Small enough for CI, big enough that the UI has something to show in both groups.
DEMO_DAYS = 2
DEMO_SYMBOLS = ("IBM", "AAPL")
DEMO_CUSTOMERS = 2_000

CHROMIUM = Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The webserver greets a localhost user with a newsletter dialog once per browser profile;
# the key is the one its CommunityNux component stores when "Skip" is clicked.
DISMISS_COMMUNITY_DIALOG = "window.localStorage.setItem('communityNux', JSON.stringify('1'));"

# Never let a developer's key, webhook or settings leak into the demo instance.
_STRIPPED_VARS = (
    "ALPHAVANTAGE_API_KEY",
    "ALPHAVANTAGE_BASE_URL",
    "SLACK_WEBHOOK_URL",
    "SLACK_BOT_TOKEN",
    "FINANCE_ENV",
    "FINANCE_ENGINE",
    "FINANCE_QUOTES_START",
    "DAGSTER_HOME",
)


@dataclass(frozen=True)
class DemoInstance:
    """A Dagster instance filled by the demo, with what it was asked to build."""

    root: Path
    env: dict[str, str]
    days: int
    symbols: tuple[str, ...]
    customers: int
    seconds: float


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post_graphql(base_url: str, query: str, variables: dict[str, Any] | None = None) -> dict:
    """POST a query to the webserver's own GraphQL API; fail on transport or GraphQL errors."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{base_url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        payload = json.load(response)
    if payload.get("errors"):
        raise AssertionError(f"GraphQL errors: {json.dumps(payload['errors'], indent=2)[:3000]}")
    return payload["data"]


_LOCATION_STATUS = """
{
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


def _wait_until_loaded(base_url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    """Wait for /server_info, then for the code location to finish loading."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster-webserver exited ({proc.returncode}):\n{_tail(log.read_text())}")
        try:
            with urllib.request.urlopen(f"{base_url}/server_info", timeout=5):
                pass
            entries = post_graphql(base_url, _LOCATION_STATUS)["workspaceOrError"][
                "locationEntries"
            ]
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
            continue
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            errors = [
                f"{e['name']}: {e['locationOrLoadError']['message']}"
                for e in entries
                if e["locationOrLoadError"]["__typename"] == "PythonError"
            ]
            if errors:
                pytest.fail("code location failed to load in the webserver:\n" + "\n".join(errors))
            return
        time.sleep(0.5)
    pytest.fail(f"dagster-webserver not ready after {timeout:.0f} s:\n{_tail(log.read_text())}")


def _demo_env(root: Path) -> dict[str, str]:
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if k not in _STRIPPED_VARS}
    env.update(
        DAGSTER_HOME=str(home),
        FINANCE_LAKE_ROOT=str(root / "lake"),
        FINANCE_WAREHOUSE_PATH=str(root / "warehouse.duckdb"),
        FINANCE_SYMBOLS=",".join(DEMO_SYMBOLS),
        GX_ANALYTICS_ENABLED="false",
        PYTHONUNBUFFERED="1",
    )
    return env


def _stop(proc: subprocess.Popen) -> None:
    """Stop a process started with its own session, children included."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def _demo_and_webserver(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DemoInstance, str]]:
    """Run the demo and, as soon as its instance exists, start the webserver beside it.

    Both take tens of seconds on two busy cores, so they overlap (as ``dagster dev``
    would watch a running demo); tests start once the demo finished and the code
    location is loaded.
    """
    root = tmp_path_factory.mktemp("e2e")
    env = _demo_env(root)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    demo_log, web_log = ARTIFACTS / "demo.log", ARTIFACTS / "webserver.log"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with demo_log.open("w") as dlog, web_log.open("w") as wlog:
        demo = subprocess.Popen(
            [sys.executable, "-m", "finance_platform.demo"]
            + ["--days", str(DEMO_DAYS), "--customers", str(DEMO_CUSTOMERS)],
            cwd=REPO,
            env=env,
            stdout=dlog,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        web = None
        try:
            # Let the demo create the instance's SQLite storage first: two processes
            # creating the same tables at once can collide.
            runs_db = Path(env["DAGSTER_HOME"]) / "history" / "runs.db"
            deadline = time.monotonic() + 300
            while not runs_db.exists() and demo.poll() is None and time.monotonic() < deadline:
                time.sleep(0.5)
            web = subprocess.Popen(
                [sys.executable, "-m", "dagster_webserver", "-w", str(REPO / "workspace.yaml")]
                + ["-h", "127.0.0.1", "-p", str(port)],
                cwd=REPO,
                env=env,
                stdout=wlog,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the code server goes down too
            )
            try:
                returncode = demo.wait(timeout=900)
            except subprocess.TimeoutExpired:
                pytest.fail(f"demo still running after 900 s:\n{_tail(demo_log.read_text())}")
            demo_seconds = time.monotonic() - started
            if returncode != 0:
                pytest.fail(
                    f"demo materialization failed (exit {returncode}, full log in "
                    f"{demo_log}):\n{_tail(demo_log.read_text())}"
                )
            _wait_until_loaded(base_url, web, web_log, timeout=240)
            instance = DemoInstance(
                root, env, DEMO_DAYS, DEMO_SYMBOLS, DEMO_CUSTOMERS, demo_seconds
            )
            print(
                f"\ne2e: demo {demo_seconds:.0f} s, webserver ready "
                f"{time.monotonic() - started:.0f} s after start"
            )
            yield instance, base_url
        finally:
            _stop(demo)
            if web is not None:
                _stop(web)


@pytest.fixture(scope="session")
def demo_instance(_demo_and_webserver) -> DemoInstance:
    """The demo-materialized instance (fewer days, symbols and customers than ``make demo``)."""
    return _demo_and_webserver[0]


@pytest.fixture(scope="session")
def dagster_ui(_demo_and_webserver) -> str:
    """Base URL of ``dagster-webserver`` serving workspace.yaml against the demo instance."""
    return _demo_and_webserver[1]


@pytest.fixture(scope="session")
def graphql(dagster_ui: str) -> Callable[..., dict]:
    """``graphql(query, **variables)`` against the running webserver."""

    def run(query: str, **variables: Any) -> dict:
        return post_graphql(dagster_ui, query, variables)

    return run


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """A headless Debian Chromium with a fresh profile (no browser download, ever)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} missing: apt-get install chromium (.ci/run does)"
        if os.environ.get("E2E_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 1000},
        )
        context.set_default_timeout(45_000)
        context.add_init_script(DISMISS_COMMUNITY_DIALOG)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def ui_page(browser, dagster_ui: str, request: pytest.FixtureRequest):
    """A fresh tab; whatever it shows at the end of the test is saved as a screenshot."""
    page = browser.new_page()
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    finally:
        page.close()
