"""Fixtures for the customer domain: small generated deliveries in the test's lake."""

import datetime as dt
from pathlib import Path

import pytest

from finance_platform.sample_data import DefectRates, generate

DELIVERY = dt.date(2026, 1, 5)


@pytest.fixture
def delivered(lake_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """400 customers x 6 months with the default defects, delivered 2026-01-05."""
    monkeypatch.setenv("FINANCE_CUSTOMERS_RUN_DATE", "2026-01-05")
    monkeypatch.setenv("FINANCE_CUSTOMERS_FRESHNESS_DAYS", "100000")
    generate(
        lake_root / "raw",
        customers=400,
        months=6,
        seed=11,
        delivery_date=DELIVERY,
        defects=DefectRates(
            duplicates=0.01, bad_ages=0.01, bad_dates=0.005, negative_balances=0.005
        ),
    )
    return lake_root
