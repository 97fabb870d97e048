"""The Dagster UI as a user meets it: a demo-materialized instance served by ``dagster-webserver``.

Session fixtures build a temporary instance (its own DAGSTER_HOME, lake and
warehouse), fill it like ``make demo`` does (fewer days, symbols and customers),
start the webserver on a free 127.0.0.1 port and, for the browser tests, a
headless Debian Chromium driven by Playwright. Screenshots and logs go to
``test-artifacts/e2e/`` (git-ignored) for CI to keep.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from finance_platform_tests.support import services
from finance_platform_tests.support.services import (
    REPO,
    Process,
    ServiceError,
    Webserver,
    instance_env,
    start_webserver,
    stop_all,
    tail,
    weekdays,
)

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

# The demo prints "[1/2] market quotes <first>..<last>|<symbol>" per ranged run.
_DEMO_RANGE = re.compile(r"market quotes (\d{4}-\d\d-\d\d)\.\.(\d{4}-\d\d-\d\d)\|")


@dataclass(frozen=True)
class DemoInstance:
    """A Dagster instance filled by the demo, with what it was asked to build."""

    root: Path
    env: dict[str, str]
    days: int  # trading days asked for (--days)
    symbols: tuple[str, ...]
    customers: int
    seconds: float
    # The date partitions the demo's ranged runs covered: every weekday from the first to the
    # last of those trading days, so a market holiday in between is one more (zero-row) day.
    partition_dates: tuple[str, ...] = ()

    @property
    def quote_partitions(self) -> int:
        """How many (date, symbol) partitions of each market asset the demo materialized."""
        return len(self.partition_dates) * len(self.symbols)


def _demo_partition_dates(log: Path) -> tuple[str, ...]:
    """The weekday range the demo's market runs covered, as its log says."""
    ranges = set(_DEMO_RANGE.findall(log.read_text()))
    if len(ranges) != 1:
        pytest.fail(f"expected one market date range in {log}, found {sorted(ranges)}")
    ((first, last),) = ranges
    return tuple(weekdays(first, last))


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
    env = instance_env(root, FINANCE_SYMBOLS=",".join(DEMO_SYMBOLS))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    demo_log, web_log = ARTIFACTS / "demo.log", ARTIFACTS / "webserver.log"
    for log in (demo_log, web_log):
        log.unlink(missing_ok=True)
    started = time.monotonic()
    demo = Process.start(
        "demo",
        ["finance_platform.demo", "--days", str(DEMO_DAYS), "--customers", str(DEMO_CUSTOMERS)],
        env,
        demo_log,
    )
    web: Webserver | None = None
    try:
        # Let the demo create the instance's SQLite storage first: two processes
        # creating the same tables at once can collide.
        runs_db = Path(env["DAGSTER_HOME"]) / "history" / "runs.db"
        deadline = time.monotonic() + 300
        while not runs_db.exists() and demo.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        web = start_webserver(env, web_log)
        try:
            returncode = demo.proc.wait(timeout=900)
        except subprocess.TimeoutExpired:
            pytest.fail(f"demo still running after 900 s:\n{tail(demo_log)}")
        demo_seconds = time.monotonic() - started
        if returncode != 0:
            pytest.fail(
                f"demo materialization failed (exit {returncode}, full log in "
                f"{demo_log}):\n{tail(demo_log)}"
            )
        try:
            web.wait_until_loaded(timeout=240)
        except ServiceError as exc:
            pytest.fail(str(exc))
        instance = DemoInstance(
            root,
            env,
            DEMO_DAYS,
            DEMO_SYMBOLS,
            DEMO_CUSTOMERS,
            demo_seconds,
            _demo_partition_dates(demo_log),
        )
        print(
            f"\ne2e: demo {demo_seconds:.0f} s, webserver ready "
            f"{time.monotonic() - started:.0f} s after start"
        )
        yield instance, web.url
    finally:
        stop_all(demo, web)


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
        return services.graphql(dagster_ui, query, **variables)

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
