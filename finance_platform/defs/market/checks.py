"""Quality gate on raw_quotes: every expectation of stock_data_suite.json is an asset check.

One step validates the partition's stored reply (all its bars: one load) with
Great Expectations, writes the full results under
``<lake>/validation/quotes/symbol=<S>/date=<D>.json`` and reports each
expectation as its own check with the observed values. Correctness rules are
blocking: curated_quotes is not built from a reply that failed them.
"""

import datetime as dt
import json
import warnings
from typing import Any

import dagster as dg

from finance_platform.defs.market.assets import load_partition_bars, validation_path
from finance_platform.defs.market.partitions import quote_partitions, split_partition_key
from finance_platform.quality.expectations import expectation_specs
from finance_platform.resources.lake import LakeResource
from finance_platform.transforms.trading_calendar import market_closed_reason

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


@dg.multi_asset_check(
    name="raw_quotes_quality",
    specs=_specs(),
    description="Runs stock_data_suite.json (Great Expectations) on the partition's raw reply.",
    compute_kind="great_expectations",
)
def raw_quotes_quality(context: dg.AssetCheckExecutionContext, lake: LakeResource):
    trade_date, symbol = split_partition_key(context.op_execution_context)
    closed = market_closed_reason(trade_date)
    report: dict[str, Any] = {
        "symbol": symbol,
        "trade_date": trade_date,
        "suite": SUITE,
        "validated_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    if closed:
        # Nothing was loaded: the 1..10,000 rows rule applies to a load of a trading day.
        report.update({"market_closed": True, "closed_reason": closed, "results": []})
        uri = lake.write_bytes(validation_path(symbol, trade_date), json.dumps(report).encode())
        for s in _SUITE_SPECS:
            yield dg.AssetCheckResult(
                asset_key=RAW,
                check_name=s.check_name,
                passed=True,
                metadata={"market_closed": closed, "rows": 0, "validation_results": uri},
            )
        yield dg.AssetCheckResult(
            asset_key=RAW,
            check_name=PARTITION_BAR_CHECK,
            passed=True,
            metadata={"market_closed": closed, "rows": 0},
        )
        return

    bars = load_partition_bars(lake, symbol, trade_date)
    if bars is None:
        raise dg.Failure(f"no raw reply stored for {symbol} {trade_date}")
    from finance_platform.quality.expectations import run_suite

    outcome = run_suite(SUITE, bars)
    own_bars = int((bars["trade_date"] == trade_date).sum())
    report.update(
        {
            "market_closed": False,
            "rows": len(bars),
            "success": outcome.success,
            "statistics": outcome.statistics,
            "partition_bar_count": own_bars,
            "great_expectations": outcome.raw,
        }
    )
    uri = lake.write_bytes(
        validation_path(symbol, trade_date), json.dumps(report, default=str, indent=1).encode()
    )
    for result in outcome.outcomes:
        spec = result.spec
        metadata: dict[str, Any] = {
            "rows_validated": len(bars),
            "validation_results": dg.MetadataValue.path(uri),
        }
        for key, value in result.observed.items():
            if key == "partial_unexpected_list":
                metadata["unexpected_examples"] = dg.MetadataValue.json(_jsonable(value[:10]))
            elif value is not None:
                metadata[key] = value if isinstance(value, int | float | str) else str(value)
        if result.exception:
            metadata["exception"] = result.exception[:500]
        yield dg.AssetCheckResult(
            asset_key=RAW,
            check_name=result.check_name,
            passed=result.success,
            severity=dg.AssetCheckSeverity.WARN
            if spec.severity == "WARN"
            else dg.AssetCheckSeverity.ERROR,
            metadata=metadata,
            description=spec.description,
        )
    newest = bars["trade_date"].max()
    yield dg.AssetCheckResult(
        asset_key=RAW,
        check_name=PARTITION_BAR_CHECK,
        passed=own_bars == 1,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "bars_for_partition_date": own_bars,
            "trade_date": trade_date,
            "newest_bar_in_reply": str(newest.date()) if own_bars == 0 and len(bars) else "",
        },
        description=None
        if own_bars == 1
        else (
            f"{own_bars} bars for {trade_date} in the reply (expected exactly 1): "
            + ("not published yet or missing upstream" if own_bars == 0 else "duplicated")
        ),
    )
    context.log.info(
        f"{symbol} {trade_date}: {outcome.statistics.get('successful_expectations')}/"
        f"{outcome.statistics.get('evaluated_expectations')} expectations passed; "
        f"results at {uri}"
    )


market_checks = [raw_quotes_quality]
