"""The customer rules on hand-built rows whose right answers can be stated, on both engines.

Every case runs the real SQL stage (``transforms/customers/sql``) on DuckDB and on local
Spark (sqlglot's translation) from the same in-memory inputs: one definition, two engines,
the same answer, including on the text each engine's own casts read differently.
"""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa
import pytest

from finance_platform.transforms.customers import contract, rules
from finance_platform.transforms.customers.sql import duckdb_engine, spark_engine, steps
from finance_platform.transforms.customers.sql.cleaning import (
    CleaningConfig,
    clean_base,
    clean_behavior,
)
from finance_platform.transforms.customers.sql.features import behavior_metrics, customer_features
from finance_platform.transforms.customers.sql.recommendations import (
    marketing_targets,
    product_recommendations,
)
from finance_platform.transforms.customers.sql.segments import customer_segments, segment_profiles


@pytest.fixture(
    params=["duckdb", pytest.param("spark", marks=[pytest.mark.spark, pytest.mark.slow])]
)
def run(request):
    """``run(stage, inputs) -> {view: list of row dicts}`` on the parametrized engine."""
    if request.param == "duckdb":

        def on_duckdb(stage, inputs):
            return {k: v.to_pylist() for k, v in duckdb_engine.run_on_tables(stage, inputs).items()}

        return on_duckdb
    from finance_platform.spark_jobs.session import local_session

    spark = local_session(master="local[2]", driver_memory="1g", shuffle_partitions=2)

    def on_spark(stage, inputs):
        tables = spark_engine.run_on_tables(spark, stage, inputs)
        return {k: v.to_pylist() for k, v in tables.items()}

    return on_spark


def raw(delivery: contract.Delivery, rows: list[dict], order: list[int] | None = None) -> pa.Table:
    """Delivered lines as the readers give them: text, ``_row`` (file order), ``_malformed``.

    ``order``: the ``_row`` of each line, when the engine is to meet them out of file order.
    """
    data = {
        c: [None if r.get(c) in (None, "") else str(r[c]) for r in rows] for c in delivery.columns
    }
    table = pa.table({c: pa.array(v, type=pa.string()) for c, v in data.items()})
    table = table.append_column("_row", pa.array(order or range(1, len(rows) + 1), pa.int64()))
    malformed = [bool(r.get("_malformed")) for r in rows]
    return table.append_column("_malformed", pa.array(malformed, pa.bool_()))


def customer(cid: str, **fields) -> dict:
    row = {
        "customer_id": cid,
        "name": "王丹",
        "age": "40",
        "gender": "男",
        "occupation": "律师",
        "occupation_type": "专业人士",
        "monthly_income": "30000.00",
        "open_account_date": "2015-07-01",
        "lifecycle_stage": "成熟客户",
        "marriage_status": "已婚",
        "city_level": "一线城市",
        "branch_name": "招商银行上海分行外滩支行",
    }
    return row | fields


def month(cid: str, stat_month: str, assets: float = 100_000.0, **fields) -> dict:
    row = {
        "id": f"{cid}-{stat_month}",
        "customer_id": cid,
        "total_assets": f"{assets:.2f}",
        "deposit_balance": f"{assets / 2:.2f}",
        "financial_balance": f"{assets / 4:.2f}",
        "fund_balance": f"{assets / 8:.2f}",
        "insurance_balance": f"{assets / 8:.2f}",
        "asset_level": "50万以下",
        "deposit_flag": "1",
        "financial_flag": "1",
        "fund_flag": "1",
        "insurance_flag": "0",
        "product_count": "3",
        "financial_repurchase_count": "1",
        "credit_card_monthly_expense": "5000.00",
        "investment_monthly_count": "2",
        "app_login_count": "10",
        "app_financial_view_time": "30",
        "app_product_compare_count": "1",
        "last_app_login_time": f"{stat_month}-20 10:00:00",
        "last_contact_time": "",
        "contact_result": "",
        "marketing_cool_period": "2025-01-01",
        "stat_month": stat_month,
    }
    return row | fields


def _by(rows: list[dict], key: str) -> dict:
    return {r[key]: r for r in rows}


