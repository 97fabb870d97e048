"""Market quotes lineage: Alpha Vantage reply -> raw JSON -> curated Parquet -> warehouse table.

Assets are thin: fetch or load, call a pure transform, write, describe. Rules
live in ``finance_platform.transforms.quotes``; the quality gate between raw and
curated is in ``checks.py``. Every asset runs over whatever its run targets, one
(day, symbol) or a whole backfill range (``context.partition_keys``), grouped by
symbol: a range costs one API call per symbol, one Parquet write and one warehouse
transaction.
"""

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg

from finance_platform.defs.market.partitions import (
    QuotePartitions,
    next_partition_date,
    quote_backfill_policy,
    split_key,
)
from finance_platform.defs.market.raw_store import (
    RAW_DIR,
    IndexEntry,
    ReplyBars,
    covered_dates,
    read_index,
    store_reply,
    write_index,
)
from finance_platform.resources.alpha_vantage import (
    SYNTHETIC_NOTICE,
    AlphaVantageError,
    AlphaVantageResource,
    ReplyKind,
)
from finance_platform.resources.catalog import CatalogResource
from finance_platform.resources.lake import LakeResource
from finance_platform.resources.warehouse import KeyRange, TableSpec, WarehouseResource
from finance_platform.settings import Settings
from finance_platform.transforms import quotes as qt
from finance_platform.transforms.trading_calendar import (
    market_closed_reason,
    market_today,
    trading_days_between,
)

if TYPE_CHECKING:
    import pandas as pd

OWNERS = ["team:data-platform"]
GROUP = "market"
CURATED_DIR = "curated/quotes"
VALIDATION_DIR = "validation/quotes"
WAREHOUSE_TABLE = "market.daily_quotes"
# A compact reply holds the latest 100 bars; older days need the full history.
COMPACT_REACH_TRADING_DAYS = 95
# Set on a run that stopped because the day's API quota ran out (re-run it after the reset).
QUOTA_STOP_TAG = "finance/stopped_by_daily_quota"

DAILY_QUOTES = TableSpec(
    name=WAREHOUSE_TABLE,
    columns=qt.WAREHOUSE_COLUMN_TYPES,
    partition_columns=qt.WAREHOUSE_KEY,
)


def curated_partition_dir(symbol: str, trade_date: str) -> str:
    return f"{CURATED_DIR}/symbol={symbol}/trade_date={trade_date}"


def validation_path(symbol: str, sha256: str) -> str:
    """Great Expectations results of one stored reply (validated once, whatever days it serves)."""
    return f"{VALIDATION_DIR}/symbol={symbol}/sha256={sha256}.json"


STAGING_DIR = "staging/warehouse/daily_quotes"


def choose_outputsize(
    trade_date: str, today: dt.date | None = None, *, symbol: str | None = None
) -> str:
    """``compact`` if the day is among the latest ~100 bars, else ``full`` (first load/backfill).

    Counted in the symbol's own exchange sessions (a Shanghai share's 100 bars span other days).
    """
    age = trading_days_between(trade_date, today or market_today(symbol=symbol), symbol=symbol)
    return "compact" if age < COMPACT_REACH_TRADING_DAYS else "full"


@dataclass(frozen=True)
class SymbolFetch:
    """What one symbol of a run needs: which of its days make no call, and the one call if any."""

    symbol: str
    dates: list[str]
    closed: dict[str, str]  # market-closed day -> why
    covered: list[str]  # trading days the lake already holds
    needed: list[str]  # trading days that need a reply
    outputsize: str | None  # the one request to make (None: no request)


def plan_symbol_fetch(
    symbol: str,
    dates: list[str],
    covered: set[str],
    outputsize: str = "auto",
    today: dt.date | None = None,
) -> SymbolFetch:
    """The fetch of ``symbol`` for ``dates``: one reply for every day not covered, or none.

    ``compact`` when every needed day is within a compact reply's reach, else ``full``;
    ``outputsize`` other than ``auto`` forces it. Closed and covered days need nothing.
    """
    closed = {d: r for d in dates if (r := market_closed_reason(d, symbol=symbol))}
    trading = [d for d in dates if d not in closed]
    needed = [d for d in trading if d not in covered]
    size = None
    if needed:
        size = (
            choose_outputsize(min(needed), today, symbol=symbol)
            if outputsize == "auto"
            else outputsize
        )
    return SymbolFetch(
        symbol=symbol,
        dates=list(dates),
        closed=closed,
        covered=[d for d in trading if d in covered],
        needed=needed,
        outputsize=size,
    )


