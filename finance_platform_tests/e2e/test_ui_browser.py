"""The Dagster UI in a real browser after a demo run: lineage, check dashboards, partitions.

What a new analyst looks at first, asserted against what the webserver's GraphQL API
says is there (so the page and the data agree). Screenshots land in
``test-artifacts/e2e/``.
"""

from __future__ import annotations

import re
import urllib.parse

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Blocking ERROR checks and WARN checks that fire on the demo data: both statuses show.
CHECKS_ASSET = "cleaned_customer_base"
OVERVIEW_ASSET = "customer_segments"  # a business table: what a marketing analyst opens first
PARTITIONED_ASSET = "curated_quotes"
# The UI's words for AssetCheckExecutionResolvedStatus.
STATUS_LABELS = {
    "SUCCEEDED": "Succeeded",
    "FAILED": "Failed",
    "EXECUTION_FAILED": "Execution failed",
    "SKIPPED": "Skipped",
    "IN_PROGRESS": "In progress",
}

ASSETS_QUERY = """
{
  assetNodes {
    assetKey { path }
    groupName
    description
    owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
    kinds
    tags { key value }
    isMaterializable
    partitionStats { numMaterialized numPartitions numFailed }
    assetMaterializations(limit: 1) {
      partition
      metadataEntries {
        label
        ... on TableSchemaMetadataEntry { schema { columns { name } } }
      }
    }
    assetChecksOrError {
      ... on AssetChecks {
        checks { name description executionForLatestMaterialization { status } }
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def catalog(graphql) -> dict[str, dict]:
    nodes = graphql(ASSETS_QUERY)["assetNodes"]
    return {"/".join(n["assetKey"]["path"]): n for n in nodes if n["isMaterializable"]}


def shows_name(labels: set[str], name: str) -> bool:
    """The graph middle-truncates long names (``cleaned_cust…_base``); either form counts."""
    if name in labels:
        return True
    for label in labels:
        if "…" in label:
            head, _, tail = label.partition("…")
            if name.startswith(head) and name.endswith(tail) and len(head) + len(tail) >= 6:
                return True
    return False


def plain(text: str) -> str:
    """Text without Markdown punctuation and with single spaces, as rendered or not."""
    return " ".join(re.sub(r"[`*_\[\]]", "", text).split())


def test_asset_graph_shows_both_groups_and_every_asset(ui_page, dagster_ui, catalog):
    groups = sorted({n["groupName"] for n in catalog.values()})
    assert {"market", "customers"} <= set(groups)
    expanded = ",".join(f"global@global:{g}" for g in groups)  # the lineage page's group ids
    ui_page.goto(f"{dagster_ui}/asset-groups?expanded={urllib.parse.quote(expanded)}")
    ui_page.get_by_text("raw_quotes", exact=True).first.wait_for()
    if not ui_page.get_by_text("raw_customer_base", exact=True).first.is_visible():
        # Layout ids changed? Fall back to what a user does: right-click, "Expand all groups".
        ui_page.locator("body").click(button="right", position={"x": 1000, "y": 300})
        ui_page.get_by_text("Expand all groups").locator("visible=true").first.click()
        ui_page.get_by_text("raw_customer_base", exact=True).first.wait_for()

    labels = {line.strip() for line in ui_page.inner_text("body").splitlines() if line.strip()}
    missing = [name for name in sorted(catalog) if not shows_name(labels, name)]
    assert not missing, f"assets not on the lineage graph: {missing}"
    for group in groups:
        assert group in labels, f"group {group} not shown"


def test_checks_tab_lists_every_check_with_its_latest_status(ui_page, dagster_ui, catalog):
    checks = catalog[CHECKS_ASSET]["assetChecksOrError"]["checks"]
    expected = {
        c["name"]: STATUS_LABELS[c["executionForLatestMaterialization"]["status"]] for c in checks
    }
    assert "Failed" in expected.values() and "Succeeded" in expected.values(), expected

    ui_page.goto(f"{dagster_ui}/assets/{CHECKS_ASSET}?view=checks")
    ui_page.get_by_text(f"Checks ({len(checks)})", exact=True).wait_for()
    for name in expected:
        ui_page.get_by_text(name, exact=True).first.wait_for()

    # The list on the left reads: name, name (link), status, for each check.
    lines = [line.strip() for line in ui_page.inner_text("body").splitlines() if line.strip()]
    shown = {}
    for i, line in enumerate(lines[:-1]):
        if line in expected and line not in shown:
            rest = [x for x in lines[i + 1 : i + 3] if x != line]
            if rest and rest[0] in STATUS_LABELS.values():
                shown[line] = rest[0]
    assert shown == expected

    # The selected check explains what it measures (its description) and shows observed values.
    first = sorted(expected)[0]
    description = next(c["description"] for c in checks if c["name"] == first)
    ui_page.get_by_text("Metadata", exact=True).first.wait_for()
    assert plain(description)[:60] in plain(ui_page.inner_text("body"))


def test_partitions_view_counts_date_symbol_partitions(ui_page, dagster_ui, catalog, demo_instance):
    stats = catalog[PARTITIONED_ASSET]["partitionStats"]
    built = demo_instance.quote_partitions  # weekdays of its range (holidays too) x symbols
    assert stats["numMaterialized"] == built

    ui_page.goto(f"{dagster_ui}/assets/{PARTITIONED_ASSET}?view=partitions")
    ui_page.get_by_text(f"{stats['numPartitions']:,} Partitions Selected").wait_for()
    for label in (
        f"Materialized ({built})",
        f"Failed ({stats['numFailed']})",
        f"Missing ({stats['numPartitions'] - built - stats['numFailed']})",
    ):
        ui_page.get_by_text(label, exact=True).wait_for()
    for symbol in demo_instance.symbols:
        ui_page.get_by_text(symbol, exact=True).first.wait_for()

    # Open the newest materialized (date, symbol): its price chart renders as a picture.
    latest = catalog[PARTITIONED_ASSET]["assetMaterializations"][0]["partition"]
    date, symbol = latest.split("|")
    ui_page.get_by_text(date, exact=True).first.click()
    ui_page.get_by_text(symbol, exact=True).first.click()
    ui_page.get_by_text(latest, exact=True).first.wait_for()
    ui_page.get_by_text("Materialized", exact=True).first.wait_for()
    ui_page.get_by_text("dagster/row_count", exact=True).wait_for()
    chart_row = ui_page.locator("tr", has_text="price_chart")
    chart_row.get_by_text("Show Markdown").click()
    chart = ui_page.locator("img[src^='data:image/png']").first
    chart.wait_for()
    assert chart.bounding_box()["width"] > 100


def test_asset_overview_shows_description_owner_kinds_layer_and_columns(
    ui_page, dagster_ui, catalog
):
    node = catalog[OVERVIEW_ASSET]
    (schema,) = [
        e["schema"]
        for e in node["assetMaterializations"][0]["metadataEntries"]
        if e["label"] == "dagster/column_schema"
    ]
    columns = [c["name"] for c in schema["columns"]]
    owners = [o.get("team") or o.get("email") for o in node["owners"]]
    layer = {t["key"]: t["value"] for t in node["tags"]}["layer"]

    ui_page.goto(f"{dagster_ui}/assets/{OVERVIEW_ASSET}")
    ui_page.get_by_text("Columns", exact=True).first.wait_for()
    for column in columns:
        ui_page.get_by_text(column, exact=True).first.wait_for()
    ui_page.get_by_text(f"layer: {layer}", exact=True).first.wait_for()
    for owner in owners:
        ui_page.get_by_text(owner, exact=True).first.wait_for()
    body = ui_page.inner_text("body")
    assert plain(node["description"])[:60] in plain(body)
    for kind in node["kinds"]:
        assert kind.lower() in body.lower(), kind


def test_launchpad_needs_no_hand_written_config(ui_page, dagster_ui):
    ui_page.goto(f"{dagster_ui}/locations/finance_platform/jobs/customers_job/playground")
    ui_page.get_by_text("No missing config").first.wait_for()
    ui_page.get_by_text("No errors").first.wait_for()
    ui_page.get_by_role("button", name="Launch Run").wait_for()
