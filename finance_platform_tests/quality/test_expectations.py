"""The generic Great Expectations runner and the market suite's rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finance_platform.quality.expectations import expectation_specs, run_suite
from finance_platform.transforms.quotes import parse_daily_reply
from finance_platform_tests.market.replay_server import IBM_COMPACT, fixture_bytes

SUITE = "stock_data_suite.json"


@pytest.fixture(scope="module")
def ibm() -> pd.DataFrame:
    return parse_daily_reply(fixture_bytes(IBM_COMPACT), "IBM")


def test_suite_declares_the_users_rules_with_unique_check_names():
    specs = {s.check_name: s for s in expectation_specs(SUITE)}
    assert specs["high_non_negative"].kwargs["min_value"] == 0
    assert specs["trade_date_not_null"].type == "expect_column_values_to_not_be_null"
    rows = specs["row_count_between_1_and_10000"].kwargs
    assert (rows["min_value"], rows["max_value"]) == (1, 10000)
    assert specs["no_duplicate_symbol_date"].kwargs["column_list"] == ["symbol", "trade_date"]
    assert all(s.blocking and s.severity == "ERROR" for s in specs.values())


@pytest.mark.slow
def test_recorded_reply_passes_and_bad_bars_are_named(ibm):
    good = run_suite(SUITE, ibm)
    assert good.success
    assert good.by_check_name()["row_count_between_1_and_10000"].observed["observed_value"] == 100

    bad = ibm.copy()
    bad.loc[0, "high"] = np.inf  # not finite
    bad.loc[1, "low"] = 200.0  # low above open and close
    bad.loc[2, "volume"] = -5
    bad.loc[3, "trade_date"] = pd.NaT
    bad = pd.concat([bad, bad.iloc[[10]]], ignore_index=True)  # duplicate (symbol, date)
    outcome = run_suite(SUITE, bad)
    failed = {o.check_name for o in outcome.outcomes if not o.success}
    assert failed == {
        "high_non_negative",
        "open_at_least_low",
        "close_at_least_low",
        "volume_non_negative",
        "trade_date_not_null",
        "no_duplicate_symbol_date",
    }
    high = outcome.by_check_name()["high_non_negative"]
    assert high.observed["unexpected_count"] == 1
    assert outcome.raw["statistics"]["unsuccessful_expectations"] == 6


@pytest.mark.slow
def test_runner_is_generic_for_any_suite_and_frame():
    suite = {
        "name": "tiny",
        "expectations": [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "age", "min_value": 18, "max_value": 100},
                "meta": {"severity": "WARN"},
            },
        ],
    }
    outcome = run_suite(suite, pd.DataFrame({"age": [17, 30, 40]}))
    (only,) = outcome.outcomes
    assert only.check_name == "column_values_to_be_between__age"
    assert only.spec.severity == "WARN" and only.spec.blocking is False
    assert not only.success and only.observed["unexpected_count"] == 1


def test_check_names_must_be_unique():
    suite = {
        "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
        ]
    }
    with pytest.raises(ValueError, match="unique"):
        expectation_specs(suite)


def test_great_expectations_loads_without_pyspark_which_stays_importable():
    """GE skips its PySpark import (0.8 s) for pandas suites; the Spark engine can still load it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from finance_platform.quality.expectations import import_great_expectations\n"
        "gx = import_great_expectations()\n"
        "assert gx.__name__ == 'great_expectations'\n"
        "assert 'pyspark' not in sys.modules, 'GE imported PySpark'\n"
        "import pyspark.sql\n"
        "print('ok', pyspark.sql.SparkSession.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok SparkSession"
