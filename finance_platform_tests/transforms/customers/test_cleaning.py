"""Cleaning on hand-built frames: every raw row is cleaned, quarantined or a removed duplicate."""

import numpy as np
import pandas as pd
import pytest

from finance_platform.transforms.customers import rules
from finance_platform.transforms.customers.cleaning import (
    CleaningConfig,
    clean_customer_base,
    clean_customer_behavior,
    extra_columns,
    missing_required_columns,
    repeated_keys,
)
from finance_platform.transforms.customers.contract import RAW_CUSTOMER_BASE


def base_row(cid: str, **overrides) -> dict:
    row = {
        "customer_id": cid,
        "name": "张伟",
        "age": "40",
        "gender": "男",
        "occupation": "律师",
        "occupation_type": "专业人士",
        "monthly_income": "30000.00",
        "open_account_date": "2020-01-15",
        "lifecycle_stage": "成熟客户",
        "marriage_status": "已婚",
        "city_level": "一线城市",
        "branch_name": "招商银行上海分行外滩支行",
    }
    row.update(overrides)
    return row


def behavior_row(cid: str, month: str, **overrides) -> dict:
    row = {
        "id": f"{cid}{month}",
        "customer_id": cid,
        "total_assets": 300_000.0,
        "deposit_balance": 200_000.0,
        "financial_balance": 100_000.0,
        "fund_balance": 0.0,
        "insurance_balance": 0.0,
        "asset_level": "50万以下",
        "deposit_flag": 1,
        "financial_flag": 1,
        "fund_flag": 0,
        "insurance_flag": 0,
        "product_count": 2,
        "financial_repurchase_count": 0,
        "credit_card_monthly_expense": 5000.0,
        "investment_monthly_count": 1,
        "app_login_count": 10,
        "app_financial_view_time": 30,
        "app_product_compare_count": 1,
        "last_app_login_time": f"{month}-10 08:00:00",
        "last_contact_time": f"{month}-05 09:00:00",
        "contact_result": "成功",
        "marketing_cool_period": f"{month}-20",
        "stat_month": month,
    }
    row.update(overrides)
    return row


def test_base_quarantines_bad_rows_with_reasons_and_accounts_for_every_row():
    raw = pd.DataFrame(
        [
            base_row("a"),
            base_row("a"),  # duplicate key: removed, counted
            base_row("b", age="17"),  # below 18
            base_row("c", age="101"),  # above 100
            base_row("d", open_account_date="15/01/2020"),  # no format the bank uses
            base_row("e", monthly_income="12,000"),  # not a number
            base_row("", age="30"),  # empty key
            base_row("f", age="100", marriage_status="离异"),  # valid; unknown label kept
            base_row("g", open_account_date="2020/01/16"),  # other exports: read
            base_row("h", open_account_date="20200117"),
        ],
        dtype="str",
    )
    result = clean_customer_base(raw)
    assert result.cleaned["customer_id"].tolist() == ["a", "f", "g", "h"]
    reasons = dict(
        zip(
            result.quarantine["customer_id"].fillna(""),
            result.quarantine["quarantine_reason"],
            strict=True,
        )
    )
    assert reasons == {
        "b": rules.REASON_AGE,
        "c": rules.REASON_AGE,
        "d": "bad_date:open_account_date",
        "e": "bad_number:monthly_income",
        "": rules.REASON_EMPTY_KEY,
    }
    assert result.duplicates_removed == 1
    assert result.raw_rows == 10 == len(result.cleaned) + len(result.quarantine) + 1
    assert "name" not in result.quarantine.columns  # PII never leaves the cleaned table
    cleaned = result.cleaned.set_index("customer_id")
    assert (
        cleaned.loc["a", "gender_code"] == "male" and cleaned.loc["a", "lifecycle_code"] == "mature"
    )
    assert cleaned.loc["a", "marriage_status"] == "已婚"  # label kept
    assert cleaned.loc["f", "marriage_code"] == "unknown"
    assert cleaned["age"].dtype == "int64"
    assert str(cleaned.loc["a", "open_account_date"].date()) == "2020-01-15"
    assert str(cleaned.loc["g", "open_account_date"].date()) == "2020-01-16"
    assert str(cleaned.loc["h", "open_account_date"].date()) == "2020-01-17"


