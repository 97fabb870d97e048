"""The rule tables are consistent, and Chinese labels map to the documented English codes."""

import pandas as pd
import pytest

from finance_platform.transforms.customers import rules
from finance_platform.transforms.customers.labels import map_codes


def test_label_mapping_keeps_order_and_marks_unknown_and_missing():
    labels = pd.Series(["已婚", "未婚", "离异", None, "已婚"], dtype="str")
    codes = map_codes(labels, rules.MARRIAGE)
    assert codes.astype("str").tolist() == ["married", "single", "unknown", "unknown", "married"]


def test_label_mapping_on_categorical_input():
    labels = pd.Series(["新客户", "忠诚客户", "价值客户"], dtype="category")
    assert map_codes(labels, rules.LIFECYCLE).astype("str").tolist() == ["new", "loyal", "value"]


def test_contract_vocabularies_match_the_data_contract():
    assert len(rules.OCCUPATION) == 35
    assert set(t for _, t in rules.OCCUPATION.values()) == set(rules.OCCUPATION_TYPE)
    assert [label for label, _ in rules.ASSET_LEVEL_BOUNDS] == list(rules.ASSET_LEVEL)
    assert set(rules.CONTACT_RESULT) == {"成功", "未接通", "考虑中", "拒绝"}


def test_segment_table_has_10_to_12_segments_and_a_catch_all_last():
    ids = [r["id"] for r in rules.SEGMENT_RULES]
    assert 10 <= len(ids) <= 12 and len(set(ids)) == len(ids)
    assert {"S001", "S002", "S003", "S004"} <= set(ids)
    assert rules.SEGMENT_RULES[-1]["when"] == ()
    flags = {f for f, *_ in rules.SEGMENT_FLAGS}
    for rule in rules.SEGMENT_RULES:
        for column, op, _ in rule["when"]:
            assert column in flags and op in rules.OPERATORS


@pytest.mark.parametrize("product", rules.PRODUCTS)
def test_product_weights_sum_to_one_and_use_declared_signals(product):
    weights = rules.PRODUCT_WEIGHTS[product]
    assert sum(weights.values()) == pytest.approx(1.0)
    assert set(weights) <= {name for name, *_ in rules.PRODUCT_SIGNALS}
    assert product in rules.EXPECTED_VALUE and product in rules.PRODUCT_REASONS
