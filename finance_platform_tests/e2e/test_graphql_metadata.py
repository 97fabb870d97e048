"""What the UI shows, asked of the webserver's own GraphQL API after a demo run.

Every asset must explain itself (description, group, owner, kinds, layer tag,
code version), every materialization must carry row count, column schema and a
preview, every check must say what it measures and report observed values, and
every job must launch from the launchpad without hand-written config.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from finance_platform.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GROUPS = {"market", "customers"}
LAYERS = {"raw", "cleaned", "features", "business", "warehouse"}
TABULAR_KINDS = {"parquet", "csv", "duckdb", "redshift", "table"}
# Assets whose latest materialization must carry a picture (issue 7: a price chart for a
# curated quotes partition, segment sizes and score distributions for the business tables).
CHARTED_ASSETS = ("curated_quotes", "customer_segments", "marketing_targets")
# Dagster's own default for build_last_update_freshness_checks: says nothing about the threshold.
GENERIC_CHECK_DESCRIPTIONS = {"Evaluates freshness for targeted asset."}

ASSETS_QUERY = """
query Assets {
  assetNodes {
    assetKey { path }
    groupName
    description
    owners { __typename ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
    kinds
    tags { key value }
    opVersion
    isPartitioned
    isMaterializable
    staleStatus
    partitionStats { numMaterialized numPartitions numFailed }
    assetMaterializations(limit: 1) {
      partition
      metadataEntries {
        __typename
        label
        ... on MarkdownMetadataEntry { mdStr }
        ... on TableSchemaMetadataEntry { schema { columns { name type } } }
        ... on IntMetadataEntry { intValue }
      }
    }
    assetChecksOrError {
      __typename
      ... on AssetChecks {
        checks {
          name
          description
          blocking
          executionForLatestMaterialization {
            status
            evaluation { severity metadataEntries { label } }
          }
        }
      }
    }
  }
}
"""

JOBS_QUERY = """
query Jobs {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes { name location { name } jobs { name } }
    }
  }
}
"""

LAUNCHPAD_QUERY = """
query Launchpad($selector: PipelineSelector!) {
  runConfigSchemaOrError(selector: $selector) {
    __typename
    ... on RunConfigSchema {
      isRunConfigValid(runConfigData: {}) {
        __typename
        ... on RunConfigValidationInvalid { errors { message } }
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def assets(graphql) -> dict[str, dict]:
    nodes = graphql(ASSETS_QUERY)["assetNodes"]
    return {"/".join(n["assetKey"]["path"]): n for n in nodes if n["isMaterializable"]}


def _report(gaps: list[str]) -> str:
    return f"{len(gaps)} gap(s):\n  " + "\n  ".join(gaps)


def _latest_metadata(node: dict) -> dict[str, dict]:
    mats = node["assetMaterializations"]
    return {e["label"]: e for e in mats[0]["metadataEntries"]} if mats else {}


def test_both_groups_are_in_the_ui(assets):
    groups = {n["groupName"] for n in assets.values()}
    assert groups >= GROUPS, f"groups in the UI: {sorted(groups)}"


def test_every_asset_explains_itself(assets):
    gaps = []
    for key, node in sorted(assets.items()):
        if len((node["description"] or "").strip()) < 20:
            gaps.append(f"{key}: no real description ({node['description']!r})")
        if node["groupName"] not in GROUPS:
            gaps.append(f"{key}: group {node['groupName']!r} is not one of {sorted(GROUPS)}")
        if not node["owners"]:
            gaps.append(f"{key}: no owner")
        if not node["kinds"]:
            gaps.append(f"{key}: no kinds")
        layer = {t["key"]: t["value"] for t in node["tags"]}.get("layer")
        if layer not in LAYERS:
            gaps.append(f"{key}: tag layer={layer!r}, expected one of {sorted(LAYERS)}")
        if layer == "raw" and "s3" not in node["kinds"]:
            gaps.append(f"{key}: raw data lives in the lake (S3 in production), kind s3 missing")
        if not node["opVersion"]:
            gaps.append(f"{key}: no code_version (the UI cannot tell it is up to date)")
    assert not gaps, _report(gaps)


def _bare_html_tags(markdown: str | None) -> list[str]:
    """``<lake>``-style tokens outside code spans: the UI renders descriptions as Markdown,
    where they are taken for HTML tags and silently vanish (``<lake>/x`` shows as ``/x``)."""
    return re.findall(r"<[A-Za-z/][^<>]*>", re.sub(r"`[^`]*`", "", markdown or ""))


def test_descriptions_render_as_written_in_the_ui(assets):
    gaps = []
    for key, node in sorted(assets.items()):
        if tags := _bare_html_tags(node["description"]):
            gaps.append(f"{key}: {tags}")
        for check in node["assetChecksOrError"].get("checks", []):
            if tags := _bare_html_tags(check["description"]):
                gaps.append(f"{key}:{check['name']}: {tags}")
    assert not gaps, _report(gaps) + "\n(wrap them in backticks)"


def test_every_materialization_has_row_count_schema_and_preview(assets):
    gaps = []
    for key, node in sorted(assets.items()):
        meta = _latest_metadata(node)
        if not meta:
            gaps.append(f"{key}: never materialized by the demo")
            continue
        if "dagster/row_count" not in meta:
            gaps.append(f"{key}: no dagster/row_count")
        if set(node["kinds"]) & TABULAR_KINDS:
            schema = meta.get("dagster/column_schema")
            if not schema or not schema.get("schema", {}).get("columns"):
                gaps.append(f"{key}: no dagster/column_schema (TableSchema)")
        if "parquet" in node["kinds"] and not any(
            e["__typename"] == "MarkdownMetadataEntry" for e in meta.values()
        ):
            gaps.append(f"{key}: no Markdown preview")
    assert not gaps, _report(gaps)


@pytest.mark.parametrize("asset", CHARTED_ASSETS)
def test_business_outputs_carry_a_picture(assets, asset):
    meta = _latest_metadata(assets[asset])
    pictures = [
        label
        for label, e in meta.items()
        if e["__typename"] == "MarkdownMetadataEntry"
        and re.search(r"!\[[^\]]*\]\((data:image/(png|svg)|https?://)", e["mdStr"])
    ]
    assert pictures, f"{asset}: no chart among {sorted(meta)}"


def test_previews_show_no_customer_names(assets):
    # PII rule: previews show ids and codes, never a customer's name column.
    for key, node in assets.items():
        for label, entry in _latest_metadata(node).items():
            if entry["__typename"] == "MarkdownMetadataEntry":
                header = entry["mdStr"].split("\n", 1)[0].lower()
                assert not re.search(r"\|\s*(customer_)?name\s*\|", header), (key, label)


def _checks(assets: dict[str, dict]) -> list[tuple[str, dict]]:
    found = []
    for key, node in sorted(assets.items()):
        assert node["assetChecksOrError"]["__typename"] == "AssetChecks", key
        found.extend((f"{key}:{c['name']}", c) for c in node["assetChecksOrError"]["checks"])
    assert len(found) >= 10, f"only {len(found)} checks in the UI"
    return found


def test_every_check_has_a_description_and_reports_observed_values(assets):
    gaps = []
    for name, check in _checks(assets):
        if len((check["description"] or "").strip()) < 20:
            gaps.append(f"{name}: no real description ({check['description']!r})")
        execution = check["executionForLatestMaterialization"]
        if execution is None or execution["evaluation"] is None:
            gaps.append(f"{name}: not evaluated by the demo")
        elif not execution["evaluation"]["metadataEntries"]:
            gaps.append(f"{name}: result has no observed values in its metadata")
    assert not gaps, _report(gaps)


def test_every_check_description_is_specific_not_the_generic_default(assets):
    generic = [
        name
        for name, check in _checks(assets)
        if (check["description"] or "").strip() in GENERIC_CHECK_DESCRIPTIONS
    ]
    assert not generic, f"checks whose description does not state their threshold: {generic}"


def test_code_versions_make_demo_assets_up_to_date(assets):
    stale = {
        key: node["staleStatus"]
        for key, node in assets.items()
        if not node["isPartitioned"] and node["staleStatus"] != "FRESH"
    }
    assert not stale, f"not up to date right after the demo: {stale}"


def test_partition_stats_match_what_the_demo_built(assets, demo_instance):
    built = demo_instance.quote_partitions  # weekdays of its range (holidays too) x symbols
    partitioned = {k: n for k, n in assets.items() if n["isPartitioned"]}
    assert {"raw_quotes", "curated_quotes"} <= set(partitioned)
    for key, node in partitioned.items():
        stats = node["partitionStats"]
        assert stats["numMaterialized"] == built, (key, stats)
        assert stats["numFailed"] == 0, (key, stats)
        # date x symbol: every weekday since FINANCE_QUOTES_START for each demo symbol.
        assert stats["numPartitions"] % len(demo_instance.symbols) == 0, (key, stats)
        days = stats["numPartitions"] // len(demo_instance.symbols)
        start = load_settings().quotes_start
        weekdays_since_start = sum(
            1
            for i in range((dt.date.today() - start).days + 1)
            if (start + dt.timedelta(days=i)).weekday() < 5
        )
        assert abs(days - weekdays_since_start) <= 2, (key, days, weekdays_since_start)


def test_every_job_launches_with_launchpad_defaults(graphql):
    repos = graphql(JOBS_QUERY)["repositoriesOrError"]["nodes"]
    invalid, jobs = {}, []
    for repo in repos:
        for job in repo["jobs"]:
            if job["name"].startswith("__"):
                continue
            jobs.append(job["name"])
            selector = {
                "repositoryLocationName": repo["location"]["name"],
                "repositoryName": repo["name"],
                "pipelineName": job["name"],
            }
            schema = graphql(LAUNCHPAD_QUERY, selector=selector)["runConfigSchemaOrError"]
            assert schema["__typename"] == "RunConfigSchema", (job["name"], schema)
            result = schema["isRunConfigValid"]
            if result["__typename"] != "PipelineConfigValidationValid":
                invalid[job["name"]] = [e["message"] for e in result.get("errors", [])]
    assert {"market_quotes_job", "customers_job"} <= set(jobs), jobs
    assert not invalid, f"jobs that need hand-written run config: {invalid}"


POOLS_QUERY = """
{
  assetNodes(assetKeys: [{path: ["raw_quotes"]}]) { pools backfillPolicy { policyType } }
  instance {
    poolConfig { defaultPoolLimit }
    concurrencyLimit(concurrencyKey: "alpha_vantage") { limit usingDefaultLimit }
  }
}
"""


def test_ui_backfills_queue_on_the_alpha_vantage_pool(graphql):
    # A date-range x symbols backfill launched from the UI becomes many runs; they must
    # take turns on the API (one slot), not race into the per-minute quota.
    data = graphql(POOLS_QUERY)
    (raw_quotes,) = data["assetNodes"]
    assert raw_quotes["pools"] == ["alpha_vantage"]
    instance = data["instance"]
    limit = instance["concurrencyLimit"]["limit"]
    if limit is None:
        limit = instance["poolConfig"]["defaultPoolLimit"]
    assert limit == 1, instance