def test_a_clean_delivery_quarantines_nothing_and_its_empty_quarantine_is_typed_text():
    """The bank's real file has no bad row: the path every planted-defect test skipped."""
    import pyarrow as pa

    raw = pd.DataFrame([base_row("a"), base_row("b", monthly_income="99948.90")], dtype="str")
    result = clean_customer_base(raw)
    assert len(result.quarantine) == 0 and result.reasons == {} and result.balanced
    schema = pa.Table.from_pandas(result.quarantine, preserve_index=False).schema
    assert {str(t) for t in schema.types} <= {"string", "large_string"}, schema
    assert "quarantine_reason" in schema.names


def test_lines_that_did_not_split_are_quarantined_as_malformed_without_the_name():
    raw = pd.DataFrame([base_row("a")], dtype="str")
    cut = pd.DataFrame([{"customer_id": "b", "age": "41", "gender": "女"}], dtype="str")
    result = clean_customer_base(raw, malformed=cut)
    assert result.cleaned["customer_id"].tolist() == ["a"]
    assert result.quarantine["customer_id"].tolist() == ["b"]
    assert result.quarantine["quarantine_reason"].tolist() == [rules.REASON_MALFORMED]
    assert result.quarantine["age"].tolist() == ["41"]
    assert result.raw_rows == 2 and result.reasons == {rules.REASON_MALFORMED: 1}
    assert "name" not in result.quarantine.columns


def test_age_range_is_configuration():
    raw = pd.DataFrame([base_row("a", age="20"), base_row("b", age="70")], dtype="str")
    result = clean_customer_base(raw, CleaningConfig(age_min=25, age_max=65))
    assert result.cleaned["customer_id"].tolist() == []
    assert result.reasons == {rules.REASON_AGE: 2}


def test_missing_required_column_is_named():
    raw = pd.DataFrame([base_row("a")]).drop(columns=["lifecycle_stage"])
    with pytest.raises(KeyError, match="lifecycle_stage"):
        clean_customer_base(raw)


def test_schema_drift_helpers():
    columns = RAW_CUSTOMER_BASE.columns
    header = ["customer_id", "create_time", *columns[1:6], "update_time"]
    assert extra_columns(header, columns) == ["create_time", "update_time"]
    assert missing_required_columns(header, columns) == list(columns[6:])


def test_behavior_rules_duplicates_negative_dates_and_contact_flag():
    raw = pd.DataFrame(
        [
            behavior_row("a", "2025-05"),
            behavior_row("a", "2025-06"),
            behavior_row("a", "2025-06"),  # duplicate (customer_id, stat_month)
            behavior_row("b", "2025-06", deposit_balance=-5.0),
            behavior_row("c", "2025-06", last_app_login_time="2025/06/10 08:00"),
            behavior_row(
                "h",
                "2025/06",
                last_app_login_time="2025/06/10 08:00:00",
                last_contact_time="20250605 09:00:00",
                marketing_cool_period="20250620",
            ),
            behavior_row("d", "2025-06", contact_result=None, last_contact_time=None),
            behavior_row("e", "2025-06", contact_result=None),
            behavior_row("f", "2025-13"),
            behavior_row("g", "2025-06", last_contact_time="yesterday"),
        ]
    )
    result = clean_customer_behavior(raw)
    assert result.duplicates_removed == 1
    got = dict(
        zip(result.quarantine["customer_id"], result.quarantine["quarantine_reason"], strict=True)
    )
    assert got == {
        "b": rules.REASON_NEGATIVE,
        "c": "bad_date:last_app_login_time",
        "f": "bad_date:stat_month",
        "g": "bad_date:last_contact_time",
    }
    cleaned = result.cleaned.set_index(["customer_id", "stat_month"])
    assert result.balanced and len(cleaned) == 5
    # documented rule: empty result + no contact time = no_contact; empty result + time = unknown
    assert cleaned.loc[("d", "2025-06"), "contact_result_code"] == rules.NO_CONTACT
    assert cleaned.loc[("e", "2025-06"), "contact_result_code"] == rules.UNKNOWN
    assert cleaned.loc[("a", "2025-06"), "contact_result_code"] == "success"
    assert cleaned["contact_result_missing"].tolist() == [False, False, False, True, True]
    assert cleaned.loc[("a", "2025-06"), "month_index"] == (2025 - 1970) * 12 + 5
    # another export's formats read as the same month and login time
    assert cleaned.loc[("h", "2025/06"), "month_index"] == (2025 - 1970) * 12 + 5
    assert str(cleaned.loc[("h", "2025/06"), "last_app_login_time"]) == "2025-06-10 08:00:00"