def _md_table(frame: "pd.DataFrame", columns: list[str]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    rows = "".join(
        "| " + " | ".join(str(row[c]) for c in columns) + " |\n"
        for row in frame[columns].to_dict("records")
    )
    return head + rows


def price_chart_markdown(bars: "pd.DataFrame", symbol: str, highlight: str, days: int = 60) -> str:
    """A small PNG line chart of recent closes (base64 Markdown image).

    If matplotlib cannot draw it, a text sparkline that names the error instead: a picture
    is not worth failing a load for, but its absence is shown, not hidden.
    """
    recent = bars.dropna(subset=["trade_date"]).sort_values("trade_date").tail(days)
    if recent.empty:
        return "(no bars to chart)"
    try:
        import base64
        import io

        from matplotlib.figure import Figure  # lazy; no pyplot global state

        fig = Figure(figsize=(4.0, 1.6), dpi=72)
        ax = fig.add_subplot()
        ax.plot(recent["trade_date"], recent["close"], linewidth=1.2, color="#1f77b4")
        mark = recent[recent["trade_date"] == highlight]
        if not mark.empty:
            ax.scatter(mark["trade_date"], mark["close"], color="#d62728", zorder=3, s=14)
        ax.set_title(f"{symbol} close, last {len(recent)} trading days", fontsize=8)
        ax.tick_params(labelsize=6)
        fig.autofmt_xdate()
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        encoded = base64.b64encode(buf.getvalue()).decode("ascii")
        return f"![{symbol} close](data:image/png;base64,{encoded})"
    except Exception as exc:  # a chart must never fail a load: text instead, saying why
        ticks = "▁▂▃▄▅▆▇█"
        closes = recent["close"].tolist()
        lo, hi = min(closes), max(closes)
        span = (hi - lo) or 1.0
        line = "".join(ticks[int((c - lo) / span * 7)] for c in closes)
        return f"`{line}` (no picture: {type(exc).__name__} while drawing the chart)"


class RawQuotesConfig(dg.Config):
    outputsize: str = "auto"  # auto | compact | full


@dataclass
class _Fetched:
    """The outcome of a symbol's one request in this run."""

    reply_path: str
    sha256: str
    bytes: int
    bars: int
    written: bool
    synthetic: bool
    attempts: int
    request_url: str


def _describe_plan(plans: list[SymbolFetch]) -> str:
    parts = []
    for p in plans:
        what = f"{len(p.needed)} day(s) -> 1 {p.outputsize} call" if p.outputsize else "0 calls"
        parts.append(
            f"{p.symbol}: {len(p.dates)} partition(s), {len(p.closed)} closed, "
            f"{len(p.covered)} already in the lake, {what}"
        )
    return "; ".join(parts)


def load_raw_quotes(
    context: dg.AssetExecutionContext,
    config: RawQuotesConfig,
    alpha_vantage: AlphaVantageResource,
    lake: LakeResource,
    targets: dict[str, list[str]],
) -> dg.MaterializeResult:
    """raw_quotes' step: ``targets`` is the run's ``{symbol: [days]}``."""
    index = {symbol: read_index(lake, symbol, dates) for symbol, dates in targets.items()}
    plans = [
        plan_symbol_fetch(symbol, dates, covered_dates(index[symbol]), config.outputsize)
        for symbol, dates in targets.items()
    ]
    wanted = [p for p in plans if p.outputsize]
    context.log.info(f"Plan: {len(wanted)} API call(s) for this run. {_describe_plan(plans)}")

    quota = alpha_vantage.daily_quota() if wanted else None
    to_fetch, not_fetched = wanted, []
    if quota is not None and not quota.allows(len(wanted)):
        fits = quota.remaining or 0
        to_fetch, not_fetched = wanted[:fits], [p.symbol for p in wanted[fits:]]
        context.log.warning(
            f"Daily quota: this run needs {len(wanted)} call(s) but only {fits} of "
            f"{quota.limit} are left today ({quota.used} used). Fetching "
            f"{', '.join(p.symbol for p in to_fetch) or 'nothing'}; not fetching "
            f"{', '.join(not_fetched)}. Re-run from failure after the quota resets "
            "(00:00 UTC): what is stored now costs 0 calls then."
        )

    fetched: dict[str, _Fetched] = {}
    errors: list[tuple[str, AlphaVantageError]] = []
    synthetic_seen = False
    for plan in to_fetch:
        if not_fetched and errors and errors[-1][1].kind is ReplyKind.DAILY_LIMIT:
            not_fetched.append(plan.symbol)
            continue
        try:
            reply = alpha_vantage.fetch_daily(
                plan.symbol, outputsize=plan.outputsize or "compact", log=context.log
            )
        except AlphaVantageError as exc:  # key-free message by construction
            errors.append((plan.symbol, exc))
            if exc.kind is ReplyKind.DAILY_LIMIT:
                # The server (or another process) spent the quota: stop, as planned above.
                not_fetched.append(plan.symbol)
            continue
        path, written = store_reply(lake, plan.symbol, reply.body, reply.sha256)
        series = reply.payload.get("Time Series (Daily)", {})
        last_refreshed = str(reply.payload.get("Meta Data", {}).get("3. Last Refreshed", ""))
        now = dt.datetime.now(dt.UTC).isoformat()
        write_index(
            lake,
            [
                IndexEntry(
                    symbol=plan.symbol,
                    trade_date=day,
                    reply_path=path,
                    sha256=reply.sha256,
                    bar_present=day in series,
                    synthetic=reply.synthetic,
                    outputsize=plan.outputsize or "",
                    fetched_at=now,
                    last_refreshed=last_refreshed,
                )
                for day in plan.needed
            ],
        )
        index[plan.symbol] = read_index(lake, plan.symbol, plan.dates)
        fetched[plan.symbol] = _Fetched(
            reply_path=path,
            sha256=reply.sha256,
            bytes=len(reply.body),
            bars=reply.bar_count,
            written=written,
            synthetic=reply.synthetic,
            attempts=reply.attempts,
            request_url=reply.url,
        )
        synthetic_seen |= reply.synthetic
        context.log.info(
            f"{plan.symbol}: {reply.bar_count} bars ({len(reply.body):,} bytes, "
            f"{plan.outputsize}) {'stored at' if written else 'identical to the stored'} "
            f"{lake.uri(path)}; serves {len(plan.needed)} day(s)"
        )

    calls_made = sum(f.attempts for f in fetched.values()) + sum(
        1 for _, e in errors if e.kind is not ReplyKind.DAILY_LIMIT
    )
    summary: dict[str, Any] = {
        "calls_planned": len(wanted),
        "calls_made": calls_made,
        "symbols": ", ".join(targets),
        "partitions": sum(len(d) for d in targets.values()),
        "days_needing_a_reply": sum(len(p.needed) for p in plans),
        "days_already_in_lake": sum(len(p.covered) for p in plans),
        "market_closed_days": sum(len(p.closed) for p in plans),
        "replies_stored": sum(1 for f in fetched.values() if f.written),
        "bytes_stored": sum(f.bytes for f in fetched.values() if f.written),
        "quota_remaining_before": "unlimited"
        if quota is None or quota.remaining is None
        else quota.remaining,
        "symbols_not_fetched": ", ".join(not_fetched),
        "plan": dg.MetadataValue.md(_describe_plan(plans)),
    }
    if not_fetched or errors:
        reasons = [f"{symbol}: [{exc.kind.value}] {exc}" for symbol, exc in errors]
        # The quota as it stands now: the service's own daily-limit notice counts it spent.
        quota_now = alpha_vantage.daily_quota() if quota is not None else None
        left = (
            "unlimited" if quota_now is None or quota_now.remaining is None else quota_now.remaining
        )
        if not_fetched:
            refused_by_service = any(e.kind is ReplyKind.DAILY_LIMIT for _, e in errors)
            reasons.insert(
                0,
                f"daily quota: {len(wanted)} call(s) needed, "
                + (
                    "the service refused with its daily-limit notice"
                    if refused_by_service
                    else f"{quota.remaining if quota else '?'} left before this run"
                )
                + f", {left} left now; not fetched: {', '.join(not_fetched)} (fetched and "
                f"stored: {', '.join(fetched) or 'none'}; re-run from failure after 00:00 UTC)",
            )
        retryable = not not_fetched and all(e.retryable for _, e in errors)
        if not_fetched:
            # An immediate automatic run retry would find the same empty quota: spend nothing
            # and only add noise. Dagster's documented run tag turns it off for this run;
            # re-running from failure after the reset resumes where this run stopped.
            context.instance.add_run_tags(
                context.run.run_id,
                {"dagster/retry_on_asset_or_op_failure": "false", QUOTA_STOP_TAG: "true"},
            )
        failure = dg.Failure(
            description="; ".join(reasons),
            metadata={
                **summary,
                "calls_needed": len(wanted),
                "quota_remaining": left,
            },
            allow_retries=retryable,
        )
        raise failure

    fetched_now = {f"{d}|{p.symbol}" for p in to_fetch if p.symbol in fetched for d in p.needed}
    for key in context.partition_keys:
        day, symbol = split_key(key)
        entry = index[symbol].get(day)
        closed = market_closed_reason(day, symbol=symbol)
        meta: dict[str, Any] = {"market_closed": bool(closed)}
        if closed:
            meta.update(closed_reason=closed, request="none: market closed")
            meta["dagster/row_count"] = 0
        elif entry is not None:
            meta.update(
                reply=entry.reply_path,
                reply_sha256=entry.sha256,
                partition_bar_present=entry.bar_present,
                # The partition's own bar in the stored reply (the reply itself holds many days).
                **{"dagster/row_count": int(entry.bar_present)},
                fetched_in_this_run=str(key) in fetched_now,
                fetched_at=entry.fetched_at,
                synthetic=entry.synthetic,
            )
        context.add_asset_metadata(meta, partition_key=key)
    if synthetic_seen or any(e.synthetic for ix in index.values() for e in ix.values()):
        summary["data_source"] = "SYNTHETIC (local sandbox)"
        summary["warning"] = SYNTHETIC_NOTICE
        context.log.warning(SYNTHETIC_NOTICE)
    else:
        summary["data_source"] = "Alpha Vantage"
    if fetched:
        summary["requests"] = dg.MetadataValue.json(
            {
                s: {"url": f.request_url, "bars": f.bars, "attempts": f.attempts}
                for s, f in fetched.items()
            }
        )
    return dg.MaterializeResult(metadata=summary)


def load_partition_bars(lake: LakeResource, symbol: str, trade_date: str) -> "pd.DataFrame | None":
    """All bars of the stored reply that serves (symbol, trade_date); ``None`` if none does."""
    entry = read_index(lake, symbol, [trade_date]).get(trade_date)
    if entry is None:
        return None
    return ReplyBars(lake).bars(entry)


CURATED_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("symbol", "string", description="ticker (hive partition)"),
        dg.TableColumn(
            "trade_date", "date", description="trading day, US/Eastern (hive partition)"
        ),
        *[dg.TableColumn(c, "double") for c in qt.PRICE_COLUMNS],
        dg.TableColumn("volume", "int64"),
        *[
            dg.TableColumn(c, "double", description="adjusted series only")
            for c in qt.ADJUSTED_COLUMNS
        ],
        dg.TableColumn("source", "string", description="alphavantage or sandbox (synthetic)"),
        dg.TableColumn("ingested_at", "timestamp[us, UTC]"),
    ]
)


