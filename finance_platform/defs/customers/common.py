"""Shared plumbing of the customer assets: metadata, previews, charts, quality logs.

Where each table lives, its key and columns: ``transforms/customers/contract.py``.

Nothing here ever renders the ``name`` column: previews and schemas go through
``without_pii`` first.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg

from finance_platform.transforms.customers import contract
from finance_platform.transforms.customers.rules import PII_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from finance_platform.resources.lake import LakeResource

GROUP = "customers"
OWNERS = ["team:data-platform"]

# The cleaning accounting of a cleaned table, written into each of its versions (published
# with it, so the checks always read the numbers of the table that is current).
CLEANING_STATS = "_cleaning_stats.json"
QUALITY_LOGS = "monitoring/quality_logs"


def cleaning_stats(lake: LakeResource, asset: str) -> dict | None:
    """The accounting of the published version of a cleaned table (None before the first)."""
    path = contract.TABLES[asset].path
    if lake.published(path) is None:
        return None
    return read_json(lake, f"{lake.resolve(path)}/{CLEANING_STATS}")


def without_pii(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[c for c in PII_COLUMNS if c in df.columns])


def table_schema(df: pd.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name=str(c), type=str(t)) for c, t in df.dtypes.items()]
    )


def markdown_preview(df: pd.DataFrame, rows: int = 5, max_cols: int = 12) -> str:
    """A small Markdown table of the first rows, PII columns removed."""
    head = without_pii(df).head(rows)
    cols = list(head.columns)[:max_cols]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in head[cols].iterrows():
        cells = []
        for v in row.tolist():
            text = f"{v:,.2f}" if isinstance(v, float) else str(v)
            cells.append(text.replace("|", "/")[:40])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


PREVIEW_ROWS = 5


@dataclass
class WrittenTable:
    """A table an asset step has written to the lake, with what its metadata is built from.

    ``frame`` holds only the columns the asset summarises (read back from the lake), so a
    million-customer table never crosses into pandas whole; ``sample`` (the first rows)
    gives the preview and the column schema; ``stats`` are the stage's small stats views.
    """

    path: str  # where it was written: a staged version of ``table``
    rows: int
    sample: pd.DataFrame
    frame: pd.DataFrame
    table: str = ""  # the table's own folder (its contract path), published from ``path``
    stats: dict = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.sample.columns]

    @classmethod
    def from_lake(
        cls, lake: LakeResource, path: str, columns: Sequence[str] = (), table: str = ""
    ) -> WrittenTable:
        """A table an engine wrote: row count from the footers, a sample, ``columns`` read."""
        import pandas as pd

        frame = (
            lake.read_table(path, columns=list(columns)).to_pandas() if columns else pd.DataFrame()
        )
        return cls(
            path=path,
            rows=lake.count_rows(path),
            sample=lake.head_table(path, PREVIEW_ROWS).to_pandas(),
            frame=frame,
            table=table or path,
        )


def table_metadata(lake: LakeResource, table: WrittenTable, **extra: Any) -> dict:
    meta: dict[str, Any] = {
        "dagster/row_count": dg.MetadataValue.int(table.rows),
        "dagster/column_schema": table_schema(table.sample),
        "preview": dg.MetadataValue.md(markdown_preview(table.sample, rows=PREVIEW_ROWS)),
        "lake_path": dg.MetadataValue.text(table.table),
        "uri": dg.MetadataValue.path(lake.uri(table.path)),
    }
    written = contract.table_at(table.table)
    if written is not None and written.name in contract.TABLES:
        meta["dagster/column_lineage"] = _column_lineage(lake, written.name, table.columns)
    meta.update(extra)
    return meta


def table_columns(lake: LakeResource, asset: str) -> list[str]:
    """Columns of a customer asset: the contract for raw files, the Parquet schema otherwise."""
    if asset in contract.DELIVERIES:
        return list(contract.DELIVERIES[asset].columns)
    path = contract.TABLES[asset].path
    if not lake.exists(path):
        return []
    return list(lake.read_table_schema(path).names)


def _column_lineage(lake: LakeResource, asset: str, columns: list[str]) -> dg.TableColumnLineage:
    from finance_platform.defs.customers.lineage import IDENTITY_FROM, column_lineage

    upstream = {name: table_columns(lake, name) for name in IDENTITY_FROM.get(asset, ())}
    return column_lineage(asset, columns, upstream)


def previous_row_count(context: dg.AssetExecutionContext) -> int | None:
    """Row count of this asset's last recorded materialization (before the current one)."""
    event = context.instance.get_latest_materialization_event(context.asset_key)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get("dagster/row_count")
    return int(value.value) if value is not None else None