def test_text_numbers_that_do_not_parse_are_quarantined():
    rows = [behavior_row("a", "2025-06"), behavior_row("b", "2025-06", app_login_count="ten")]
    raw = pd.DataFrame(rows).astype("str")
    result = clean_customer_behavior(raw)
    assert result.cleaned["customer_id"].tolist() == ["a"]
    assert result.quarantine["quarantine_reason"].tolist() == ["bad_number:app_login_count"]
    assert result.cleaned["app_login_count"].dtype == "int64"


def history(cid: str, assets: list[float]) -> list[dict]:
    """Monthly rows of one customer, 2024-07 onwards, with the given total assets."""
    months = pd.period_range("2024-07", periods=len(assets), freq="M").astype(str)
    return [
        behavior_row(cid, m, total_assets=v, deposit_balance=v, financial_balance=0.0)
        for m, v in zip(months, assets, strict=True)
    ]


def test_a_month_far_off_the_customers_own_history_is_quarantined_as_a_data_error():
    rng = np.random.default_rng(0)
    steady = (300_000 * np.exp(np.cumsum(rng.normal(0, 0.03, 12)))).round(2).tolist()
    unit_error = list(steady)
    unit_error[6] = round(unit_error[6] * 100, 2)  # fen exported as yuan
    rows = history("steady", steady) + history("error", unit_error)
    result = clean_customer_behavior(pd.DataFrame(rows))
    assert result.quarantine["customer_id"].tolist() == ["error"]
    assert result.quarantine["stat_month"].tolist() == ["2025-01"]
    assert result.quarantine["quarantine_reason"].tolist() == [
        f"{rules.REASON_OUTLIER}:total_assets"
    ]
    assert len(result.cleaned) == 23 and result.balanced


def test_rich_small_and_changing_customers_are_kept_and_extremes_only_counted():
    rng = np.random.default_rng(1)
    rows = []
    for i in range(60):  # an ordinary population
        level = np.exp(rng.normal(np.log(300_000), 0.3))
        rows += history(f"c{i}", (level * np.exp(rng.normal(0, 0.02, 6))).round(2).tolist())
    rows += history("rich", [7.7e6, 7.71e6, 7.69e6, 7.72e6, 7.7e6, 7.73e6])
    rows += history("small", [7_900.0, 7_950.0, 7_880.0, 7_910.0, 7_930.0, 7_905.0])
    rows += history("doubling", [100_000.0 * 2 ** (m / 5) for m in range(6)])  # steady rise
    rows += history("inheritance", [200_000.0] * 3 + [900_000.0] * 3)  # a lasting change
    rows += history("new", [5e9, 5.1e9])  # too short a history to judge
    result = clean_customer_behavior(pd.DataFrame(rows))
    assert len(result.quarantine) == 0, result.quarantine
    extremes = result.extremes["total_assets"]
    assert extremes["rows"] >= 8 and extremes["customers"] >= 2  # new and rich, at least
    assert extremes["high"] < 7.7e6 and extremes["low"] > 0


def test_the_sigma_of_the_own_history_rule_is_configuration():
    months = [300_000.0, 303_000.0, 297_000.0, 301_000.0, 299_500.0, 900_000.0]  # 3x jump
    rows = history("jump", months)
    assert len(clean_customer_behavior(pd.DataFrame(rows)).quarantine) == 1
    lax = clean_customer_behavior(pd.DataFrame(rows), CleaningConfig(sigma=1e6))
    assert len(lax.quarantine) == 0


@pytest.mark.parametrize("max_slots", [1 << 26, 10])  # dense grid, and the hashing fallback
def test_repeated_keys_keeps_the_first_occurrence_in_file_order(max_slots):
    codes = np.array([0, 1, 0, 0, -1, -1, 2, 1, 0, 2])
    months = np.array([5, 5, 5, 6, 5, 5, -1, 5, -1, -1])
    got = repeated_keys(codes, months, max_slots=max_slots)
    #                  (0,5) (1,5) (0,5) (0,6) (-,5) (-,5) (2,?) (1,5) (0,?) (2,?)
    assert got.tolist() == [False, False, True, False, False, True, False, True, False, True]

    rng = np.random.default_rng(3)
    codes = rng.integers(-1, 500, 20_000)
    months = np.where(rng.random(20_000) < 0.01, -1, rng.integers(600, 640, 20_000))
    want = pd.Series(list(zip(codes, months, strict=True))).duplicated(keep="first").to_numpy()
    assert np.array_equal(repeated_keys(codes, months, max_slots=max_slots), want)
    assert repeated_keys(np.array([], dtype=np.int64), np.array([], dtype=np.int64)).size == 0
