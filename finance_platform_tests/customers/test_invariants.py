"""Property-based tests: the customer group's invariants over deliveries with any mix of defects.

Hypothesis draws a delivery: 1..25 customers (single-customer files included) x 1..6
months, each defect of the generator at 0 (so all-clean columns and empty quarantines
are common) or a rate, and each file rewritten as banks send them (BOM, CRLF, GB18030,
other date styles on some rows, extra columns, a cut last line). The invariants of
``invariants.py`` must hold on every one, against oracles that read the raw bytes.

``test_stages_*`` runs every SQL stage in order on the local DuckDB engine (reader,
cleaning, features, segments, recommendations, targets) without Dagster, on many
examples; ``test_group_*`` runs the real Dagster group with every check on fewer,
asserting no failed step and no failed ERROR check.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import dagster as dg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finance_platform.defs.customers.common import cleaning_stats
from finance_platform.resources.lake import LakeResource
from finance_platform.sample_data import DefectRates, generate
from finance_platform.sample_data.variants import Variant, as_delivered
from finance_platform.transforms.customers.contract import QUARANTINES, TABLES
from finance_platform_tests.customers import invariants as inv
from finance_platform_tests.customers.group import failed_error_checks, materialize, step_failures
from finance_platform_tests.customers.stages import build_all

BASE, BEHAVIOR = "customer_base", "customer_behavior_assets"
DELIVERY = dt.date(2025, 7, 1)
RATES = st.sampled_from([0.0, 0.0, 0.0, 0.02, 0.1, 0.3])


@st.composite
def variants(draw) -> Variant:
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "gb18030"]))
    return Variant(
        bom=encoding == "utf-8" and draw(st.booleans()),  # a BOM says UTF-8
        crlf=draw(st.booleans()),
        encoding=encoding,
        date_style=draw(st.sampled_from(["", "", "slash", "compact"])),
        date_every=draw(st.integers(1, 7)),
        extra_columns=draw(st.booleans()),
        cut_last_line=draw(st.booleans()),
    )


@st.composite
def deliveries(draw) -> dict:
    return {
        "customers": draw(st.integers(1, 25)),
        "months": draw(st.integers(1, 6)),
        "seed": draw(st.integers(0, 2**16)),
        "defects": DefectRates(
            duplicates=draw(RATES),
            bad_ages=draw(RATES),
            bad_dates=draw(RATES),
            negative_balances=draw(RATES),
            missing_contact=draw(st.sampled_from([0.0, 0.2, 1.0])),
            unit_errors=draw(RATES),
        ),
        "variants": {BASE: draw(variants()), BEHAVIOR: draw(variants())},
    }


def write_delivery(root: Path, spec: dict) -> dict[str, Path]:
    """The drawn delivery in ``root/lake/raw``, as banks send it; returns the lake paths."""
    source = generate(
        root / "source",
        customers=spec["customers"],
        months=spec["months"],
        seed=spec["seed"],
        delivery_date=DELIVERY,
        defects=spec["defects"],
    )
    out = {}
    for table in (BASE, BEHAVIOR):
        target = root / "lake" / "raw" / table / f"{table}_20250701.csv"
        out[table] = as_delivered(source[table], target, spec["variants"][table], table)
    return out


def oracle(paths: dict[str, Path], spec: dict) -> dict:
    files = {t: inv.RawFile.read(p, spec["variants"][t].encoding) for t, p in paths.items()}
    return {
        "files": files,
        "allowed": inv.may_be_targeted(files[BEHAVIOR], DELIVERY),
        "names": inv.names(files[BASE]),
    }


PROPERTY = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(PROPERTY, max_examples=60)
@given(spec=deliveries())
def test_stages_hold_the_invariants_on_any_delivery(spec):
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_delivery(Path(tmp), spec)
        truth = oracle(paths, spec)
        built, stats = build_all(
            Path(tmp) / "lake", {t: f"raw/{t}/{p.name}" for t, p in paths.items()}, DELIVERY
        )
    tables = {name: table.to_pandas() for name, table in built.items()}
    for side, asset, table in (
        ("base", "cleaned_customer_base", BASE),
        ("behaviour", "cleaned_customer_behavior", BEHAVIOR),
    ):
        (accounting,) = stats[asset][f"{asset}_accounting"]
        inv.assert_accounted(
            truth["files"][table],
            len(tables[asset]),
            len(tables[TABLES[asset].quarantine.name]),
            accounting["duplicates_removed"],
            side,
        )
    features, targets = tables["customer_features"], tables["marketing_targets"]
    inv.assert_one_segment_each(
        tables["cleaned_customer_base"]["customer_id"], tables["customer_segments"]
    )
    inv.assert_targets_allowed(targets, truth["allowed"])
    inv.assert_priority_formula(tables["product_recommendations"])
    inv.assert_priority_formula(targets)
    unknown = set(features.loc[~features["cool_period_known"], "customer_id"])
    assert not unknown & set(targets["customer_id"].astype("str"))
    inv.assert_no_names(
        {name: frame for name, frame in tables.items() if name != "cleaned_customer_base"},
        truth["names"],
    )


def _metadata_and_logs(instance: dg.DagsterInstance, run_id: str) -> str:
    records = instance.all_logs(run_id)
    return json.dumps(
        [
            {
                "message": r.user_message,
                "event": str(r.dagster_event.event_specific_data) if r.dagster_event else "",
            }
            for r in records
        ],
        ensure_ascii=False,
        default=str,
    )


@pytest.mark.slow
@settings(PROPERTY, max_examples=8)
@given(spec=deliveries())
def test_group_never_fails_a_step_or_an_error_check_on_a_well_formed_delivery(spec):
    with tempfile.TemporaryDirectory() as tmp, dg.instance_for_test() as instance:
        root = Path(tmp)
        paths = write_delivery(root, spec)
        truth = oracle(paths, spec)
        lake = LakeResource(root=str(root / "lake"))
        with pytest.MonkeyPatch.context() as env:
            env.setenv("FINANCE_LAKE_ROOT", str(root / "lake"))
            env.setenv("FINANCE_CUSTOMERS_RUN_DATE", DELIVERY.isoformat())
            env.setenv("FINANCE_CUSTOMERS_FRESHNESS_DAYS", "100000")
            result = materialize(root / "lake", instance)
        assert result.success, step_failures(result)
        assert not failed_error_checks(result), failed_error_checks(result)
        for asset, table in (
            ("cleaned_customer_base", BASE),
            ("cleaned_customer_behavior", BEHAVIOR),
        ):
            stats = cleaning_stats(lake, asset)
            inv.assert_accounted(
                truth["files"][table],
                lake.count_rows(TABLES[asset].path),
                lake.count_rows(TABLES[asset].quarantine.path),
                stats["duplicates_removed"],
                asset,
            )
        tables = {t.path: lake.read_table(t.path).to_pandas() for t in TABLES.values()}
        cleaned_ids = tables[TABLES["cleaned_customer_base"].path]["customer_id"]
        inv.assert_one_segment_each(cleaned_ids, tables[TABLES["customer_segments"].path])
        inv.assert_targets_allowed(tables[TABLES["marketing_targets"].path], truth["allowed"])
        inv.assert_priority_formula(tables[TABLES["marketing_targets"].path])
        outside = {
            path: frame
            for path, frame in tables.items()
            if path != TABLES["cleaned_customer_base"].path
        }
        outside.update({q.path: lake.read_table(q.path).to_pandas() for q in QUARANTINES.values()})
        inv.assert_no_names(outside, truth["names"])
        texts = {"run logs and metadata": _metadata_and_logs(instance, result.run_id)}
        for path in sorted((root / "lake").rglob("*.json")):
            texts[str(path.relative_to(root))] = path.read_text(encoding="utf-8")
        inv.assert_no_names_in_text(texts, truth["names"])
