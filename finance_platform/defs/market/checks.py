"""Quality gate on raw_quotes: every expectation of stock_data_suite.json is an asset check.

One step validates, with Great Expectations, each stored reply the run's partitions use,
once per run however many days it serves, writes the full results under
``<lake>/validation/quotes/symbol=<S>/sha256=<h>.json`` and reports every expectation
for every (day, symbol) partition of the run, one evaluation each, with what was observed.

A row-level rule (e.g. high >= 0) fails only the days whose own bar broke it; a rule about
the whole reply (row count, or a bar without a date) fails every day the reply serves.
Correctness rules are blocking: curated_quotes is not built from a reply that failed them.

Dagster's ``AssetCheckResult`` carries no partition: in a ranged run it would be recorded
for the run as a whole (or, in some versions, for the first key only). So the step yields
``AssetCheckEvaluation`` events, one per (check, partition), each naming its partition and
the raw materialization it judged; the check outputs themselves are implicit.
"""

import datetime as dt
import json
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster import AssetCheckEvaluation

# Not exported at the top level; the documented field of AssetCheckEvaluation that links an
# evaluation to the materialization it judged (what the UI's "latest materialization" uses).
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from finance_platform.defs.market.assets import validation_path
from finance_platform.defs.market.partitions import (
    quote_partition_key,
    quote_partitions,
    run_dates_by_symbol,
)
from finance_platform.defs.market.raw_store import IndexEntry, ReplyBars, read_index
from finance_platform.quality.expectations import ExpectationSpec, expectation_specs
from finance_platform.resources.lake import LakeResource
from finance_platform.transforms.trading_calendar import market_closed_reason

if TYPE_CHECKING:
    import pandas as pd

    from finance_platform.quality.expectations import SuiteOutcome

SUITE = "stock_data_suite.json"
RAW = dg.AssetKey("raw_quotes")
PARTITION_BAR_CHECK = "partition_bar_present"

_SUITE_SPECS = expectation_specs(SUITE)  # reads JSON only; GE is imported when checks run


def _specs() -> list[dg.AssetCheckSpec]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # partitioned check specs are a preview feature
        specs = [
            dg.AssetCheckSpec(
                name=s.check_name,
                asset=RAW,
                description=f"[{s.severity}{', blocking' if s.blocking else ''}] {s.description} "
                f"(Great Expectations: {s.type})",
                blocking=s.blocking,
                partitions_def=quote_partitions,
                metadata={"expectation_type": s.type, "suite": SUITE, "severity": s.severity},
            )
            for s in _SUITE_SPECS
        ]
        specs.append(
            dg.AssetCheckSpec(
                name=PARTITION_BAR_CHECK,
                asset=RAW,
                description="[ERROR, blocking] On a trading day the stored reply carries exactly "
                "one bar for the partition's own date (a reply without it would leave a gap).",
                blocking=True,
                partitions_def=quote_partitions,
            )
        )
    return specs


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


@dataclass
class ReplyVerdict:
    """One stored reply validated once: per expectation, the reply-wide or per-day outcome."""

    entry: IndexEntry
    rows: int
    outcome: "SuiteOutcome"
    uri: str
    # check name -> days whose own bar broke the rule (row-level rules only)
    failed_days: dict[str, set[str]] = field(default_factory=dict)
    # check names failed by the reply as a whole (table-level, or a bar without a date)
    failed_whole: set[str] = field(default_factory=set)
    bars_per_day: dict[str, int] = field(default_factory=dict)

    def passed(self, check_name: str, day: str) -> bool:
        return check_name not in self.failed_whole and day not in self.failed_days.get(
            check_name, set()
        )


