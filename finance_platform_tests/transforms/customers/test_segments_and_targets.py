"""Segment rules, profiles, product scores, priority math and the cool period."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from finance_platform.transforms.customers import rules
from finance_platform.transforms.customers.recommendations import (
    marketing_targets,
    product_recommendations,
)
from finance_platform.transforms.customers.segments import assign_segments, segment_profiles

CASES = [
    # customer, assets, engagement, investments, card spend, lifecycle -> expected segment
    ("c01", 2_000_000, 80, 5, 1_000, "mature", "S001"),
    ("c02", 2_000_000, 20, 5, 1_000, "mature", "S002"),
    ("c03", 700_000, 70, 0, 1_000, "mature", "S003"),
    ("c04", 300_000, 90, 9, 90_000, "new", "S004"),
    ("c05", 2_000_000, 80, 0, 1_000, "loyal", "S005"),
    ("c06", 700_000, 20, 0, 1_000, "growth", "S006"),
    ("c07", 100_000, 70, 0, 20_000, "growth", "S007"),
    ("c08", 100_000, 70, 4, 1_000, "growth", "S008"),
    ("c09", 100_000, 70, 0, 1_000, "growth", "S009"),
    ("c10", 100_000, 10, 0, 20_000, "growth", "S010"),
    ("c11", 100_000, 10, 0, 1_000, "growth", "S011"),
    ("c12", 2_000_000, 10, 0, 1_000, "new", "S002"),  # high net worth beats "new"
    ("c13", 1_000_000, 50, 3, 15_000, "value", "S001"),  # thresholds are inclusive
]


@pytest.fixture
def features() -> pd.DataFrame:
    df = pd.DataFrame(
        CASES,
        columns=[
            "customer_id",
            "total_assets",
            "engagement_score",
            "investment_monthly_count",
            "credit_card_monthly_expense",
            "lifecycle_code",
            "expected",
        ],
    )
    df["lifecycle_score"] = 50.0
    df["monthly_income"] = 30_000.0
    df["age"] = 40
    df["product_count"] = 2
    return df


def test_each_customer_gets_exactly_the_stated_segment(features):
    segments = assign_segments(features)
    assert segments["segment_id"].astype("str").tolist() == features["expected"].tolist()
    assert segments["customer_id"].is_unique and len(segments) == len(features)
    s001 = segments.iloc[0]
    assert s001["segment_name_en"] == "High-net-worth active investor"
    assert s001["segment_name_zh"] == "高净值活跃投资客户"
    assert "1M" in s001["segment_characteristics"]


def test_profiles_have_one_row_per_defined_segment(features):
    profiles = segment_profiles(assign_segments(features), features).set_index("segment_id")
    assert list(profiles.index) == [r["id"] for r in rules.SEGMENT_RULES]
    assert profiles.loc["S002", "customers"] == 2
    assert profiles.loc["S002", "avg_total_assets"] == 2_000_000
    assert profiles["customers"].sum() == len(features)
    assert profiles["share"].sum() == pytest.approx(1.0, abs=1e-3)


def rec_features(**overrides) -> pd.DataFrame:
    row = {
        "customer_id": "a",
        "deposit_balance": 500_000.0,
        "total_assets": 600_000.0,
        "monthly_income": 60_000.0,
        "marriage_code": "single",
        "risk_asset_share": 0.0,
        "engagement_score": 0.0,
        "investment_monthly_count": 0,
        "credit_card_monthly_expense": 0.0,
        "financial_flag": 0,
        "fund_flag": 1,
        "insurance_flag": 1,
        "contact_result_code": "success",
        "marketing_cool_period": pd.Timestamp("2025-01-01"),
        "cool_period_known": True,
    }
    row.update(overrides)
    return pd.DataFrame([row])


def test_wealth_management_score_probability_value_and_priority():
    feats = rec_features()
    segs = pd.DataFrame({"customer_id": ["a"], "segment_id": ["S003"], "segment_name_en": ["x"]})
    recs = product_recommendations(feats, segs).set_index("product")
    wm = recs.loc["wealth_management"]
    # deposits 500k (cap) * 0.5 + income 60k (cap) * 0.3 + no wealth product * 0.2 = 1.0
    assert wm["score"] == 100.0
    assert wm["purchase_probability"] == round(1 / (1 + np.exp(-(6 * 0.5 + 0.5))), 4)  # 0.9707
    assert wm["expected_value"] == 4_000.0  # 0.8% of deposits
    assert wm["priority_score"] == round(100.0 * 0.9707 * 4_000.0, 2)  # 388,280
    # single, holds insurance: only mid/high income counts -> 35
    assert recs.loc["insurance", "score"] == 35.0

    targets = marketing_targets(recs.reset_index(), feats, segs, dt.date(2025, 6, 1))
    assert targets[["customer_id", "recommended_product"]].values.tolist() == [
        ["a", "wealth_management"]
    ]
    assert set(["customer_id", "recommended_product", "priority_score", "expected_value"]) <= set(
        targets.columns
    )
    assert "deposits" in targets.loc[0, "reason"] and "name" not in targets.columns


@pytest.mark.parametrize(
    ("cool_until", "targeted"),
    [("2025-06-02", False), ("2025-06-01", True), ("2025-05-31", True)],
)
def test_cool_period_excludes_customers_until_its_date(cool_until, targeted):
    feats = rec_features(marketing_cool_period=pd.Timestamp(cool_until))
    segs = pd.DataFrame({"customer_id": ["a"], "segment_id": ["S003"], "segment_name_en": ["x"]})
    recs = product_recommendations(feats, segs)
    targets = marketing_targets(recs, feats, segs, dt.date(2025, 6, 1))
    assert (len(targets) == 1) is targeted


def test_customers_whose_cool_period_status_is_unknown_are_not_targeted():
    """A stale current view carries an old cool period: the customer may be cooling now."""
    feats = pd.concat(
        [rec_features(customer_id="known"), rec_features(customer_id="stale")], ignore_index=True
    )
    feats.loc[1, "cool_period_known"] = False
    segs = pd.DataFrame(
        {"customer_id": ["known", "stale"], "segment_id": "S003", "segment_name_en": "x"}
    )
    targets = marketing_targets(
        product_recommendations(feats, segs), feats, segs, dt.date(2025, 6, 1)
    )
    assert targets["customer_id"].tolist() == ["known"]


def test_ranking_is_by_priority_then_customer_id():
    feats = pd.concat(
        [rec_features(customer_id=c) for c in ("b", "a")]
        + [rec_features(customer_id="c", deposit_balance=250_000.0)],
        ignore_index=True,
    )
    segs = pd.DataFrame(
        {"customer_id": ["a", "b", "c"], "segment_id": "S003", "segment_name_en": "x"}
    )
    targets = marketing_targets(
        product_recommendations(feats, segs), feats, segs, dt.date(2025, 6, 1)
    )
    assert targets["customer_id"].tolist() == ["a", "b", "c"]
    assert targets["target_rank"].tolist() == [1, 2, 3]