def curate_quotes(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    targets: dict[str, list[str]],
    catalog: CatalogResource,
) -> dg.MaterializeResult:
    """curated_quotes' step: ``targets`` is the run's ``{symbol: [days]}``; the table (one
    partition per symbol and day) is registered in ``catalog`` after it is written."""
    import pandas as pd

    replies = ReplyBars(lake)
    now = dt.datetime.now(dt.UTC)
    frames, missing, sources = [], [], set()
    last_bars, last_symbol, last_day = None, "", ""
    for symbol, dates in targets.items():
        index = read_index(lake, symbol, dates)
        by_reply: dict[str, list[str]] = {}
        for day in dates:
            if market_closed_reason(day, symbol=symbol):
                lake.delete_dir(curated_partition_dir(symbol, day))
                continue
            entry = index.get(day)
            if entry is None or not entry.bar_present:
                missing.append(f"{day}|{symbol}")
                continue
            by_reply.setdefault(entry.reply_path, []).append(day)
        for days in by_reply.values():
            entry = index[days[0]]
            source = "sandbox" if entry.synthetic else "alphavantage"
            sources.add(source)
            bars = replies.bars(entry)
            frames.append(qt.curate_days(bars, days, source, now))
            last_bars, last_symbol, last_day = bars, symbol, max(days)
    if missing:
        shown = ", ".join(missing[:20]) + (
            f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        )
        raise dg.Failure(
            f"no stored bar for {len(missing)} trading-day partition(s): {shown} "
            "(materialize raw_quotes; a day not published yet has no bar)",
            metadata={"missing_partitions": dg.MetadataValue.json(missing[:500])},
        )
    frame = pd.concat(frames, ignore_index=True) if frames else None
    rows_by_key: dict[tuple[str, str], int] = {}
    uri = lake.uri(CURATED_DIR)
    if frame is not None and len(frame):
        uri = lake.write_table(
            CURATED_DIR, frame, partition_cols=list(qt.CURATED_PARTITION_COLUMNS)
        )
        for (symbol, day), n in frame.groupby(["symbol", "trade_date"]).size().items():
            rows_by_key[(str(symbol), str(day))] = int(n)
    for key in context.partition_keys:
        day, symbol = split_key(key)
        closed = market_closed_reason(day, symbol=symbol)
        context.add_asset_metadata(
            {
                "market_closed": bool(closed),
                **({"closed_reason": closed} if closed else {}),
                "dagster/row_count": rows_by_key.get((symbol, day), 0),
            },
            partition_key=key,
        )
    metadata: dict[str, Any] = {
        "dagster/row_count": 0 if frame is None else len(frame),
        "dagster/column_schema": CURATED_SCHEMA,
        "source": ", ".join(sorted(sources)) or "none (market closed)",
        "synthetic": sources == {"sandbox"},
        "path": dg.MetadataValue.path(uri),
    }
    if frame is not None and len(frame):
        preview = frame.sort_values(["symbol", "trade_date"]).tail(10)
        metadata["preview"] = dg.MetadataValue.md(
            _md_table(preview, ["symbol", "trade_date", "open", "high", "low", "close", "volume"])
        )
        metadata["price_chart"] = dg.MetadataValue.md(
            price_chart_markdown(last_bars, last_symbol, last_day)
        )
    if lake.exists(CURATED_DIR):
        registration = catalog.register_lake_table(
            lake, CURATED_DIR, description="Daily OHLCV bars, one partition per symbol and day."
        )
        metadata.update(registration.metadata())
    return dg.MaterializeResult(metadata=metadata)


