"""Settings: local defaults, overrides, and clear errors on bad values."""

import datetime as dt

import pytest

from finance_platform.settings import (
    DEFAULT_SYMBOLS,
    OFFICIAL_ALPHAVANTAGE_URL,
    ConfigError,
    load_alpha_vantage_settings,
    load_settings,
    secret_values,
)


def test_local_defaults(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("FINANCE_LAKE_ROOT")
    monkeypatch.delenv("FINANCE_WAREHOUSE_PATH")
    s = load_settings()
    assert s.env == "local" and s.is_local
    assert s.engine == "local"
    assert s.local_memory_bytes == 4 * 1024**3
    assert s.lake_root == "./.lake"
    assert s.warehouse_path == ".lake/warehouse.duckdb"
    assert s.symbols == DEFAULT_SYMBOLS
    assert s.quotes_start == dt.date(2020, 1, 1)


def test_symbols_override_is_normalised_and_deduplicated(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FINANCE_SYMBOLS", " ibm, AAPL ,IBM,")
    assert load_settings().symbols == ("IBM", "AAPL")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FINANCE_ENV", "staging", "FINANCE_ENV='staging' is not one of local, prod"),
        ("FINANCE_ENGINE", "dask", "FINANCE_ENGINE='dask'"),
        ("FINANCE_QUOTES_START", "01/01/2020", "not a date in YYYY-MM-DD"),
        ("FINANCE_SYMBOLS", "IBM;DROP TABLE", "comma-separated tickers"),
    ],
)
def test_bad_values_fail_with_the_variable_named(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_settings()


def test_alpha_vantage_defaults_are_the_official_endpoint_and_the_sandbox_plan():
    s = load_alpha_vantage_settings({})
    assert s.base_url == OFFICIAL_ALPHAVANTAGE_URL and s.plan == "auto"
    assert s.secret_id == "finance-platform/alphavantage-api-key"
    assert not s.key_is_set and s.limiter_state_dir is None


def test_alpha_vantage_settings_know_whether_a_key_is_set_never_its_value():
    s = load_alpha_vantage_settings(
        {
            "ALPHAVANTAGE_API_KEY": "CANARY-KEY-51",
            "ALPHAVANTAGE_PLAN": " Premium ",
            "ALPHAVANTAGE_BASE_URL": "http://127.0.0.1:8765/query",
            "ALPHAVANTAGE_SECRET_ID": "bank/av",
            "DAGSTER_HOME": "/srv/dagster",
        }
    )
    assert s.key_is_set and "CANARY-KEY-51" not in repr(s)
    assert (s.plan, s.secret_id) == ("premium", "bank/av")
    assert s.base_url == "http://127.0.0.1:8765/query"
    assert s.limiter_state_dir == "/srv/dagster/alpha_vantage_limits"


def test_secret_values_are_read_for_scrubbing_only_when_long_enough_to_be_secrets():
    environ = {"SLACK_BOT_TOKEN": " xoxb-123 ", "ALPHAVANTAGE_API_KEY": "abc", "OTHER": "x" * 9}
    assert secret_values(environ) == ["xoxb-123"]
