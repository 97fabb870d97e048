"""Customer analytics: the Spark engine gives the pandas engine's tables on generated data.

Input: the sample-data generator's delivery with its defects turned up
(duplicates, ages out of range, bad dates, negative balances, missing
contact results), cleaned by the pandas engine; every later table is built
by both engines from the same input and compared: same keys, same labels
and segments exactly, floats within 1e-9 relative.
"""

import datetime as dt

import pytest

from finance_platform.transforms.customers import contract
from finance_platform.transforms.customers import features as pd_features
from finance_platform.transforms.customers import recommendations as pd_recs
from finance_platform.transforms.customers import segments as pd_segments
from finance_platform.transforms.customers.cleaning import (
    clean_customer_base,
    clean_customer_behavior,
)
from finance_platform.transforms.spark import customers as sp
from finance_platform_tests.spark.parity import assert_same_table

RUN_DATE = dt.date(2026, 3, 2)


@pytest.fixture(scope="module")
def pandas_tables(tmp_path_factory):
    from finance_platform.defs.customers.raw_files import latest_delivery, read_delivery
    from finance_platform.resources.lake import LakeResource
    from finance_platform.sample_data import DefectRates, generate

    root = tmp_path_factory.mktemp("lake")
    generate(
        root / "raw",
        customers=400,
        months=8,
        seed=7,
        delivery_date=dt.date(2026, 3, 1),
        defects=DefectRates(
            duplicates=0.03,
            bad_ages=0.03,
            bad_dates=0.02,
            negative_balances=0.02,
            missing_contact=0.2,
            unit_errors=0.01,
        ),
    )
    lake = LakeResource(root=str(root))
    raw = {}
    for table in ("customer_base", "customer_behavior_assets"):
        delivery = latest_delivery(lake, table)
        raw[table] = read_delivery(lake, table, delivery.path).frame
    base = clean_customer_base(raw["customer_base"])
    behavior = clean_customer_behavior(raw["customer_behavior_assets"])
    assert base.quarantine.shape[0] > 0 and behavior.duplicates_removed > 0  # defects present
    assert behavior.reasons.get("outlier_own_history:total_assets", 0) > 0  # unit errors
    quarantined = behavior.quarantine[["customer_id", "stat_month"]]
    features = pd_features.customer_features(base.cleaned, behavior.cleaned, quarantined)
    assert (~features["cool_period_known"]).sum() > 0  # stale views exist
    segments = pd_segments.assign_segments(features)
    recs = pd_recs.product_recommendations(features, segments)
    return {
        "raw_paths": {
            t: lake.uri(latest_delivery(lake, t).path)
            for t in ("customer_base", "customer_behavior_assets")
        },
        "raw": raw,
        "base": base,
        "behavior": behavior,
        "customer_features": features,
        "behavior_metrics": pd_features.behavior_metrics(behavior.cleaned),
        "customer_segments": segments,
        "segment_profiles": pd_segments.segment_profiles(segments, features),
        "product_recommendations": recs,
        "marketing_targets": pd_recs.marketing_targets(recs, features, segments, RUN_DATE),
    }


def _spark_cleaned(spark, t):
    from finance_platform.transforms.spark import cleaning as sc

    base_file, behavior_file = contract.RAW_CUSTOMER_BASE, contract.RAW_CUSTOMER_BEHAVIOR
    base = sc.clean_customer_base(
        sc.read_raw_csv(spark, t["raw_paths"][base_file.file], base_file.columns)
    )
    behavior = sc.clean_customer_behavior(
        sc.read_raw_csv(spark, t["raw_paths"][behavior_file.file], behavior_file.columns)
    )
    return base, behavior


def _quarantine_labels(frame):
    return sorted(zip(frame["customer_id"].astype(str), frame["quarantine_reason"], strict=True))


@pytest.fixture(scope="module")
def spark_tables(spark, pandas_tables):
    """The Spark engine end to end from the same raw CSV files, computed once."""
    base, behavior = _spark_cleaned(spark, pandas_tables)
    quarantined = behavior.quarantine.select("customer_id", "stat_month")
    features = sp.customer_features(base.cleaned, behavior.cleaned, quarantined).cache()
    segments = sp.assign_segments(features).cache()
    recs = sp.product_recommendations(features, segments).cache()
    tables = {
        "cleaned_customer_base": base.cleaned,
        "cleaned_customer_behavior": behavior.cleaned,
        "customer_features": features,
        "behavior_metrics": sp.behavior_metrics(behavior.cleaned),
        "customer_segments": segments,
        "segment_profiles": sp.segment_profiles(segments, features),
        "product_recommendations": recs,
        "marketing_targets": sp.marketing_targets(recs, features, segments, RUN_DATE),
    }
    yield {"base": base, "behavior": behavior, **{k: v.toPandas() for k, v in tables.items()}}
    for frame in (features, segments, recs):
        frame.unpersist()


def test_cleaning_accounting_and_quarantine_match(pandas_tables, spark_tables):
    for side in ("base", "behavior"):
        got, want = spark_tables[side], pandas_tables[side]
        assert got.raw_rows == want.raw_rows, side
        assert got.duplicates_removed == want.duplicates_removed, side
        assert got.reasons == want.reasons, side
        assert got.extremes == want.extremes, side
        assert got.balanced, side
        raw = pandas_tables["raw"][
            "customer_base" if side == "base" else "customer_behavior_assets"
        ]
        assert got.missing_rates == pytest.approx(raw.isna().mean().to_dict(), abs=1e-12), side
        if side == "behavior":  # the generator leaves ~20% of contact results empty
            assert 0.1 < got.missing_rates["contact_result"] < 0.3
        quarantine = got.quarantine.toPandas()
        assert list(quarantine.columns) == list(want.quarantine.columns), side
        assert _quarantine_labels(quarantine) == _quarantine_labels(want.quarantine), side


@pytest.mark.parametrize("table", list(contract.TABLES))
def test_table_matches_between_engines(table, pandas_tables, spark_tables):
    if table.startswith("cleaned_"):
        want = pandas_tables["base" if table.endswith("base") else "behavior"].cleaned
    else:
        want = pandas_tables[table]
    assert len(want) > 0
    key = list(contract.TABLES[table].key)
    assert_same_table(want, spark_tables[table], key, table)