def key_ranges(targets: dict[str, list[str]]) -> list[KeyRange]:
    """The run's (symbol, first day, last day) runs of consecutive date partitions."""
    out = []
    for symbol, dates in targets.items():
        start = prev = dates[0]
        for day in dates[1:]:
            if day != next_partition_date(prev):
                out.append(KeyRange(symbol, start, prev))
                start = day
            prev = day
        out.append(KeyRange(symbol, start, prev))
    return out


def load_warehouse_quotes(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    warehouse: WarehouseResource,
    targets: dict[str, list[str]],
) -> dg.MaterializeResult:
    """warehouse_daily_quotes' step: ``targets`` is the run's ``{symbol: [days]}``."""
    import pandas as pd

    frames, missing = [], []
    for symbol, dates in targets.items():
        trading = [d for d in dates if not market_closed_reason(d, symbol=symbol)]
        if not trading:
            continue
        frame = read_curated(lake, symbol, trading)
        have = set(frame["trade_date"]) if frame is not None else set()
        missing += [f"{d}|{symbol}" for d in trading if d not in have]
        if frame is not None:
            frames.append(frame)
    if missing:
        shown = ", ".join(missing[:20]) + (
            f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        )
        raise dg.Failure(
            f"no curated rows for {len(missing)} partition(s): {shown} (materialize curated_quotes)"
        )
    frame = pd.concat(frames, ignore_index=True) if frames else None
    ranges = key_ranges(targets)
    stage_uri = None
    if warehouse.loads_from_lake and frame is not None and len(frame):
        # Redshift COPY reads files: the run's rows, partition columns included, in one place.
        stage = f"{STAGING_DIR}/run_id={context.run.run_id}"
        # COPY maps Parquet columns by position: table order, the key typed as the table's.
        staged = frame[list(DAILY_QUOTES.columns)].assign(
            trade_date=pd.to_datetime(frame["trade_date"]).dt.date
        )
        stage_uri = lake.write_table(stage, staged, mode="overwrite")
    result = warehouse.replace_ranges(DAILY_QUOTES, ranges, frame, stage_uri)
    if stage_uri:
        lake.delete_dir(f"{STAGING_DIR}/run_id={context.run.run_id}")
    context.log.info(
        f"{WAREHOUSE_TABLE}: {len(ranges)} range(s) ({', '.join(map(str, ranges[:5]))}"
        f"{' ...' if len(ranges) > 5 else ''}): replaced {result.rows_deleted} row(s) with "
        f"{result.rows_inserted} in one transaction ({result.engine})"
    )
    rows_by_key: dict[tuple[str, str], int] = {}
    if frame is not None:
        for (symbol, day), n in frame.groupby(["symbol", "trade_date"]).size().items():
            rows_by_key[(str(symbol), str(day))] = int(n)
    for key in context.partition_keys:
        day, symbol = split_key(key)
        context.add_asset_metadata(
            {
                "dagster/row_count": rows_by_key.get((symbol, day), 0),
                "market_closed": bool(market_closed_reason(day, symbol=symbol)),
            },
            partition_key=key,
        )
    return dg.MaterializeResult(
        metadata={
            "table": WAREHOUSE_TABLE,
            "engine": result.engine,
            "dagster/row_count": result.rows_inserted,
            "rows_replaced": result.rows_deleted,
            "ranges": dg.MetadataValue.json([r.as_dict() for r in ranges[:100]]),
            "transactions": 1,
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(c, t.lower()) for c, t in qt.WAREHOUSE_COLUMN_TYPES.items()]
            ),
            "dagster/column_lineage": WAREHOUSE_LINEAGE,
            **({"statement_id": result.statement_id} if result.statement_id else {}),
        }
    )


