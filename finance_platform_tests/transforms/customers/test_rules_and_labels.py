"""The rule tables are consistent, and Chinese labels map to the documented English codes."""

import duckdb
import pytest

from finance_platform.transforms.customers import rules
from finance_platform.transforms.customers.sql.render import case_map, lit


def _codes(labels, mapping) -> list[str]:
    values = ", ".join(f"({i}, {lit(v)})" for i, v in enumerate(labels))
    sql = f"SELECT {case_map('label', mapping, rules.UNKNOWN)} FROM (VALUES {values}) t(i, label)"
    return [row[0] for row in duckdb.sql(sql + " ORDER BY i").fetchall()]


def test_label_mapping_keeps_order_and_marks_unknown_and_missing():
    codes = _codes(["已婚", "未婚", "离异", None, "已婚"], rules.MARRIAGE)
    assert codes == ["married", "single", "unknown", "unknown", "married"]


def test_literals_read_the_same_on_both_engines():
    assert lit(0.35) == "CAST(0.35 AS DOUBLE)"  # Spark would read 0.35 as DECIMAL
    assert lit("it's") == "'it''s'"
    assert lit(True) == "TRUE" and lit(None) == "NULL" and lit(3) == "3"
    with pytest.raises(ValueError, match="no portable SQL literal"):
        lit(float("nan"))


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
