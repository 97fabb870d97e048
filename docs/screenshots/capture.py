"""Re-take the README's UI screenshots from a running Dagster UI (e.g. after ``make demo``).

    .venv/bin/python docs/screenshots/capture.py [http://127.0.0.1:3000]

Uses Debian's Chromium (``/usr/bin/chromium``) through Playwright, like the e2e tests.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent
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


def latest_partition(base: str, asset: str) -> str:
    query = (
        '{ assetNodes(assetKeys: [{path: ["%s"]}]) '
        "{ assetMaterializations(limit: 1) { partition } } }"
    )
    body = json.dumps({"query": query % asset}).encode()
    request = urllib.request.Request(  # noqa: S310 (the local UI over http)
        f"{base}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        nodes = json.load(response)["data"]["assetNodes"]
    return nodes[0]["assetMaterializations"][0]["partition"]


def main(base: str) -> None:
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="chromium-profile-"),
            executable_path="/usr/bin/chromium",
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 900},
        )
        context.set_default_timeout(60_000)
        context.add_init_script("window.localStorage.setItem('communityNux', JSON.stringify('1'));")
        page = context.new_page()

        # Wide enough that the graph draws full nodes (names, status, kinds), not bare boxes.
        page.set_viewport_size({"width": 2200, "height": 1150})
        expanded = urllib.parse.quote("global@global:customers,global@global:market")
        page.goto(f"{base}/asset-groups?expanded={expanded}")
        page.get_by_text("raw_customer_base", exact=True).first.wait_for()
        page.get_by_text("raw_quotes", exact=True).first.wait_for()
        deadline = time.monotonic() + 60
        while page.get_by_text("Loading...").count() and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)  # let the graph finish its zoom-to-fit animation
        page.screenshot(path=str(OUT / "asset-graph.png"))
        page.set_viewport_size({"width": 1600, "height": 900})

        page.goto(f"{base}/assets/cleaned_customer_base?view=checks")
        page.get_by_text("row_count_drop", exact=True).first.wait_for()
        page.get_by_text("Metadata", exact=True).first.wait_for()
        time.sleep(1)
        page.screenshot(path=str(OUT / "asset-checks.png"))

        partition = latest_partition(base, "curated_quotes")
        date, symbol = partition.split("|")
        page.goto(f"{base}/assets/curated_quotes?view=partitions")
        page.get_by_text("Materialized (").first.wait_for()
        page.get_by_text(date, exact=True).first.click()
        page.get_by_text(symbol, exact=True).first.click()
        page.get_by_text("dagster/row_count", exact=True).wait_for()
        time.sleep(1)
        page.screenshot(path=str(OUT / "quote-partitions.png"))
        context.close()
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:3000")
