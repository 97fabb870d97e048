"""Market quotes lineage: Alpha Vantage reply -> raw JSON -> curated Parquet -> warehouse table.

Assets are thin: fetch or load, call a pure transform, write, describe. Rules
live in ``finance_platform.transforms.quotes``; the quality gate between raw and
curated is in ``checks.py``.
"""

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import dagster as dg

from finance_platform.defs.market.partitions import quote_partitions, split_partition_key
from finance_platform.resources.alpha_vantage import (
    SYNTHETIC_NOTICE,
    AlphaVantageError,
    AlphaVantageResource,
    ReplyKind,
)
from finance_platform.resources.lake import LakeResource
from finance_platform.resources.warehouse import TableSpec, WarehouseResource
from finance_platform.settings import load_settings
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
RAW_DIR = "raw/quotes"
CURATED_DIR = "curated/quotes"
VALIDATION_DIR = "validation/quotes"
WAREHOUSE_TABLE = "market.daily_quotes"
# A compact reply holds the latest 100 bars; older days need the full history.
COMPACT_REACH_TRADING_DAYS = 95

DAILY_QUOTES = TableSpec(
    name=WAREHOUSE_TABLE,
    columns=qt.WAREHOUSE_COLUMN_TYPES,
    partition_columns=qt.WAREHOUSE_KEY,
)


def raw_path(symbol: str, trade_date: str) -> str:
    return f"{RAW_DIR}/symbol={symbol}/date={trade_date}.json"


def curated_partition_dir(symbol: str, trade_date: str) -> str:
    return f"{CURATED_DIR}/symbol={symbol}/trade_date={trade_date}"


def validation_path(symbol: str, trade_date: str) -> str:
    return f"{VALIDATION_DIR}/symbol={symbol}/date={trade_date}.json"


def choose_outputsize(trade_date: str, today: dt.date | None = None) -> str:
    """``compact`` if the day is among the latest ~100 bars, else ``full`` (first load/backfill)."""
    age = trading_days_between(trade_date, today or market_today())
    return "compact" if age < COMPACT_REACH_TRADING_DAYS else "full"