def validate_reply(lake: LakeResource, entry: IndexEntry, bars: "pd.DataFrame") -> ReplyVerdict:
    """Run the suite once on every bar of a stored reply; attribute failures to their days."""
    from finance_platform.quality.expectations import run_suite  # lazy: GE takes seconds

    outcome = run_suite(SUITE, bars, result_format="COMPLETE")
    days = bars["trade_date"].dt.strftime("%Y-%m-%d")
    verdict = ReplyVerdict(
        entry=entry,
        rows=len(bars),
        outcome=outcome,
        uri="",
        bars_per_day=days.value_counts(dropna=True).to_dict(),
    )
    for result in outcome.outcomes:
        if result.success:
            continue
        rows = result.unexpected_index
        if rows is None or result.exception:
            verdict.failed_whole.add(result.check_name)
            continue
        bad_days = days.iloc[[i for i in rows if 0 <= i < len(days)]]
        if bad_days.isna().any():  # a bar without a date belongs to no partition
            verdict.failed_whole.add(result.check_name)
        verdict.failed_days[result.check_name] = set(bad_days.dropna())
    report = {
        "symbol": entry.symbol,
        "reply": entry.reply_path,
        "sha256": entry.sha256,
        "suite": SUITE,
        "validated_at": dt.datetime.now(dt.UTC).isoformat(),
        "rows": len(bars),
        "success": outcome.success,
        "statistics": outcome.statistics,
        "failed_days": {k: sorted(v) for k, v in verdict.failed_days.items()},
        "failed_whole_reply": sorted(verdict.failed_whole),
        "great_expectations": outcome.raw,
    }
    verdict.uri = lake.write_bytes(
        validation_path(entry.symbol, entry.sha256),
        json.dumps(report, default=str, indent=1).encode(),
    )
    return verdict


