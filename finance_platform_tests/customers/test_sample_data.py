"""The generator writes the contract's format, distributions and defects, at the stated rates."""

import datetime as dt

import numpy as np
import pyarrow.csv as pacsv
import pytest

from finance_platform.sample_data import DefectRates, generate
from finance_platform.sample_data.__main__ import main
from finance_platform.transforms.customers import contract, rules


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    out = tmp_path_factory.mktemp("raw")
    paths = generate(out, customers=2_000, months=12, seed=5, delivery_date=dt.date(2025, 7, 3))
    opts = pacsv.ConvertOptions(strings_can_be_null=True)
    read = {k: pacsv.read_csv(p, convert_options=opts).to_pandas() for k, p in paths.items()}
    return paths, read


def test_file_names_order_deliveries_and_headers_match_the_contract(files):
    paths, read = files
    assert paths["customer_base"].name == "customer_base_20250703.csv"
    assert paths["customer_behavior_assets"].name == "customer_behavior_assets_20250703.csv"
    assert tuple(read["customer_base"].columns) == contract.RAW_CUSTOMER_BASE.columns
    assert tuple(read["customer_behavior_assets"].columns) == contract.RAW_CUSTOMER_BEHAVIOR.columns
    first = paths["customer_base"].read_text(encoding="utf-8").splitlines()[1]
    assert '"' not in first and not first.startswith("\ufeff")


def test_values_follow_the_contract(files):
    _, read = files
    base, beh = read["customer_base"], read["customer_behavior_assets"]
    assert base["customer_id"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert set(base["gender"]) == {"男", "女"}
    assert set(base["lifecycle_stage"]) <= set(rules.LIFECYCLE)
    assert set(base["occupation"]) <= set(rules.OCCUPATION)
    assert beh["stat_month"].nunique() == 12 and beh["stat_month"].max() == "2025-06"
    clean = beh[beh["deposit_balance"] >= 0]
    parts = clean[list(rules.BALANCE_COLUMNS[1:])].sum(axis=1)
    assert np.allclose(parts, clean["total_assets"], atol=0.05)
    bounds = np.array([b for _, b in rules.ASSET_LEVEL_BOUNDS][1:])
    levels = np.array(list(rules.ASSET_LEVEL))

    def level(total):
        return levels[np.searchsorted(bounds, total, "right")]

    agrees = clean["asset_level"].to_numpy() == level(clean["total_assets"])
    # the exceptions are the planted unit errors: 100x amounts beside the true level
    unit = clean[~agrees]
    assert (unit["asset_level"].to_numpy() == level(unit["total_assets"] / 100)).all()
    assert 0 < len(unit) <= 0.002 * len(beh)
    assert beh["total_assets"].mean() > 1.3 * beh["total_assets"].median()  # right-skewed
    missing = beh["contact_result"].isna().mean()
    assert 0.17 < missing < 0.23
    assert (beh["contact_result"].isna() == beh["last_contact_time"].isna()).all()


def test_defects_appear_at_configured_rates(files):
    _, read = files
    base, beh = read["customer_base"], read["customer_behavior_assets"]
    assert base["customer_id"].duplicated().sum() == 10  # 0.5% of 2,000
    assert beh.duplicated(["customer_id", "stat_month"]).sum() == 120  # 0.5% of 24,000
    assert ((base["age"] < 18) | (base["age"] > 100)).sum() > 0
    assert (beh["deposit_balance"] < 0).sum() > 0


def test_zero_defect_rates_give_clean_files(tmp_path):
    paths = generate(
        tmp_path,
        customers=300,
        months=2,
        seed=1,
        delivery_date=dt.date(2025, 1, 2),
        defects=DefectRates.none(),
    )
    base = pacsv.read_csv(paths["customer_base"]).to_pandas()
    beh = pacsv.read_csv(paths["customer_behavior_assets"]).to_pandas()
    assert base["customer_id"].is_unique and base["age"].between(18, 100).all()
    assert (beh["deposit_balance"] >= 0).all()
    assert len(beh) == 600
    assert beh["total_assets"].max() < 7_700_000 * 1.2  # no unit error


def test_behaviour_for_an_existing_customer_file(tmp_path):
    """``--base``: rows for the customers of a file the generator did not write."""
    base = tmp_path / "customer_base.csv"
    header = ",".join(contract.RAW_CUSTOMER_BASE.columns)
    rows = [
        "a" * 32 + ",王伟,40,男,律师,专业人士,50000.00,2019-08-22,新客户,已婚,一线城市,某支行",
        "b" * 32 + ",李娜,33,女,教师,事业单位,8017.02,2021-01-05,成长客户,未婚,二线城市,某支行",
        "a" * 32 + ",王伟,40,男,律师,专业人士,50000.00,2019-08-22,新客户,已婚,一线城市,某支行",
    ]
    base.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    before = base.read_bytes()
    paths = generate(
        tmp_path / "raw", months=3, seed=2, delivery_date=dt.date(2025, 7, 1), base_file=base
    )
    assert paths["customer_base"] == base and base.read_bytes() == before  # left as is
    beh = pacsv.read_csv(paths["customer_behavior_assets"]).to_pandas()
    assert sorted(set(beh["customer_id"])) == ["a" * 32, "b" * 32]
    assert set(beh["stat_month"]) == {"2025-04", "2025-05", "2025-06"}


def test_cli_writes_a_delivery(tmp_path, capsys):
    assert (
        main(
            [
                "--customers",
                "50",
                "--months",
                "2",
                "--seed",
                "3",
                "--out",
                str(tmp_path),
                "--delivery-date",
                "2025-02-01",
            ]
        )
        == 0
    )
    assert (tmp_path / "customer_base" / "customer_base_20250201.csv").exists()
    assert "50 customers x 2 months" in capsys.readouterr().out
