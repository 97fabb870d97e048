"""``make demo``: build every asset on the local defaults and print what was built.

Runs go into the Dagster instance at ``$DAGSTER_HOME``, so the UI started
afterwards shows them: market quotes for the most recent trading days (from
the local Alpha Vantage sandbox unless ``ALPHAVANTAGE_API_KEY`` is set) and the
customer group on generated sample files. Exit code 1 if anything failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

DEFAULT_DAYS = 0  # 0 = every trading day from FINANCE_QUOTES_START
# The terminal shows the runs' INFO lines (plans, calls, checks, loads), not one DEBUG line per
# partition event (thousands in a ranged run); every event is still in the instance and the UI.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
DEFAULT_CUSTOMERS = 10_000  # the size of the bank's own sample (DATA_CONTRACT.md)


@dataclass
class Summary:
    """What the demo built, aggregated over its runs."""

    runs: int = 0
    failed_runs: list[str] = field(default_factory=list)
    partitions: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    checks_passed: int = 0
    checks_failed: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # market asset -> (partitions materialized, partitions that exist now)
    filled: dict[str, tuple[int, int]] = field(default_factory=dict)
    days_limit: int = 0  # --days / DEMO_DAYS (0 = every trading day from FINANCE_QUOTES_START)

    def add(self, label: str, result: dg.ExecuteInProcessResult) -> None:
        self.runs += 1
        if not result.success:
            self.failed_runs.append(f"{label} (run {result.run_id})")
        for event in result.get_asset_materialization_events():
            mat = event.step_materialization_data.materialization
            name = mat.asset_key.to_user_string()
            self.partitions[name] += 1
            row_count = mat.metadata.get("dagster/row_count")
            if row_count is not None:
                self.rows[name] += int(row_count.value)
        for evaluation in result.get_asset_check_evaluations():
            if evaluation.passed:
                self.checks_passed += 1
            else:
                key = evaluation.asset_check_key
                severity = evaluation.severity.value if evaluation.severity else "ERROR"
                self.checks_failed[severity].append(
                    f"{key.asset_key.to_user_string()}:{key.name}"
                    + (f" [{label}]" if label else "")
                )

    def render(self, lake_root: str, warehouse: str, elapsed: float) -> str:
        lines = ["", "finance_platform demo summary", "=" * 29]
        lines.append(f"{'asset':<34}{'materializations':>18}{'rows':>14}")
        for name in sorted(self.partitions):
            lines.append(f"{name:<34}{self.partitions[name]:>18}{self.rows.get(name, 0):>14,}")
        failed = sum(len(v) for v in self.checks_failed.values())
        lines.append("")
        lines.append(f"checks: {self.checks_passed} passed, {failed} failed")
        for severity, names in sorted(self.checks_failed.items()):
            for name in sorted(set(names))[:20]:
                lines.append(f"  {severity:<5} {name}")
        for name, (done, total) in sorted(self.filled.items()):
            pct = 100.0 * done / total if total else 100.0
            lines.append(f"partitions filled: {name} {done:,} of {total:,} ({pct:.1f} %)")
        if self.days_limit:
            lines.append(
                f"  (--days / DEMO_DAYS built only the latest {self.days_limit} trading days)"
            )
        elif any(done < total for done, total in self.filled.values()):
            lines.append(
                "  (not filled: days whose bar is not published yet; today's fill after the "
                "close, by the schedule)"
            )
        lines.append(f"runs: {self.runs} ({len(self.failed_runs)} failed)")
        for run in self.failed_runs:
            lines.append(f"  FAILED {run}")
        lines.append(f"lake: {lake_root}")
        lines.append(f"warehouse: {warehouse}")
        lines.append(f"took {elapsed:.1f} s")
        return "\n".join(lines)


def ensure_sample_deliveries(lake_root: str, customers: int, seed: int) -> bool:
    """Generate the customer files unless a delivery is already in the lake."""
    from finance_platform import sample_data

    raw = Path(lake_root) / "raw"
    if list(raw.glob("customer_base/*.csv")) and list(raw.glob("customer_behavior_assets/*.csv")):
        return False
    sample_data.generate(out_dir=raw, customers=customers, months=12, seed=seed)
    return True


def next_partition_date_on_or_after(day: str) -> str:
    """``day`` if it is a weekday (a date partition), else the next weekday."""
    import datetime as dt

    d = dt.date.fromisoformat(day)
    while d.weekday() >= 5:
        d += dt.timedelta(days=1)
    return d.isoformat()


def run_demo(days: int, customers: int, seed: int, instance: dg.DagsterInstance) -> Summary:
    import dagster as dg
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from finance_platform.definitions import defs
    from finance_platform.defs.market.partitions import latest_trading_days, quote_partitions
    from finance_platform.settings import load_settings

    settings = load_settings()
    summary = Summary(days_limit=days)
    tags = {"finance/launched_by": "make-demo"}
    if not os.environ.get("ALPHAVANTAGE_API_KEY"):
        tags["finance/data_source"] = "synthetic-sandbox"

    market_job = defs.resolve_job_def("market_quotes_job")
    # The path a UI backfill takes (BackfillPolicy.single_run): one ranged run per symbol,
    # one API call each, from FINANCE_QUOTES_START (or the latest `days` trading days) to the
    # latest trading day whose bar is published.
    dates = latest_trading_days(days) if days else latest_trading_days(100_000)
    first = next_partition_date_on_or_after(dates[0])
    for n, symbol in enumerate(settings.symbols, 1):
        label = f"{first}..{dates[-1]}|{symbol}"
        print(f"[{n}/{len(settings.symbols)}] market quotes {label}", flush=True)
        result = market_job.execute_in_process(
            instance=instance,
            run_config=QUIET_CONSOLE,
            tags={
                **tags,
                ASSET_PARTITION_RANGE_START_TAG: f"{first}|{symbol}",
                ASSET_PARTITION_RANGE_END_TAG: f"{dates[-1]}|{symbol}",
            },
            raise_on_error=False,
        )
        summary.add(label, result)
    for asset in ("raw_quotes", "curated_quotes", "warehouse_daily_quotes"):
        done = len(instance.get_materialized_partitions(dg.AssetKey(asset)))
        summary.filled[asset] = (done, quote_partitions.get_num_partitions())

    if ensure_sample_deliveries(settings.lake_root, customers, seed):
        print(f"generated sample customer files for {customers:,} customers", flush=True)
    print("customer analytics (group customers)", flush=True)
    customers_job = defs.resolve_job_def("customers_job")
    summary.add(
        "",
        customers_job.execute_in_process(
            instance=instance, run_config=QUIET_CONSOLE, tags=tags, raise_on_error=False
        ),
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=int(os.environ.get("DEMO_DAYS", DEFAULT_DAYS)))
    parser.add_argument(
        "--customers", type=int, default=int(os.environ.get("DEMO_CUSTOMERS", DEFAULT_CUSTOMERS))
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.days < 0 or args.customers < 1:
        parser.error("--days must be >= 0 (0 = all) and --customers positive")

    import dagster as dg

    from finance_platform.settings import load_settings

    if not os.environ.get("DAGSTER_HOME"):
        parser.error("DAGSTER_HOME is not set (make demo sets it to .dagster_home)")
    started = time.monotonic()
    settings = load_settings()
    with dg.DagsterInstance.get() as instance:
        summary = run_demo(args.days, args.customers, args.seed, instance)
    lake_root = str(Path(settings.lake_root).resolve()) if settings.is_local else settings.lake_root
    print(summary.render(lake_root, settings.warehouse_path, time.monotonic() - started))
    return 1 if summary.failed_runs else 0


if __name__ == "__main__":
    sys.exit(main())