def _latest_raw_materializations(
    context: dg.AssetCheckExecutionContext, keys: list[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """The raw materialization each partition's evaluation judges (one query for the run)."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=RAW, asset_partitions=keys), limit=len(keys)
    ).records
    out: dict[str, AssetCheckEvaluationTargetMaterializationData] = {}
    for record in records:  # newest first
        partition = record.partition_key
        if partition is not None and partition not in out:
            out[partition] = AssetCheckEvaluationTargetMaterializationData(
                run_id=record.run_id, storage_id=record.storage_id, timestamp=record.timestamp
            )
    return out


def _severity(spec: ExpectationSpec) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.WARN if spec.severity == "WARN" else dg.AssetCheckSeverity.ERROR


def _expectation_metadata(verdict: ReplyVerdict, check_name: str, day: str) -> dict[str, Any]:
    result = verdict.outcome.by_check_name()[check_name]
    metadata: dict[str, Any] = {
        "trade_date": day,
        "symbol": verdict.entry.symbol,
        "rows_validated": verdict.rows,
        "reply": verdict.entry.reply_path,
        "validation_results": dg.MetadataValue.path(verdict.uri),
    }
    for key, value in result.observed.items():
        if key == "partial_unexpected_list":
            metadata["unexpected_examples"] = dg.MetadataValue.json(_jsonable(value[:10]))
        elif value is not None:
            metadata[key] = value if isinstance(value, int | float | str) else str(value)
    if result.exception:
        metadata["exception"] = result.exception[:500]
    if not verdict.passed(check_name, day):
        metadata["failed_because"] = (
            "the reply as a whole broke the rule"
            if check_name in verdict.failed_whole
            else f"the bar of {day} broke the rule"
        )
    return metadata


@dg.multi_asset_check(
    name="raw_quotes_quality",
    specs=_specs(),
    description="Runs stock_data_suite.json (Great Expectations) once per stored reply the run "
    "uses, and reports every check for every (day, symbol) partition of the run.",
    compute_kind="great_expectations",
)
def raw_quotes_quality(context: dg.AssetCheckExecutionContext, lake: LakeResource):
    targets = run_dates_by_symbol(context.op_execution_context)
    keys = {
        (day, symbol): str(quote_partition_key(day, symbol))
        for symbol, dates in targets.items()
        for day in dates
    }
    targets_mat = _latest_raw_materializations(context, list(keys.values()))
    replies = ReplyBars(lake)
    specs = {s.check_name: s for s in _SUITE_SPECS}
    failures: list[str] = []

    def evaluation(
        day: str, symbol: str, name: str, passed: bool, severity, metadata, description=None
    ) -> AssetCheckEvaluation:
        key = keys[(day, symbol)]
        if not passed:
            failures.append(f"{key} {name}")
        return AssetCheckEvaluation(
            asset_key=RAW,
            check_name=name,
            passed=passed,
            metadata=metadata,
            target_materialization_data=targets_mat.get(key),
            severity=severity,
            description=description,
            blocking=True if name == PARTITION_BAR_CHECK else specs[name].blocking,
            partition=key,
        )

    for symbol, dates in targets.items():
        index = read_index(lake, symbol, dates)
        verdicts: dict[str, ReplyVerdict] = {}
        for day in dates:
            closed = market_closed_reason(day, symbol=symbol)
            if closed:
                # Nothing was loaded: the 1..10,000 rows rule applies to a load of a trading day.
                for name, spec in specs.items():
                    yield evaluation(
                        day,
                        symbol,
                        name,
                        True,
                        _severity(spec),
                        {"market_closed": closed, "rows": 0},
                    )
                yield evaluation(
                    day,
                    symbol,
                    PARTITION_BAR_CHECK,
                    True,
                    dg.AssetCheckSeverity.ERROR,
                    {"market_closed": closed, "rows": 0},
                )
                continue
            entry = index.get(day)
            if entry is None:
                reason = f"no stored reply serves {day}|{symbol}: materialize raw_quotes"
                for name, spec in specs.items():
                    yield evaluation(
                        day, symbol, name, False, _severity(spec), {"trade_date": day}, reason
                    )
                yield evaluation(
                    day, symbol, PARTITION_BAR_CHECK, False, dg.AssetCheckSeverity.ERROR, {}, reason
                )
                continue
            if entry.reply_path not in verdicts:
                verdicts[entry.reply_path] = validate_reply(lake, entry, replies.bars(entry))
                v = verdicts[entry.reply_path]
                context.log.info(
                    f"{symbol} reply {entry.sha256[:12]} ({v.rows} bars): "
                    f"{v.outcome.statistics.get('successful_expectations')}/"
                    f"{v.outcome.statistics.get('evaluated_expectations')} expectations passed "
                    f"on the whole reply; results at {v.uri}"
                )
            verdict = verdicts[entry.reply_path]
            for name, spec in specs.items():
                passed = verdict.passed(name, day)
                yield evaluation(
                    day,
                    symbol,
                    name,
                    passed,
                    _severity(spec),
                    _expectation_metadata(verdict, name, day),
                    spec.description if passed else f"{day}|{symbol} failed: {spec.description}",
                )
            own = int(verdict.bars_per_day.get(day, 0))
            newest = max(verdict.bars_per_day) if verdict.bars_per_day else ""
            yield evaluation(
                day,
                symbol,
                PARTITION_BAR_CHECK,
                own == 1,
                dg.AssetCheckSeverity.ERROR,
                {
                    "bars_for_partition_date": own,
                    "trade_date": day,
                    "reply": entry.reply_path,
                    "newest_bar_in_reply": newest if own == 0 else "",
                },
                None
                if own == 1
                else (
                    f"{own} bars for {day} in the reply (expected exactly 1): "
                    + ("not published yet or missing upstream" if own == 0 else "duplicated")
                ),
            )
    # The check outputs carry no value: the evaluations above are the results.
    for spec in context.op_execution_context.selected_asset_check_keys:
        yield dg.Output(None, output_name=f"{spec.asset_key.to_python_identifier()}_{spec.name}")
    if failures:
        shown = "; ".join(failures[:20]) + (
            f" and {len(failures) - 20} more" if len(failures) > 20 else ""
        )
        context.log.warning(f"{len(failures)} failed (partition, check): {shown}")


market_checks = [raw_quotes_quality]
