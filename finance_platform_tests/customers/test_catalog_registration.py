"""Every customer table is queryable by name the moment its asset wrote it.

Locally the catalog is DuckDB views in the warehouse file, so the analysts' SQL runs there;
in production it is the Glue Data Catalog, checked here on moto's server with the lake on
(moto's) S3: the same run, the same table names, partitions matching what was written.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from finance_platform.resources.catalog import LAKE_TABLES, catalog_entry
from finance_platform.sample_data import DefectRates, generate
from finance_platform.transforms.customers import contract
from finance_platform_tests.customers.group import customer_resources

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ANALYST_SQL = (
    "select segment_name_en, count(*) from customer_segment_db.customer_segments group by 1"
)


def _deliver(raw: Path) -> None:
    generate(
        raw,
        customers=80,
        months=4,
        seed=9,
        delivery_date=dt.date(2026, 3, 1),
        defects=DefectRates(duplicates=0.03, bad_ages=0.03, negative_balances=0.02),
    )


def _run(resources: dict) -> dg.ExecuteInProcessResult:
    from finance_platform.defs.customers.assets import ASSETS
    from finance_platform.defs.customers.checks import CHECKS

    result = dg.materialize([*ASSETS, *CHECKS], resources=resources, raise_on_error=False)
    assert result.success
    return result


def _catalog_tables(result) -> dict[str, str]:
    return {
        e.asset_key.to_user_string(): e.materialization.metadata["catalog_table"].value
        for e in result.get_asset_materialization_events()
        if "catalog_table" in e.materialization.metadata  # raw replies, validation: no table
    }


def test_after_a_run_the_analysts_sql_runs_on_the_local_warehouse(lake_root, monkeypatch):
    monkeypatch.setenv("FINANCE_CUSTOMERS_RUN_DATE", "2026-03-02")
    _deliver(lake_root / "raw")
    resources = customer_resources(lake_root)
    result = _run(resources)

    named = _catalog_tables(result)
    assert named["customer_segments"] == "customer_segment_db.customer_segments"
    assert named["raw_customer_base"] == "customer_raw_db.customer_base"
    assert named["cleaned_customer_behavior"] == "customer_cleaned_db.customer_behavior"
    quarantine = result.asset_materializations_for_node("cleaned_customer_base")[0].metadata
    assert quarantine["quarantine_catalog_table"].value == (
        "customer_cleaned_db.quarantine_customer_base"
    )

    lake = resources["lake"]
    segments = lake.read_table(contract.CUSTOMER_SEGMENTS.path).to_pandas()
    want = sorted(segments.groupby("segment_name_en").size().items())
    con = duckdb.connect(resources["catalog"].path, read_only=True)
    try:
        assert sorted(con.execute(ANALYST_SQL).fetchall()) == want
        # every table the run wrote answers to its name, with what the lake holds
        for table in (*contract.TABLES.values(), *contract.QUARANTINES.values()):
            entry = catalog_entry(table.path)
            rows = con.execute(f"select count(*) from {entry.database}.{entry.table}").fetchone()
            assert rows[0] == lake.count_rows(table.path), table.name
        raw_rows = con.execute("select count(*) from customer_raw_db.customer_base").fetchone()
        assert (
            raw_rows[0]
            == result.asset_materializations_for_node("raw_customer_base")[0]
            .metadata["dagster/row_count"]
            .value
        )
        checks = con.execute(
            "select count(*), count(distinct date) from platform_monitoring_db.quality_logs"
        ).fetchone()
        assert checks == (len(result.get_asset_check_evaluations()), 1)
        # the name stays in the cleaned base only: no other catalog table has it
        named_columns = con.execute(
            "select table_schema || '.' || table_name from information_schema.columns "
            "where column_name = 'name'"
        ).fetchall()
        # (and the raw delivery, which is the bank's file as delivered)
        assert sorted(named_columns) == [
            ("customer_cleaned_db.customer_base",),
            ("customer_raw_db.customer_base",),
        ]
    finally:
        con.close()


def _run_market_partition(lake, catalog, tmp_path: Path) -> dg.ExecuteInProcessResult:
    from finance_platform.defs import market
    from finance_platform.resources.alpha_vantage import AlphaVantageResource, reset_process_state
    from finance_platform.resources.warehouse import DuckDBWarehouseResource
    from finance_platform.settings import Settings
    from finance_platform_tests.market.replay_server import IBM_COMPACT, ReplayServer, Reply

    reset_process_state()
    defs = market.build_defs(Settings())
    with ReplayServer([Reply.fixture(IBM_COMPACT)]) as server:
        result = dg.materialize(
            [*defs.assets, *defs.asset_checks],
            resources={
                "lake": lake,
                "catalog": catalog,
                "warehouse": DuckDBWarehouseResource(path=str(tmp_path / "warehouse.duckdb")),
                "alpha_vantage": AlphaVantageResource(
                    base_url=server.url, api_key="test-key", plan="premium", backoff_seconds=0.01
                ),
            },
            partition_key="2023-11-10|IBM",
            instance=dg.DagsterInstance.ephemeral(),
        )
    reset_process_state()
    assert result.success
    return result


def test_the_same_run_on_an_s3_lake_registers_every_table_in_glue(
    aws, tmp_path, monkeypatch, capsys
):
    """Production's catalog on moto: each table where Athena reads it, partitions included."""
    import boto3

    from finance_platform.resources.catalog import GlueCatalogResource
    from finance_platform.resources.lake import LakeResource
    from finance_platform_tests.conftest import MOTO_BUCKET, MOTO_REGION

    monkeypatch.setenv("FINANCE_CUSTOMERS_RUN_DATE", "2026-03-02")
    local = tmp_path / "delivery"
    _deliver(local)
    lake = LakeResource(root=f"s3://{MOTO_BUCKET}/platform", region=MOTO_REGION)
    for path in local.rglob("*.csv"):
        lake.write_bytes(f"raw/{path.relative_to(local).as_posix()}", path.read_bytes())
    resources = {
        **customer_resources(tmp_path),
        "lake": lake,
        "catalog": GlueCatalogResource(region=MOTO_REGION),
    }
    result = _run(resources)
    # and one market partition on the same lake (a recorded Alpha Vantage reply over HTTP)
    market = _run_market_partition(lake, resources["catalog"], tmp_path)
    glue = boto3.client("glue", region_name=MOTO_REGION)
    found = {}
    for database in sorted({e.database for e in LAKE_TABLES.values()}):
        for table in glue.get_tables(DatabaseName=database)["TableList"]:
            pages = glue.get_paginator("get_partitions").paginate(
                DatabaseName=database, TableName=table["Name"]
            )
            partitions = sum(len(page["Partitions"]) for page in pages)
            found[f"{database}.{table['Name']}"] = (
                table["StorageDescriptor"]["Location"],
                partitions,
            )
    for asset, name in {**_catalog_tables(result), **_catalog_tables(market)}.items():
        assert name in found, asset
    assert set(found) == {f"{e.database}.{e.table}" for e in LAKE_TABLES.values()}
    assert found["market_curated_db.daily_quotes"] == (
        f"s3://{MOTO_BUCKET}/platform/curated/quotes/",
        1,  # symbol=IBM/trade_date=2023-11-10
    )
    segments = found["customer_segment_db.customer_segments"]
    published = lake.resolve(contract.CUSTOMER_SEGMENTS.path)  # the version the run published
    assert segments == (f"s3://{MOTO_BUCKET}/platform/{published}/", 0)
    assert found["platform_monitoring_db.quality_logs"][1] == 1  # today's date partition
    with capsys.disabled():
        print("\nGlue catalog after the customer group and a market partition, S3 lake (moto):")
        for name, (location, partitions) in sorted(found.items()):
            print(f"  {name:58s} partitions={partitions:<3d} {location}")