# -- cleaning ---------------------------------------------------------------------------------
def test_base_rows_go_to_exactly_one_place_with_the_first_failing_rule(run):
    rows = [
        customer("a"),
        customer(" ", name="李四"),  # blank key
        customer("a", age="41"),  # a later repeat of a: removed, counted
        customer("b", age="abc"),
        customer("c", age="17"),
        customer("d", monthly_income="-1"),
        customer("e", open_account_date="2015-7-1"),  # DuckDB alone would read it
        customer("f", age="4_0"),  # DuckDB alone would read it
        customer("g", monthly_income="30000d"),  # Spark (Java) alone would read it
        customer("h", _malformed=True, branch_name=None),
        customer(" i ", monthly_income=" 1e3 "),  # blanks around, an exponent: fine
    ]
    out = run(
        clean_base(CleaningConfig(), "customer_base_20250701.csv"),
        {"raw_customer_base": raw(contract.RAW_CUSTOMER_BASE, rows)},
    )
    cleaned = _by(out["cleaned_customer_base"], "customer_id")
    assert set(cleaned) == {"a", "i"}
    assert cleaned["a"]["age"] == 40 and cleaned["a"]["gender_code"] == "male"
    assert cleaned["a"]["occupation_code"] == "lawyer"
    assert cleaned["a"]["open_account_date"] == dt.date(2015, 7, 1)
    assert cleaned["i"]["monthly_income"] == 1000.0
    reasons = {r["customer_id"]: r["quarantine_reason"] for r in out["quarantine_customer_base"]}
    assert reasons == {
        " ": rules.REASON_EMPTY_KEY,
        "b": "bad_number:age",
        "c": rules.REASON_AGE,
        "d": rules.REASON_NEGATIVE,
        "e": "bad_date:open_account_date",
        "f": "bad_number:age",
        "g": "bad_number:monthly_income",
        "h": rules.REASON_MALFORMED,
    }
    assert all("name" not in r for r in out["quarantine_customer_base"])
    assert {r["delivery"] for r in out["quarantine_customer_base"]} == {
        "customer_base_20250701.csv"
    }
    (accounting,) = out["cleaned_customer_base_accounting"]
    assert accounting == {"raw_rows": 11, "quarantined_rows": 8, "duplicates_removed": 1}


def test_the_age_range_is_configuration(run):
    rows = [customer("a", age="17"), customer("b", age="101")]
    stage = clean_base(CleaningConfig(age_min=16, age_max=101), "f.csv")
    out = run(stage, {"raw_customer_base": raw(contract.RAW_CUSTOMER_BASE, rows)})
    assert {r["customer_id"] for r in out["cleaned_customer_base"]} == {"a", "b"}


def test_behaviour_keeps_the_first_line_of_a_repeated_month_in_file_order(run):
    # the engine meets the lines in table order; file order is _row: 3, 1, 2
    rows = [month("a", "2025-06", 3.0), month("a", "2025-06", 1.0), month("a", "2025/06", 2.0)]
    stage = clean_behavior(CleaningConfig(), "b.csv")
    out = run(
        stage,
        {"raw_customer_behavior_assets": raw(contract.RAW_CUSTOMER_BEHAVIOR, rows, [3, 1, 2])},
    )
    (kept,) = out["cleaned_customer_behavior"]
    assert kept["total_assets"] == 1.0 and kept["stat_month"] == "2025-06"
    assert out["cleaned_customer_behavior_accounting"][0]["duplicates_removed"] == 2


