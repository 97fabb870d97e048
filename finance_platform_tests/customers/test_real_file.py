"""The customer group on the bank's real customer file (../shared/data/customer_base.csv).

The real file has no bad row at all: the path that crashed the group while every test on
generated deliveries passed. Its behaviour rows come from the project's generator
(``generate(base_file=...)``): at zero defect rates the group must materialize with no
failed step and no failed ERROR check; at the generator's default defects every
invariant must hold. A bare clone has no ../shared: these tests skip, saying so.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from finance_platform.defs.customers.common import cleaning_stats
from finance_platform.sample_data import DefectRates, generate
from finance_platform.sample_data.variants import Variant, as_delivered
from finance_platform.transforms.customers.contract import QUARANTINES, TABLES
from finance_platform_tests.customers import invariants as inv
from finance_platform_tests.customers.group import (
    checks_by_name,
    failed_error_checks,
    materialize,
    materialized,
)

REAL_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "customer_base.csv"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not REAL_FILE.exists(),
        reason=f"the bank's real customer file is not here ({REAL_FILE}): CI and the team's "
        "checkout have ../shared/data/customer_base.csv, a bare clone does not",
    ),
]
RUN_DATE = dt.date(2025, 7, 1)


def deliver_real(lake_root: Path, defects: DefectRates, seed: int = 7) -> dict[str, Path]:
    """The real file dropped as delivered (undated name) plus generated behaviour for it."""
    base = lake_root / "raw" / "customer_base" / "customer_base.csv"
    base.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REAL_FILE, base)
    uploaded = dt.datetime.combine(RUN_DATE, dt.time(6), tzinfo=dt.UTC).timestamp()
    os.utime(base, (uploaded, uploaded))  # uploaded on the delivery day: its delivery date
    return generate(
        lake_root / "raw",
        months=12,
        seed=seed,
        delivery_date=RUN_DATE,
        defects=defects,
        base_file=base,
    )


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINANCE_CUSTOMERS_RUN_DATE", RUN_DATE.isoformat())
    monkeypatch.setenv("FINANCE_CUSTOMERS_FRESHNESS_DAYS", "100000")


def test_the_real_file_without_defects_materializes_every_step_and_keeps_every_customer(
    env, lake_root, lake
):
    files = deliver_real(lake_root, DefectRates.none())
    with dg.instance_for_test() as instance:
        result = materialize(lake_root, instance)
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        assert not failed_error_checks(result)
        # nothing is quarantined: the real file has no bad row, and no month is an error
        for asset in ("cleaned_customer_base", "cleaned_customer_behavior"):
            assert cleaning_stats(lake, asset)["quarantine_reasons"] == {}, asset
            assert lake.count_rows(TABLES[asset].quarantine.path) == 0
        assert lake.count_rows(TABLES["cleaned_customer_base"].path) == 10_000
        assert lake.count_rows(TABLES["cleaned_customer_behavior"].path) == 120_000
        # the richest and smallest customers stay, counted as extremes (a WARN, not removed)
        raw = inv.RawFile.read(files["customer_behavior_assets"], "utf-8")
        column = raw.header.index("total_assets")
        top = max(float(row[column]) for row in raw.rows)
        kept = lake.read_table(TABLES["cleaned_customer_behavior"].path, columns=["total_assets"])
        assert kept.column("total_assets").to_pandas().max() == top
        checks = checks_by_name(result)
        extremes = checks["cleaned_customer_behavior:cross_sectional_extremes"]
        assert not extremes.passed and extremes.severity == dg.AssetCheckSeverity.WARN
        assert extremes.metadata["extreme_rows"].value > 0
        # every current view is the newest month; nobody is left out for an unknown status
        assert checks["customer_features:current_views"].passed
        targets = materialized(result, "marketing_targets")
        assert targets["excluded_unknown_cool_period"] == 0
        assert targets["dagster/row_count"] > 0
        inv.assert_one_segment_each(
            lake.read_table(TABLES["cleaned_customer_base"].path).column("customer_id").to_pylist(),
            lake.read_table(TABLES["customer_segments"].path).to_pandas(),
        )
        inv.assert_targets_allowed(
            lake.read_table(TABLES["marketing_targets"].path).to_pandas(),
            inv.may_be_targeted(raw, RUN_DATE),
        )

        # the bank's second real delivery: the same customers with create_time, update_time
        second = lake_root / "raw" / "customer_base" / "customer_base_20250702.csv"
        as_delivered(REAL_FILE, second, Variant(extra_columns=True), "customer_base")
        again = materialize(lake_root, instance)
    assert again.success and not failed_error_checks(again)
    drift = checks_by_name(again)["raw_customer_base:schema_drift"]
    assert not drift.passed and drift.metadata["extra_columns"].value == [
        "create_time",
        "update_time",
    ]
    assert materialized(again, "raw_customer_base")["delivery_date"] == "2025-07-02"
    assert lake.count_rows(TABLES["cleaned_customer_base"].path) == 10_000


def test_the_real_file_with_the_generators_defects_holds_every_invariant(env, lake_root, lake):
    files = deliver_real(lake_root, DefectRates())
    with dg.instance_for_test() as instance:
        result = materialize(lake_root, instance)
    assert result.success and not failed_error_checks(result)
    truth = {t: inv.RawFile.read(p, "utf-8") for t, p in files.items()}
    for asset, table in (
        ("cleaned_customer_base", "customer_base"),
        ("cleaned_customer_behavior", "customer_behavior_assets"),
    ):
        inv.assert_accounted(
            truth[table],
            lake.count_rows(TABLES[asset].path),
            lake.count_rows(TABLES[asset].quarantine.path),
            cleaning_stats(lake, asset)["duplicates_removed"],
            asset,
        )
    reasons = cleaning_stats(lake, "cleaned_customer_behavior")["quarantine_reasons"]
    assert reasons.get("outlier_own_history:total_assets", 0) > 0  # the planted unit errors
    tables = {t.path: lake.read_table(t.path).to_pandas() for t in TABLES.values()}
    inv.assert_one_segment_each(
        tables[TABLES["cleaned_customer_base"].path]["customer_id"],
        tables[TABLES["customer_segments"].path],
    )
    targets = tables[TABLES["marketing_targets"].path]
    inv.assert_targets_allowed(
        targets, inv.may_be_targeted(truth["customer_behavior_assets"], RUN_DATE)
    )
    inv.assert_priority_formula(targets)
    inv.assert_priority_formula(tables[TABLES["product_recommendations"].path])
    meta = materialized(result, "marketing_targets")
    features = tables[TABLES["customer_features"].path]
    assert meta["excluded_unknown_cool_period"] == int((~features["cool_period_known"]).sum()) > 0
    outside = {p: f for p, f in tables.items() if p != TABLES["cleaned_customer_base"].path}
    outside.update({q.path: lake.read_table(q.path).to_pandas() for q in QUARANTINES.values()})
    inv.assert_no_names(outside, inv.names(truth["customer_base"]))