def _md_table(frame: "pd.DataFrame", columns: list[str]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    rows = "".join(
        "| " + " | ".join(str(row[c]) for c in columns) + " |\n"
        for row in frame[columns].to_dict("records")
    )
    return head + rows


def price_chart_markdown(bars: "pd.DataFrame", symbol: str, highlight: str, days: int = 60) -> str:
    """A small PNG line chart of recent closes (base64 Markdown image); text if it cannot draw."""
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
    except Exception:  # a chart must never fail a load
        ticks = "▁▂▃▄▅▆▇█"
        closes = recent["close"].tolist()
        lo, hi = min(closes), max(closes)
        span = (hi - lo) or 1.0
        return "`" + "".join(ticks[int((c - lo) / span * 7)] for c in closes) + "`"


class RawQuotesConfig(dg.Config):
    outputsize: str = "auto"  # auto | compact | full


@dg.asset(
    key="raw_quotes",
    group_name=GROUP,
    partitions_def=quote_partitions,
    description=(
        "Alpha Vantage TIME_SERIES_DAILY reply for one (trading day, symbol), stored exactly as "
        f"received under `<lake>/{RAW_DIR}/symbol=<S>/date=<D>.json`. Market holidays record an "
        "explicit 'market closed' result with zero rows and make no request. Without an API key "
        "the data is SYNTHETIC (local sandbox)."
    ),
    owners=OWNERS,
    kinds={"s3", "json", "python"},  # raw replies live in the lake (S3 in production)
    tags={"layer": "raw"},
    code_version="1",
    pool="alpha_vantage",
    metadata={"lake_path": f"{RAW_DIR}/symbol=<S>/date=<D>.json"},
)
def raw_quotes(
    context: dg.AssetExecutionContext,
    config: RawQuotesConfig,
    alpha_vantage: AlphaVantageResource,
    lake: LakeResource,
) -> dg.MaterializeResult:
    trade_date, symbol = split_partition_key(context)
    closed = market_closed_reason(trade_date)
    if closed:
        context.log.info(f"Market closed on {trade_date} ({closed}): no request, zero rows.")
        return dg.MaterializeResult(
            metadata={
                "market_closed": True,
                "closed_reason": closed,
                "dagster/row_count": 0,
                "request": "none: market closed",
            }
        )
    outputsize = choose_outputsize(trade_date) if config.outputsize == "auto" else config.outputsize
    try:
        reply = alpha_vantage.fetch_daily(symbol, outputsize=outputsize, log=context.log)
    except AlphaVantageError as exc:
        # The message is already key-free; raise outside the except block so the
        # low-level exception (whose text may hold the URL) is not chained.
        failure = dg.Failure(
            description=f"[{exc.kind.value}] {exc}",
            metadata={"kind": exc.kind.value, "request": json.dumps(exc.request)},
            allow_retries=exc.kind in (ReplyKind.THROTTLED, ReplyKind.TRANSIENT),
        )
    else:
        failure = None
    if failure is not None:
        raise failure
    uri = lake.write_bytes(raw_path(symbol, trade_date), reply.body)
    series = reply.payload.get("Time Series (Daily)", {})
    meta = reply.payload.get("Meta Data", {})
    metadata: dict[str, Any] = {
        "market_closed": False,
        "data_source": "SYNTHETIC (local sandbox)" if reply.synthetic else "Alpha Vantage",
        "synthetic": reply.synthetic,
        "request": dg.MetadataValue.json(reply.request),
        "request_url": reply.url,
        "bytes": len(reply.body),
        "sha256": reply.sha256,
        "bars": reply.bar_count,
        "dagster/row_count": reply.bar_count,
        "partition_bar_present": trade_date in series,
        "last_refreshed": str(meta.get("3. Last Refreshed", "")),
        "attempts": reply.attempts,
        "served_from_process_cache": reply.from_cache,
        "path": dg.MetadataValue.path(uri),
    }
    if reply.synthetic:
        metadata["warning"] = SYNTHETIC_NOTICE
        context.log.warning(SYNTHETIC_NOTICE)
    context.log.info(
        f"Stored {reply.bar_count} bars ({len(reply.body)} bytes) for {symbol} at {uri}"
    )
    return dg.MaterializeResult(metadata=metadata)


def load_partition_bars(lake: LakeResource, symbol: str, trade_date: str) -> "pd.DataFrame | None":
    """All bars of the stored reply for (symbol, trade_date); ``None`` if nothing was stored."""
    path = raw_path(symbol, trade_date)
    if not lake.exists(path):
        return None
    return qt.parse_daily_reply(lake.read_bytes(path), symbol)


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


@dg.asset(
    key="curated_quotes",
    group_name=GROUP,
    partitions_def=quote_partitions,
    deps=["raw_quotes"],
    description=(
        "The partition's own daily bar (day D of symbol S), typed and de-duplicated, as Parquet "
        f"under `<lake>/{CURATED_DIR}/symbol=<S>/trade_date=<D>/`. Built only from raw replies "
        "that passed the blocking quality checks. Market-closed days hold zero rows."
    ),
    owners=OWNERS,
    kinds={"parquet", "pandas"},
    tags={"layer": "cleaned"},
    code_version="1",
)
def curated_quotes(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    trade_date, symbol = split_partition_key(context)
    folder = curated_partition_dir(symbol, trade_date)
    closed = market_closed_reason(trade_date)
    if closed:
        lake.delete_dir(folder)
        return dg.MaterializeResult(
            metadata={
                "market_closed": True,
                "closed_reason": closed,
                "dagster/row_count": 0,
                "dagster/column_schema": CURATED_SCHEMA,
            }
        )
    bars = load_partition_bars(lake, symbol, trade_date)
    if bars is None:
        raise dg.Failure(f"no raw reply stored for {symbol} {trade_date}: materialize raw_quotes")
    synthetic = _raw_is_synthetic(context)
    source = "sandbox" if synthetic else "alphavantage"
    frame = qt.curate_partition(bars, trade_date, source, dt.datetime.now(dt.UTC))
    if frame.empty:
        raise dg.Failure(
            f"the stored reply for {symbol} has no bar for trading day {trade_date} "
            "(not published yet, or the day is missing upstream)"
        )
    uri = lake.write_table(CURATED_DIR, frame, partition_cols=list(qt.CURATED_PARTITION_COLUMNS))
    preview = _md_table(frame, ["symbol", "trade_date", "open", "high", "low", "close", "volume"])
    return dg.MaterializeResult(
        metadata={
            "market_closed": False,
            "dagster/row_count": len(frame),
            "dagster/column_schema": CURATED_SCHEMA,
            "preview": dg.MetadataValue.md(preview),
            "price_chart": dg.MetadataValue.md(price_chart_markdown(bars, symbol, trade_date)),
            "source": source,
            "synthetic": synthetic,
            "path": dg.MetadataValue.path(f"{uri}/symbol={symbol}/trade_date={trade_date}"),
        }
    )


def _raw_is_synthetic(context: dg.AssetExecutionContext) -> bool:
    """Whether the raw reply of this partition came from the sandbox (from its materialization)."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey("raw_quotes"), asset_partitions=[context.partition_key]
        ),
        limit=1,
    ).records
    mat = records[0].asset_materialization if records else None
    if mat is None:
        return False
    value = mat.metadata.get("synthetic")
    return bool(getattr(value, "value", value))


@dg.asset(
    key="warehouse_daily_quotes",
    group_name=GROUP,
    partitions_def=quote_partitions,
    deps=["curated_quotes"],
    description=(
        f"Loads the curated partition into the warehouse table `{WAREHOUSE_TABLE}` (DuckDB "
        "locally, Redshift Serverless in production via COPY from the curated Parquet). A re-run "
        "replaces the partition's rows in one transaction: never a duplicate, never a gap."
    ),
    owners=OWNERS,
    kinds={"redshift" if load_settings().env == "prod" else "duckdb", "sql"},
    tags={"layer": "warehouse"},
    code_version="1",
    pool="warehouse",
    metadata={"table": WAREHOUSE_TABLE},
)
def warehouse_daily_quotes(
    context: dg.AssetExecutionContext, lake: LakeResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    trade_date, symbol = split_partition_key(context)
    folder = curated_partition_dir(symbol, trade_date)
    frame = None
    if lake.exists(folder) and lake.list_files(folder, suffix=".parquet"):
        frame = lake.read_table(folder).to_pandas()
        frame.insert(0, "trade_date", trade_date)
        frame.insert(0, "symbol", symbol)
    elif not market_closed_reason(trade_date):
        raise dg.Failure(f"no curated rows for {symbol} {trade_date}: materialize curated_quotes")
    result = warehouse.replace_partition(
        DAILY_QUOTES, {"symbol": symbol, "trade_date": trade_date}, frame, lake.uri(folder)
    )
    context.log.info(
        f"{WAREHOUSE_TABLE} {symbol} {trade_date}: replaced {result.rows_deleted} row(s) "
        f"with {result.rows_inserted} ({result.engine})"
    )
    return dg.MaterializeResult(
        metadata={
            "table": WAREHOUSE_TABLE,
            "engine": result.engine,
            "dagster/row_count": result.rows_inserted,
            "rows_replaced": result.rows_deleted,
            "market_closed": bool(market_closed_reason(trade_date)),
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(c, t.lower()) for c, t in qt.WAREHOUSE_COLUMN_TYPES.items()]
            ),
            "dagster/column_lineage": WAREHOUSE_LINEAGE,
            **({"statement_id": result.statement_id} if result.statement_id else {}),
        }
    )


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

market_assets = [raw_quotes, curated_quotes, warehouse_daily_quotes]
