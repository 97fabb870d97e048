"""Features on hand-built frames whose answers are stated in the tests."""

import pandas as pd
import pytest

from finance_platform.transforms.customers.cleaning import (
    clean_customer_base,
    clean_customer_behavior,
)
from finance_platform.transforms.customers.features import (
    behavior_metrics,
    current_view,
    customer_features,
    engagement_parts,
    lifecycle_score,
    quantile_bins,
)
from finance_platform_tests.transforms.customers.test_cleaning import base_row, behavior_row


def test_lifecycle_score_is_stage_base_plus_capped_tenure():
    codes = pd.Series(["new", "loyal", "mature", "unknown"])
    tenure = pd.Series([0.5, 20.0, 4.0, 2.0])
    # new 20 + 0.5*1.5; loyal 85 + 10*1.5 capped at 100; mature 60 + 4*1.5; unknown 0 + 3
    assert lifecycle_score(codes, tenure).tolist() == [20.75, 100.0, 66.0, 3.0]


def test_quantile_bins_break_ties_by_customer_id():
    values = pd.Series([1.0, 1.0, 1.0, 1.0, 2.0])
    ids = pd.Series(["e", "d", "c", "b", "a"])
    # order by (value, id): b c d e a -> ranks 0..4 -> bins 1..5
    assert quantile_bins(values, ids, 5).tolist() == [4, 3, 2, 1, 5]


def test_engagement_extremes():
    top = engagement_parts(
        pd.Series([0.0]),
        pd.Series([30.0]),
        pd.Series([6.0]),
        pd.Series([50_000.0]),
        pd.Series([5e6]),
    )
    idle = engagement_parts(
        pd.Series([400.0]), pd.Series([0.0]), pd.Series([0.0]), pd.Series([0.0]), pd.Series([0.0])
    )
    assert top["engagement_score"].tolist() == [100.0]
    assert idle["engagement_score"].tolist() == [0.0]


def _history(values: list[float]) -> pd.DataFrame:
    months = [f"2025-{m:02d}" for m in range(1, len(values) + 1)]
    rows = [behavior_row("a", m, total_assets=v) for m, v in zip(months, values, strict=True)]
    return clean_customer_behavior(pd.DataFrame(rows)).cleaned


def test_trends_are_relative_least_squares_slopes():
    metrics = behavior_metrics(_history([100.0, 110.0, 120.0, 130.0, 140.0, 150.0]))
    row = metrics.iloc[0]
    assert row["total_assets_trend_3m"] == pytest.approx(10 / 140, abs=1e-6)  # slope 10, mean 140
    assert row["total_assets_trend_6m"] == pytest.approx(10 / 125, abs=1e-6)  # slope 10, mean 125
    assert row["total_assets_avg_3m"] == 140.0 and row["months_observed"] == 6
    assert row["app_login_count_trend_6m"] == 0.0  # flat logins


def test_current_view_is_the_latest_month_and_features_cover_every_customer():
    behavior = _history([100.0, 200.0, 300.0])
    assert current_view(behavior)["total_assets"].tolist() == [300.0]
    base = clean_customer_base(
        pd.DataFrame([base_row("a"), base_row("z", lifecycle_stage="新客户")], dtype="str")
    ).cleaned
    features = customer_features(base, behavior).set_index("customer_id")
    assert features.loc["a", "latest_stat_month"] == "2025-03"
    assert features.loc["a", "total_assets"] == 300.0
    assert bool(features.loc["a", "has_behavior"]) and not bool(features.loc["z", "has_behavior"])
    assert features.loc["z", "total_assets"] == 0.0
    assert features.loc["z", "contact_result_code"] == "no_contact"
    # as_of = 2025-03-31; opened 2020-01-15 -> 5.21 years; mature 60 + 5.21 * 1.5
    assert features.loc["a", "tenure_years"] == 5.21
    assert features.loc["a", "lifecycle_score"] == pytest.approx(60 + 1.5 * 5.2101, abs=0.01)
    assert "name" not in features.reset_index().columns
    # cross-sell index: deposit 0.15 + financial 0.30 held
    assert features.loc["a", "product_cross_sell_index"] == 45.0