def read_curated(lake: LakeResource, symbol: str, dates: list[str]) -> "pd.DataFrame | None":
    """The curated rows of ``symbol`` on ``dates`` with their partition columns, or ``None``."""
    import pyarrow.dataset as ds

    folder = f"{CURATED_DIR}/symbol={symbol}"
    if not lake.exists(folder):
        return None
    table = lake.read_table(folder, filter=ds.field("trade_date").isin(dates))
    if table.num_rows == 0:
        return None
    frame = table.to_pandas()
    frame["trade_date"] = frame["trade_date"].astype(str)
    frame.insert(0, "symbol", symbol)
    return frame


# Every warehouse column is the curated column of the same name, loaded as is.
WAREHOUSE_LINEAGE = dg.TableColumnLineage(
    deps_by_column={
        column.name: [
            dg.TableColumnDep(asset_key=dg.AssetKey("curated_quotes"), column_name=column.name)
        ]
        for column in CURATED_SCHEMA.columns
        if column.name in qt.WAREHOUSE_COLUMN_TYPES
    }
)


RAW_QUOTES_DESCRIPTION = (
    "Alpha Vantage TIME_SERIES_DAILY replies as received. A run over any range of days makes "
    "ONE request per symbol (compact if every day it needs is among the latest 100 bars, "
    "else full) for the days the lake does not hold yet; market-closed days make none. Each "
    f"reply is stored once under `<lake>/{RAW_DIR}/replies/symbol=<S>/sha256=<h>.json`; "
    f"`<lake>/{RAW_DIR}/index/symbol=<S>/date=<D>.json` records which reply holds each "
    "(day, symbol). The day's quota is planned before any request: work that needs more calls "
    "than are left fetches what fits and stops with a clear failure (re-run the next day to "
    "resume). Without an API key the data is SYNTHETIC (local sandbox)."
)
CURATED_QUOTES_DESCRIPTION = (
    "Each (day D, symbol S) partition's own daily bar, typed and de-duplicated, as Parquet "
    f"under `<lake>/{CURATED_DIR}/symbol=<S>/trade_date=<D>/`; a range is one pass and one "
    "write. Built only from raw replies that passed the blocking quality checks. "
    "Market-closed days hold zero rows."
)
WAREHOUSE_QUOTES_DESCRIPTION = (
    f"Loads the run's curated partitions into the warehouse table `{WAREHOUSE_TABLE}` (DuckDB "
    "locally, Redshift Serverless in production via COPY into a staging table). A run, one "
    "partition or a whole range, replaces exactly its (symbol, day) rows in ONE "
    "transaction: re-running any range never duplicates or drops a row."
)


