"""CLI: ``python -m finance_platform.sample_data --customers N --seed S --out <lake>/raw``.

``--base customer_base.csv`` writes behaviour rows for the customers of an existing
file (the bank's real one) instead of generating customers; ``--no-defects`` sets
every defect rate to 0 (a clean delivery, like the bank's).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

from finance_platform.sample_data import DefectRates, generate


def main(argv: list[str] | None = None) -> int:
    defaults = DefectRates()
    p = argparse.ArgumentParser(description="Write one synthetic delivery of the customer files.")
    p.add_argument("--customers", type=int, default=10_000)
    p.add_argument(
        "--base",
        default=None,
        metavar="FILE",
        help="an existing customer_base.csv: write only behaviour rows, for its customers",
    )
    p.add_argument("--months", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="raw folder of the lake, e.g. .lake/raw")
    p.add_argument(
        "--delivery-date",
        type=dt.date.fromisoformat,
        default=None,
        help="YYYY-MM-DD, names the files (default: today, UTC)",
    )
    p.add_argument("--end-month", default=None, help="newest stat_month YYYY-MM")
    p.add_argument("--duplicate-rate", type=float, default=defaults.duplicates)
    p.add_argument("--bad-age-rate", type=float, default=defaults.bad_ages)
    p.add_argument("--bad-date-rate", type=float, default=defaults.bad_dates)
    p.add_argument("--negative-balance-rate", type=float, default=defaults.negative_balances)
    p.add_argument("--missing-contact-rate", type=float, default=defaults.missing_contact)
    p.add_argument("--unit-error-rate", type=float, default=defaults.unit_errors)
    p.add_argument(
        "--no-defects",
        action="store_true",
        help="every defect rate 0 (missing contact results stay: the bank's data has them)",
    )
    a = p.parse_args(argv)
    if a.customers < 1 or a.months < 1:
        p.error("--customers and --months must be positive")
    rates = DefectRates(
        a.duplicate_rate,
        a.bad_age_rate,
        a.bad_date_rate,
        a.negative_balance_rate,
        a.missing_contact_rate,
        a.unit_error_rate,
    )
    if a.no_defects:
        rates = DefectRates.none(a.missing_contact_rate)
    started = time.monotonic()
    paths = generate(
        a.out,
        a.customers,
        a.months,
        a.seed,
        delivery_date=a.delivery_date,
        end_month=a.end_month,
        defects=rates,
        base_file=a.base,
    )
    for path in paths.values():
        print(path)
    who = f"the customers of {a.base}" if a.base else f"{a.customers:,} customers"
    print(f"{who} x {a.months} months in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