def test_behaviour_reasons_contact_codes_and_formats(run):
    rows = [
        month("a", "2025-05", last_contact_time="2025-05-02 09:00:00", contact_result="拒绝"),
        # a compact month; a blank result and no contact time
        month("a", "202506", contact_result=" ", last_app_login_time="2025-06-20 10:00:00"),
        month("b", "2025-06", last_contact_time="2025/06/03 08:00:00"),  # a contact, no result
        month("c", "2025-06", deposit_balance="-5.00"),
        month("d", "2025-06", app_login_count="2.5"),
        month("e", "2025-06", last_app_login_time="2025-06-31 10:00:00"),
        month("f", "2025-13"),
        month("g", "", _malformed=False),
    ]
    out = run(
        clean_behavior(CleaningConfig(), "b.csv"),
        {"raw_customer_behavior_assets": raw(contract.RAW_CUSTOMER_BEHAVIOR, rows)},
    )
    cleaned = {(r["customer_id"], r["stat_month"]): r for r in out["cleaned_customer_behavior"]}
    assert cleaned["a", "2025-05"]["contact_result_code"] == "refused"
    assert cleaned["a", "2025-06"]["contact_result_code"] == rules.NO_CONTACT
    assert cleaned["a", "2025-06"]["contact_result_missing"] is True
    assert cleaned["b", "2025-06"]["contact_result_code"] == rules.UNKNOWN
    assert cleaned["b", "2025-06"]["last_contact_time"] == dt.datetime(2025, 6, 3, 8)
    assert cleaned["a", "2025-06"]["month_index"] == (2025 - 1970) * 12 + 5
    reasons = {
        r["customer_id"]: r["quarantine_reason"] for r in out["quarantine_customer_behavior"]
    }
    assert reasons == {
        "c": rules.REASON_NEGATIVE,
        "d": "bad_number:app_login_count",
        "e": "bad_date:last_app_login_time",
        "f": "bad_date:stat_month",
        "g": rules.REASON_EMPTY_KEY,
    }
    missing = {r["column_name"]: r["empty_rows"] for r in out["cleaned_customer_behavior_missing"]}
    assert missing["contact_result"] == 6 and missing["stat_month"] == 1


def test_a_month_far_off_the_customers_own_history_is_an_outlier_and_a_rise_is_not(run):
    steady = [month("a", f"2025-0{m}", 100_000.0 + m) for m in range(1, 7)]
    unit_error = [month("b", f"2025-0{m}", 100_000.0) for m in range(1, 6)]
    unit_error.append(month("b", "2025-06", 10_000_000.0))  # fen for yuan
    rising = [month("c", f"2025-0{m}", 100_000.0 * 1.3**m) for m in range(1, 7)]
    out = run(
        clean_behavior(CleaningConfig(), "b.csv"),
        {
            "raw_customer_behavior_assets": raw(
                contract.RAW_CUSTOMER_BEHAVIOR, steady + unit_error + rising
            )
        },
    )
    quarantined = [
        (r["customer_id"], r["stat_month"], r["quarantine_reason"])
        for r in out["quarantine_customer_behavior"]
    ]
    assert quarantined == [("b", "2025-06", "outlier_own_history:total_assets")]
    assert len(out["cleaned_customer_behavior"]) == 17


# -- features -----------------------------------------------------------------------------
def _cleaned(run, customers: list[dict], months: list[dict]) -> dict[str, pa.Table]:
    base = run(
        clean_base(CleaningConfig(), "a.csv"),
        {"raw_customer_base": raw(contract.RAW_CUSTOMER_BASE, customers)},
    )
    behavior = run(
        clean_behavior(CleaningConfig(), "b.csv"),
        {"raw_customer_behavior_assets": raw(contract.RAW_CUSTOMER_BEHAVIOR, months)},
    )
    return {
        name: pa.Table.from_pylist(rows)
        for name, rows in (base | behavior).items()
        if name in contract.TABLES or name in contract.QUARANTINES
    }


def test_current_view_scores_and_status(run):
    customers = [
        customer("a", lifecycle_stage="新客户", open_account_date="2023-06-30"),
        customer("b"),
        customer("c"),
    ]
    months = [
        month("a", "2025-04", app_login_count="30", investment_monthly_count="6"),
        month("a", "2025-05", app_login_count="30", investment_monthly_count="6"),
        month(
            "a",
            "2025-06",
            app_login_count="0",
            investment_monthly_count="0",
            last_app_login_time="2025-06-30 00:00:00",
        ),
        month("b", "2025-05"),
        month("b", "2025-06", deposit_balance="-1"),  # quarantined: b's view is stale
    ]
    tables = _cleaned(run, customers, months)
    out = run(customer_features(), tables)
    features = _by(out["customer_features"], "customer_id")
    a, b, c = features["a"], features["b"], features["c"]
    assert a["as_of_date"] == dt.date(2025, 6, 30) and a["latest_stat_month"] == "2025-06"
    assert a["tenure_years"] == 2.0 and a["lifecycle_score"] == 23.0  # new: 20 + 2 years x 1.5
    assert a["avg_logins_3m"] == 20.0 and a["days_since_login"] == 0.0 and a["recency_score"] == 1.0
    assert a["current_view_status"] == rules.VIEW_CURRENT and a["cool_period_known"] is True
    assert b["current_view_status"] == rules.VIEW_STALE and b["latest_raw_stat_month"] == "2025-06"
    assert b["cool_period_known"] is False
    assert c["has_behavior"] is False and c["current_view_status"] == rules.VIEW_MISSING
    assert c["total_assets"] == 0.0 and c["contact_result_code"] == rules.NO_CONTACT
    assert c["latest_stat_month"] is None
    # quantile bins by (log assets, customer_id): c has nothing, a and b the same assets
    assert [features[k]["asset_tier"] for k in "abc"] == [2, 4, 1]