def latest_metadata(instance: dg.DagsterInstance, key: str) -> dict[str, Any]:
    """Plain values of the latest materialization's metadata of asset ``key`` ({} if none)."""
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    if event is None or event.asset_materialization is None:
        return {}
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def write_json(lake: LakeResource, path: str, payload: dict) -> None:
    lake.write_bytes(path, json.dumps(payload, default=str, indent=1).encode())


def read_json(lake: LakeResource, path: str) -> dict | None:
    if not lake.exists(path):
        return None
    return json.loads(lake.read_bytes(path))


@dataclass(frozen=True)
class LoggedEvaluation:
    """Where ``append_quality_log`` wrote, and whether it began that day's partition."""

    path: str
    new_partition: bool


_QUALITY_LOGS_REGISTERED: set[str] = set()  # catalogs this process has registered them in


def register_quality_log(catalog: Any, lake: LakeResource, logged: LoggedEvaluation) -> None:
    """Keep the catalog's ``quality_logs`` table current: registered once per process and
    catalog, and again whenever an evaluation begins a new day's partition (a registration
    lists the lake and reads the catalog: 28 checks a run need not each pay for it)."""
    key = f"{type(catalog).__name__}:{catalog.model_dump_json()}"
    if logged.new_partition or key not in _QUALITY_LOGS_REGISTERED:
        catalog.register_lake_table(lake, QUALITY_LOGS, description=QUALITY_LOGS_DESCRIPTION)
        _QUALITY_LOGS_REGISTERED.add(key)


QUALITY_LOGS_DESCRIPTION = (
    "One row per quality-check evaluation: when, which run, asset and check, passed, severity, "
    "what was observed (JSON) and the threshold; partitioned by the evaluation's UTC date."
)


def append_quality_log(
    lake: LakeResource,
    *,
    run_id: str,
    asset: str,
    check: str,
    passed: bool,
    severity: str,
    observed: dict[str, Any],
    threshold: str = "",
) -> LoggedEvaluation:
    """One row per check evaluation: ``monitoring/quality_logs/date=<D>/<time>-<id>.parquet``.

    Object stores cannot append, so each evaluation is its own small file in a
    date-partitioned table; ``lake.read_table("monitoring/quality_logs")`` reads them all.
    """
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    now = dt.datetime.now(dt.UTC)
    row = pa.table(
        {
            "evaluated_at": pa.array([now], pa.timestamp("us", tz="UTC")),
            "run_id": [run_id],
            "asset": [asset],
            "check": [check],
            "passed": [bool(passed)],
            "severity": [severity],
            "observed": [json.dumps(observed, default=str, sort_keys=True)],
            "threshold": [threshold],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(row, buffer)
    day = f"{QUALITY_LOGS}/date={now:%Y-%m-%d}"
    new_partition = not lake.exists(day)
    path = f"{day}/{now:%H%M%S%f}-{uuid.uuid4().hex[:8]}.parquet"
    lake.write_bytes(path, buffer.getvalue())
    return LoggedEvaluation(path, new_partition)


def png_markdown(fig, title: str) -> str:
    """A matplotlib figure as an inline base64 PNG in Markdown (closes the figure)."""
    import base64
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f"**{title}**\n\n![{title}](data:image/png;base64,{encoded})"


def bar_chart(
    labels: list[str], values: list[float], title: str, xlabel: str, ylabel: str = "customers"
) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.bar(labels, values, color="#3b6ea5")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", labelsize=8)
    return png_markdown(fig, title)


def histogram(values, title: str, xlabel: str, bins: int = 30, log: bool = False) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    data = np.asarray(values, dtype="float64")
    data = data[np.isfinite(data)]
    if log:
        data = np.log10(np.clip(data, 1, None))
        xlabel = f"log10({xlabel})"
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist(data, bins=bins, color="#a5563b")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("customers")
    return png_markdown(fig, title)


def histograms_by_group(
    values, groups, title: str, xlabel: str, bins: int = 20, value_range=(0.0, 100.0)
) -> str:
    """One outlined histogram per group on shared bins (e.g. the score of each product)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    labels = pd.Categorical(groups)
    frame = pd.DataFrame({"value": np.asarray(values, dtype="float64"), "group": labels.codes})
    names = labels.categories
    edges = np.linspace(value_range[0], value_range[1], bins + 1)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for code, part in frame.groupby("group"):
        data = part["value"].to_numpy()
        counts, _ = np.histogram(data[np.isfinite(data)], bins=edges)
        ax.stairs(counts, edges, linewidth=1.6, label=str(names[code]) if code >= 0 else "?")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("customers")
    ax.legend(fontsize=8)
    return png_markdown(fig, title)