def build_market_assets(
    partitions: QuotePartitions, settings: Settings
) -> list[dg.AssetsDefinition]:
    """raw_quotes -> curated_quotes -> warehouse_daily_quotes on ``partitions``.

    Every run is planned by symbol in ``partitions``' order; the warehouse shows the kind of
    the warehouse ``settings`` picks (DuckDB locally, Redshift in production).
    """
    shared: dict[str, Any] = {
        "group_name": GROUP,
        "owners": OWNERS,
        "partitions_def": partitions.definition,
        "backfill_policy": quote_backfill_policy,
        "code_version": "2",
    }

    @dg.asset(
        key="raw_quotes",
        description=RAW_QUOTES_DESCRIPTION,
        kinds={"s3", "json", "python"},  # raw replies live in the lake (S3 in production)
        tags={"layer": "raw"},
        pool="alpha_vantage",
        metadata={"lake_path": f"{RAW_DIR}/replies/symbol=<S>/sha256=<h>.json"},
        **shared,
    )
    def raw_quotes(
        context: dg.AssetExecutionContext,
        config: RawQuotesConfig,
        alpha_vantage: AlphaVantageResource,
        lake: LakeResource,
    ) -> dg.MaterializeResult:
        targets = partitions.run_dates_by_symbol(context)
        return load_raw_quotes(context, config, alpha_vantage, lake, targets)

    @dg.asset(
        key="curated_quotes",
        deps=["raw_quotes"],
        description=CURATED_QUOTES_DESCRIPTION,
        kinds={"parquet", "pandas"},
        tags={"layer": "cleaned"},
        **shared,
    )
    def curated_quotes(
        context: dg.AssetExecutionContext, lake: LakeResource, catalog: CatalogResource
    ) -> dg.MaterializeResult:
        return curate_quotes(context, lake, partitions.run_dates_by_symbol(context), catalog)

    @dg.asset(
        key="warehouse_daily_quotes",
        deps=["curated_quotes"],
        description=WAREHOUSE_QUOTES_DESCRIPTION,
        kinds={"duckdb" if settings.is_local else "redshift", "sql"},
        tags={"layer": "warehouse"},
        pool="warehouse",
        metadata={"table": WAREHOUSE_TABLE},
        **shared,
    )
    def warehouse_daily_quotes(
        context: dg.AssetExecutionContext, lake: LakeResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        targets = partitions.run_dates_by_symbol(context)
        return load_warehouse_quotes(context, lake, warehouse, targets)

    return [raw_quotes, curated_quotes, warehouse_daily_quotes]