def test_trends_are_relative_slopes_and_averages_of_cents_are_exact(run):
    months = [
        month("a", f"2025-0{m}", 10_000.0 + 1000.0 * m, credit_card_monthly_expense=f"{v:.2f}")
        for m, v in zip(range(1, 7), [0.01, 0.02, 0.01, 0.02, 0.01, 0.02], strict=True)
    ]
    tables = _cleaned(run, [customer("a")], months)
    (metrics,) = run(behavior_metrics(), tables)["behavior_metrics"]
    assert (
        metrics["months_observed"] == 6 and metrics["latest_month_index"] == (2025 - 1970) * 12 + 5
    )
    assert metrics["total_assets_avg_6m"] == 13_500.0
    assert metrics["total_assets_trend_6m"] == round(1000.0 / 13_500.0, 6)  # slope / mean
    assert metrics["total_assets_avg_3m"] == 15_000.0
    # 0.09 / 6 = 0.015 exactly: half a cent, rounded away from zero on every engine
    assert metrics["credit_card_monthly_expense_avg_6m"] == 0.02


# -- segments, recommendations, targets -------------------------------------------------------
SEGMENT_CASES = [
    # customer, assets, engagement, investments, card spend, lifecycle -> expected segment
    ("c01", 2_000_000.0, 80.0, 5, 1_000.0, "mature", "S001"),
    ("c02", 2_000_000.0, 20.0, 5, 1_000.0, "mature", "S002"),
    ("c03", 700_000.0, 70.0, 0, 1_000.0, "mature", "S003"),
    ("c04", 300_000.0, 90.0, 9, 90_000.0, "new", "S004"),
    ("c05", 2_000_000.0, 80.0, 0, 1_000.0, "loyal", "S005"),
    ("c06", 700_000.0, 20.0, 0, 1_000.0, "growth", "S006"),
    ("c07", 100_000.0, 70.0, 0, 20_000.0, "growth", "S007"),
    ("c08", 100_000.0, 70.0, 4, 1_000.0, "growth", "S008"),
    ("c09", 100_000.0, 70.0, 0, 1_000.0, "growth", "S009"),
    ("c10", 100_000.0, 10.0, 0, 20_000.0, "growth", "S010"),
    ("c11", 100_000.0, 10.0, 0, 1_000.0, "growth", "S011"),
    ("c12", 2_000_000.0, 10.0, 0, 1_000.0, "new", "S002"),  # high net worth beats "new"
    ("c13", 1_000_000.0, 50.0, 3, 15_000.0, "value", "S001"),  # thresholds are inclusive
]


def _segment_features() -> pa.Table:
    rows = [
        {
            "customer_id": c,
            "total_assets": a,
            "engagement_score": e,
            "investment_monthly_count": i,
            "credit_card_monthly_expense": s,
            "lifecycle_code": life,
            "lifecycle_score": 50.0,
            "monthly_income": 30_000.0,
            "age": 40,
            "product_count": 2,
        }
        for c, a, e, i, s, life, _expected in SEGMENT_CASES
    ]
    return pa.Table.from_pylist(rows)


def test_each_customer_gets_exactly_the_stated_segment_and_every_segment_a_profile(run):
    features = _segment_features()
    segments = run(customer_segments(), {"customer_features": features})["customer_segments"]
    assert {r["customer_id"]: r["segment_id"] for r in segments} == {
        c[0]: c[-1] for c in SEGMENT_CASES
    }
    s001 = _by(segments, "customer_id")["c01"]
    assert s001["segment_name_en"] == "High-net-worth active investor"
    assert (
        s001["segment_name_zh"] == "高净值活跃投资客户" and "1M" in s001["segment_characteristics"]
    )
    profiles = run(
        segment_profiles(),
        {"customer_segments": pa.Table.from_pylist(segments), "customer_features": features},
    )
    by_id = _by(profiles["segment_profiles"], "segment_id")
    assert set(by_id) == {r["id"] for r in rules.SEGMENT_RULES}  # empty ones too
    assert by_id["S002"]["customers"] == 2 and by_id["S002"]["avg_total_assets"] == 2_000_000.0
    assert sum(p["customers"] for p in by_id.values()) == len(SEGMENT_CASES)


