"""The customer tables' contract: what the engines write, what lineage explains, what it holds."""

import datetime as dt

import dagster as dg
import pyarrow.compute as pc

from finance_platform.defs.customers.lineage import DERIVED, IDENTITY_FROM, lineage_pairs
from finance_platform.resources.engine import CustomerEngine, LocalEngine
from finance_platform.resources.lake import LakeResource
from finance_platform.sample_data import DefectRates, generate
from finance_platform.transforms.customers import contract, rules
from finance_platform_tests.customers.group import customer_resources

# Columns with no upstream column: the product catalogue and the run date.
WITHOUT_LINEAGE = {"product_recommendations": ["product"], "marketing_targets": ["run_date"]}


def contract_columns(name: str) -> tuple[str, ...]:
    """A raw delivery's or a table's columns, as the contract states them."""
    if name in contract.DELIVERIES:
        return contract.DELIVERIES[name].columns
    return contract.table(name).columns


def materialize_small_delivery(lake_root, monkeypatch, engine: CustomerEngine) -> LakeResource:
    """The customer group on ``engine`` over 60 customers x 4 months with every defect kind."""
    from finance_platform.defs.customers.assets import ASSETS

    monkeypatch.setenv("FINANCE_CUSTOMERS_RUN_DATE", "2026-03-02")
    generate(
        lake_root / "raw",
        customers=60,
        months=4,
        seed=21,
        delivery_date=dt.date(2026, 3, 1),
        defects=DefectRates(
            duplicates=0.05,
            bad_ages=0.05,
            bad_dates=0.05,
            negative_balances=0.05,
            unit_errors=0.02,
        ),
    )
    lake = LakeResource(root=str(lake_root))
    assert dg.materialize(ASSETS, resources=customer_resources(lake_root, engine)).success
    return lake


def assert_lake_holds_the_contract(lake: LakeResource) -> None:
    """Every table and quarantine in the lake has exactly its contract columns, in order,
    and one row per key."""
    written = {}
    for table in (*contract.TABLES.values(), *contract.QUARANTINES.values()):
        written[table.name] = lake.read_table_schema(table.path).names
    assert written == {name: list(contract_columns(name)) for name in written}
    for quarantine in contract.QUARANTINES.values():
        assert lake.count_rows(quarantine.path) > 0, f"{quarantine.name}: no defect reached it"
    for table in contract.TABLES.values():
        keys = lake.read_table(table.path, columns=list(table.key))
        assert keys.num_rows > 0, table.name
        assert keys.group_by(list(table.key)).aggregate([]).num_rows == keys.num_rows, table.name
        for key in table.key:
            assert pc.sum(pc.is_null(keys[key])).as_py() == 0, (table.name, key)


def test_the_local_engine_writes_every_table_as_the_contract_says(lake_root, monkeypatch):
    assert_lake_holds_the_contract(
        materialize_small_delivery(
            lake_root, monkeypatch, LocalEngine(memory_bytes=1024**3, threads=1)
        )
    )


def test_lineage_covers_exactly_the_contract_columns():
    for name, table in contract.TABLES.items():
        assert set(DERIVED.get(name, {})) <= set(table.columns), f"{name}: lineage of no column"
        upstream = {up: contract_columns(up) for up in IDENTITY_FROM[name]}
        pairs = lineage_pairs(name, table.columns, upstream)
        unexplained = [c for c in table.columns if c not in pairs]
        assert unexplained == WITHOUT_LINEAGE.get(name, []), name
        for column, deps in pairs.items():
            for up, up_column in deps:
                assert up_column in contract_columns(up), (name, column, up, up_column)


def test_contract_tables_are_well_formed():
    tables = [*contract.TABLES.values(), *contract.QUARANTINES.values()]
    assert len({t.path for t in tables}) == len(tables)
    for table in tables:
        assert len(set(table.columns)) == len(table.columns), table.name
        assert set(table.key) <= set(table.columns), table.name
        assert contract.table(table.name) is table
        assert contract.table_at(table.path) is table
    # names never leave raw/cleaned storage
    for table in tables:
        if table is not contract.CLEANED_CUSTOMER_BASE:
            assert not set(rules.PII_COLUMNS) & set(table.columns), table.name
    for table in contract.TABLES.values():
        if table.delivery is not None:
            assert table.columns[: len(table.delivery.columns)] == table.delivery.columns
            assert table.quarantine.columns[-2:] == (contract.REASON, contract.DELIVERY)
