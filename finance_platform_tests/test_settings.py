"""Settings: local defaults, overrides, and clear errors on bad values."""

import datetime as dt

import pytest

from finance_platform.settings import DEFAULT_SYMBOLS, ConfigError, load_settings


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