def _offer_inputs(**overrides) -> dict[str, pa.Table]:
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
        "marketing_cool_period": dt.date(2025, 1, 1),
        "cool_period_known": True,
        "current_view_status": rules.VIEW_CURRENT,
    }
    rows = [row | overrides] if "rows" not in overrides else [row | r for r in overrides["rows"]]
    segments = [
        {
            "customer_id": r["customer_id"],
            "segment_id": "S003",
            "segment_name_en": "Mid-tier active",
        }
        for r in rows
    ]
    for r in rows:
        r.pop("rows", None)
    return {
        "customer_features": pa.Table.from_pylist(rows),
        "customer_segments": pa.Table.from_pylist(segments),
    }


def _targets(run, inputs, run_date=dt.date(2025, 6, 1)):
    recs = run(product_recommendations(), inputs)["product_recommendations"]
    out = run(
        marketing_targets(run_date),
        {**inputs, "product_recommendations": pa.Table.from_pylist(recs)},
    )
    return recs, out


def test_wealth_management_score_probability_value_and_priority(run):
    recs, out = _targets(run, _offer_inputs())
    wm = _by(recs, "product")["wealth_management"]
    # deposits 500k (cap) x 0.5 + income 60k (cap) x 0.3 + no wealth product x 0.2 = 1.0
    assert wm["score"] == 100.0
    assert wm["purchase_probability"] == 0.9707  # logistic(6 x 0.5 + 0.5 for a past success)
    assert wm["purchase_probability"] == round(1 / (1 + math.exp(-3.5)), 4)
    assert wm["expected_value"] == 4_000.0 and wm["priority_score"] == 388_280.0
    assert _by(recs, "product")["insurance"]["score"] == 35.0  # single, insured: income only
    (target,) = out["marketing_targets"]
    assert target["recommended_product"] == "wealth_management" and target["target_rank"] == 1
    assert target["recommended_product_zh"] == "理财产品" and "deposits" in target["reason"]
    assert target["run_date"] == dt.date(2025, 6, 1)


@pytest.mark.parametrize(
    ("cool_until", "targeted"), [(dt.date(2025, 6, 2), False), (dt.date(2025, 6, 1), True)]
)
def test_the_cool_period_excludes_a_customer_until_its_date(run, cool_until, targeted):
    _recs, out = _targets(run, _offer_inputs(marketing_cool_period=cool_until))
    assert (len(out["marketing_targets"]) == 1) is targeted
    if not targeted:
        assert out["marketing_targets_excluded"] == [
            {"reason": "cool_period", "current_view_status": "current", "customers": 1}
        ]


def test_unknown_cool_periods_are_not_targeted_and_ranks_break_ties_by_id(run):
    rows = [
        {"customer_id": "b"},
        {"customer_id": "a"},
        {
            "customer_id": "stale",
            "cool_period_known": False,
            "current_view_status": rules.VIEW_STALE,
        },
    ]
    _recs, out = _targets(run, _offer_inputs(rows=rows))
    assert [(t["target_rank"], t["customer_id"]) for t in out["marketing_targets"]] == [
        (1, "a"),
        (2, "b"),
    ]
    assert out["marketing_targets_excluded"] == [
        {"reason": "unknown_cool_period", "current_view_status": "stale", "customers": 1}
    ]


def test_every_stage_the_registry_knows_writes_its_contract_columns():
    params = {
        "deliveries": {"customer_base": "raw/a.csv", "customer_behavior_assets": "raw/b.csv"},
        "run_date": "2025-06-01",
    }
    for table in steps.STAGES:
        stage = steps.stage_for(table, params)
        views = {v.name for v in stage.views}
        for written in steps.written_tables(table):
            assert written.name in stage.outputs and written.name in views
