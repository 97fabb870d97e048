"""``make demo``: build every asset on the local defaults and print what was built.

Runs go into the Dagster instance at ``$DAGSTER_HOME``, so the UI started
afterwards shows them: market quotes for the most recent trading days (from
the local Alpha Vantage sandbox unless ``ALPHAVANTAGE_API_KEY`` is set) and the
customer group on generated sample files. Exit code 1 if anything failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from finance_platform.settings import Settings, load_demo_settings, load_settings

if TYPE_CHECKING:
    import dagster as dg

# The terminal shows the runs' INFO lines (plans, calls, checks, loads), not one DEBUG line per
# partition event (thousands in a ranged run); every event is still in the instance and the UI.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
# Dagster's run tags for a partition range, what a UI backfill with a single-run policy sets.
# Public API missing: JobDefinition.execute_in_process takes one partition_key, no range, and
# the tag names are not exported (they are the documented strings `dagster asset materialize
# --partition-range` and the UI write). The demo runs the path a backfill takes.
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


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


def run_demo(
    settings: Settings, days: int, customers: int, seed: int, instance: dg.DagsterInstance
) -> Summary:
    import dagster as dg

    from finance_platform.definitions import build_definitions
    from finance_platform.defs.market.partitions import QuotePartitions
    from finance_platform.resources.alpha_vantage import data_source_tags

    defs = build_definitions(settings)
    partitions = QuotePartitions.from_settings(settings)
    summary = Summary(days_limit=days)
    tags = {"finance/launched_by": "make-demo", **data_source_tags(settings)}

    market_job = defs.resolve_job_def("market_quotes_job")
    # The path a UI backfill takes (BackfillPolicy.single_run): one ranged run per symbol,
    # one API call each, from FINANCE_QUOTES_START (or the latest `days` trading days) to the
    # latest trading day whose bar is published.
    dates = partitions.latest_trading_days(days or 100_000)
    first = next_partition_date_on_or_after(dates[0])
    for n, symbol in enumerate(settings.symbols, 1):
        label = f"{first}..{dates[-1]}|{symbol}"
        print(f"[{n}/{len(settings.symbols)}] market quotes {label}", flush=True)
        result = market_job.execute_in_process(
            instance=instance,
            run_config=QUIET_CONSOLE,
            tags={
                **tags,
                PARTITION_RANGE_START_TAG: f"{first}|{symbol}",
                PARTITION_RANGE_END_TAG: f"{dates[-1]}|{symbol}",
            },
            raise_on_error=False,
        )
        summary.add(label, result)
    for asset in ("raw_quotes", "curated_quotes", "warehouse_daily_quotes"):
        done = len(instance.get_materialized_partitions(dg.AssetKey(asset)))
        summary.filled[asset] = (done, partitions.definition.get_num_partitions())

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
    defaults = load_demo_settings()
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--customers", type=int, default=defaults.customers)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.days < 0 or args.customers < 1:
        parser.error("--days must be >= 0 (0 = all) and --customers positive")

    import dagster as dg

    settings = load_settings()
    if not settings.alpha_vantage.dagster_home:
        parser.error("DAGSTER_HOME is not set (make demo sets it to .dagster_home)")
    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        summary = run_demo(settings, args.days, args.customers, args.seed, instance)
    lake_root = str(Path(settings.lake_root).resolve()) if settings.is_local else settings.lake_root
    print(summary.render(lake_root, settings.warehouse_path, time.monotonic() - started))
    return 1 if summary.failed_runs else 0


if __name__ == "__main__":
    sys.exit(main())
