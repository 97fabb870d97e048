"""Running the customer group as a test does, and reading what a run reported."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from finance_platform.defs.customers.assets import ASSETS
from finance_platform.defs.customers.checks import CHECKS
from finance_platform.resources.engine import CustomerEngine, LocalEngine
from finance_platform.resources.lake import LakeResource


def customer_resources(lake_root: Path, engine: CustomerEngine | None = None) -> dict:
    """What the customer assets need on a test lake: the lake, an engine (default the local
    DuckDB engine, small), and the catalog (views in a warehouse file in the lake)."""
    from finance_platform.resources.catalog import DuckDBCatalogResource

    return {
        "lake": LakeResource(root=str(lake_root)),
        "customer_engine": engine or LocalEngine(memory_bytes=1024**3, threads=1),
        "catalog": DuckDBCatalogResource(path=str(Path(lake_root) / "warehouse.duckdb")),
    }


def materialize(
    lake_root: Path,
    instance: dg.DagsterInstance,
    selection=None,
    engine: CustomerEngine | None = None,
) -> dg.ExecuteInProcessResult:
    """Every customer asset and check on the lake at ``lake_root`` on ``engine`` (default
    the local DuckDB engine); failures are reported."""
    return dg.materialize(
        [*ASSETS, *CHECKS],
        resources=customer_resources(lake_root, engine),
        instance=instance,
        selection=selection,
        raise_on_error=False,
    )


def checks_by_name(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        f"{e.asset_key.to_user_string()}:{e.check_name}": e
        for e in result.get_asset_check_evaluations()
    }


def failed_error_checks(result) -> list[str]:
    return [
        name
        for name, e in checks_by_name(result).items()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]


def step_failures(result) -> list[str]:
    """The error message of every failed step, with the messages of its causes."""
    out = []
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE":
            continue
        error, text = event.step_failure_data.error, []
        while error is not None:
            text.append(error.message)
            error = error.cause
        out.append(" <- ".join(text))
    return out


def materialized(result, asset: str) -> dict:
    """Plain metadata values of ``asset``'s materialization in ``result``."""
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if mat.asset_key.to_user_string() == asset:
            return {k: v.value for k, v in mat.metadata.items()}
    raise AssertionError(f"{asset} was not materialized")
