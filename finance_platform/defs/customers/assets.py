"""Customer analytics assets (group ``customers``): raw deliveries -> cleaned -> features ->
segments -> recommendations. Thin wiring: read from the lake, call a transform, write, describe.
"""

import posixpath
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg

from finance_platform.defs.customers import raw_files
from finance_platform.defs.customers.common import (
    CLEANING_STATS,
    GROUP,
    OWNERS,
    WrittenTable,
    bar_chart,
    histogram,
    histograms_by_group,
    latest_metadata,
    previous_row_count,
    table_metadata,
    write_json,
)
from finance_platform.resources.catalog import CatalogResource
from finance_platform.resources.engine import CustomerEngine, LocalEngine
from finance_platform.resources.lake import LakeResource
from finance_platform.settings import load_customer_settings
from finance_platform.transforms.customers import contract, rules
from finance_platform.transforms.customers.contract import Delivery


def _raw_asset(raw: Delivery) -> dg.AssetsDefinition:
    table = raw.file

    @dg.asset(
        name=raw.name,
        group_name=GROUP,
        owners=OWNERS,
        kinds={"csv", "s3"},
        tags={"layer": "raw"},
        code_version="2",
        description=f"The newest delivery of the bank's {table}.csv, found as "
        f"`<lake>/raw/{table}/{table}[_<YYYYMMDD>].csv` or `<lake>/raw/{table}[_<YYYYMMDD>].csv`, "
        "registered as delivered (not copied): header, row count, delivery date (from the name, "
        "else the object's modification time), encoding (UTF-8 or GB18030, detected), BOM and "
        "line endings. An empty or header-only file, or a missing required column, fails here, "
        "naming the file.",
    )
    def _asset(
        context: dg.AssetExecutionContext, lake: LakeResource, catalog: CatalogResource
    ) -> dg.MaterializeResult:
        delivery = raw_files.latest_delivery(lake, table)
        if delivery is None:
            raise dg.Failure(raw_files.no_delivery_message(lake, table))
        try:
            fmt = raw_files.file_format(lake, delivery.path, load_customer_settings().encoding)
        except raw_files.DeliveryError as exc:
            failure = dg.Failure(f"{table} delivery {exc}", metadata={"file": delivery.path})
        else:
            failure = None
        if failure is not None:
            raise failure
        header = raw_files.read_header(lake, delivery.path, fmt)
        rows = raw_files.count_rows(lake, delivery.path)
        if not any(header) or rows == 0:
            problem = "is empty: no header, no rows" if not any(header) else "has no data rows"
            raise dg.Failure(
                f"{table} delivery {delivery.path} {problem} (header only)"
                if any(header)
                else f"{table} delivery {delivery.path} {problem}",
                metadata={"file": delivery.path, "header": dg.MetadataValue.json(header)},
            )
        required = raw.columns
        missing = [c for c in required if c not in header]
        if missing:
            raise dg.Failure(
                f"{table} delivery {delivery.path} is missing required column(s): "
                + ", ".join(missing),
                metadata={"missing_columns": ", ".join(missing)},
            )
        extra = [c for c in header if c not in required]
        context.log.info(
            f"{table}: delivery {delivery.name} of {delivery.date_iso} ({delivery.date_source}), "
            f"{rows:,} rows, {fmt.encoding}{' with BOM' if fmt.bom else ''}, {fmt.line_endings}"
        )
        modified = delivery.modified.isoformat() if delivery.modified else ""
        folder = f"{raw_files.RAW_ROOT}/{table}"
        if posixpath.dirname(delivery.path) == folder:
            catalog_meta = register(
                context, catalog, lake, folder, raw.description, encoding=fmt.encoding
            )
        else:  # Athena and DuckDB read a folder as a table, not one file among others
            context.log.warning(
                f"{table}: {delivery.path} is not in {folder}/, so no catalog table reads it: "
                f"deliver it there to query it as {table} in the raw database"
            )
            catalog_meta = {"catalog_table": dg.MetadataValue.text("")}
        return dg.MaterializeResult(
            metadata={
                **catalog_meta,
                "dagster/row_count": dg.MetadataValue.int(rows),
                "dagster/column_schema": dg.TableSchema(
                    columns=[dg.TableColumn(c, "string") for c in header]
                ),
                "lake_path": dg.MetadataValue.text(delivery.path),
                "uri": dg.MetadataValue.path(lake.uri(delivery.path)),
                "delivery_date": dg.MetadataValue.text(delivery.date_iso),
                "delivery_date_source": dg.MetadataValue.text(delivery.date_source),
                "modified_time": dg.MetadataValue.text(modified),
                "encoding": dg.MetadataValue.text(fmt.encoding),
                "encoding_source": dg.MetadataValue.text(fmt.encoding_source),
                "bom": dg.MetadataValue.bool(fmt.bom),
                "line_endings": dg.MetadataValue.text(fmt.line_endings),
                "ends_with_newline": dg.MetadataValue.bool(fmt.ends_with_newline),
                "extra_columns": dg.MetadataValue.json(extra),
            }
        )

    return _asset


raw_customer_base = _raw_asset(contract.RAW_CUSTOMER_BASE)
raw_customer_behavior_assets = _raw_asset(contract.RAW_CUSTOMER_BEHAVIOR)


def _delivery_path(context: dg.AssetExecutionContext, lake: LakeResource, raw: Delivery) -> str:
    """The delivery the raw asset registered (so a file landing mid-run is not mixed in)."""
    path = latest_metadata(context.instance, raw.name).get("lake_path")
    if path and lake.exists(path):
        return path
    delivery = raw_files.latest_delivery(lake, raw.file)
    if delivery is None:
        raise dg.Failure(raw_files.no_delivery_message(lake, raw.file))
    return delivery.path


def build_table(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    engine: CustomerEngine,
    asset_name: str,
    *,
    summarise: tuple[str, ...] = (),
    params: dict | None = None,
) -> WrittenTable:
    """Build an asset's table on ``engine`` into a new (staged) version.

    Every engine runs the table's SQL stage and writes the table itself; only the
    ``summarise`` columns the asset's metadata needs are read back. Nothing is visible to
    readers until ``publish_result`` switches the table to this version.
    """
    path = contract.TABLES[asset_name].path
    staged = lake.stage(path, context.run_id)
    stats = engine.build(context, lake, asset_name, params or {}, {asset_name: staged})
    written = WrittenTable.from_lake(lake, staged, summarise, table=path)
    written.stats = stats
    return written


def source_delivery(lake: LakeResource) -> str:
    """The deliveries the published cleaned tables were built from (``base + behaviour``)."""
    names = []
    for asset in ("cleaned_customer_base", "cleaned_customer_behavior"):
        pointer = lake.published(contract.TABLES[asset].path) or {}
        names.append(str(pointer.get("info", {}).get("delivery", "?")))
    return " + ".join(names)


def publish_result(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    catalog: CatalogResource,
    written: WrittenTable,
    delivery: str,
    **metadata,
) -> dg.MaterializeResult:
    """Describe the staged table, switch the table to it, register it in the catalog under its
    ``database.table`` name, and report it: the step's last acts.

    Anything that fails before the switch leaves the last good version in place.
    """
    meta = table_metadata(lake, written, **metadata)
    pointer = lake.publish(
        written.table, written.path, {"run_id": context.run_id, "delivery": delivery}
    )
    meta["version"] = dg.MetadataValue.text(pointer["version"])
    meta["source_delivery"] = dg.MetadataValue.text(delivery)
    meta["versions_kept"] = dg.MetadataValue.int(len(pointer["history"]))
    table = contract.table_at(written.table)
    meta.update(register(context, catalog, lake, written.table, table.description if table else ""))
    return dg.MaterializeResult(metadata=meta)


def register(
    context: dg.AssetExecutionContext,
    catalog: CatalogResource,
    lake: LakeResource,
    lake_path: str,
    description: str = "",
    *,
    encoding: str = "utf-8",
) -> dict[str, dg.MetadataValue]:
    """Register what the lake now holds at ``lake_path`` (schema, location, partitions) in the
    catalog, and return the metadata naming its catalog table."""
    registration = catalog.register_lake_table(
        lake, lake_path, description=description, encoding=encoding
    )
    context.log.info(
        f"catalog: {registration.table} ({registration.catalog}) -> {registration.location}"
    )
    if registration.note:
        context.log.warning(f"catalog: {registration.table}: {registration.note}")
    return registration.metadata()


def _cleaning_stats(stats: dict, asset_name: str, cleaned_rows: int, quarantined_rows: int) -> dict:
    """The cleaning stage's accounting, checked against the rows written (Parquet footers):
    every delivered line is in the cleaned table, the quarantine or the duplicate count."""
    (accounting,) = stats[f"{asset_name}_accounting"]
    raw_rows = int(accounting["raw_rows"])
    duplicates = int(accounting["duplicates_removed"])
    placed = cleaned_rows + quarantined_rows + duplicates
    if raw_rows != placed or quarantined_rows != int(accounting["quarantined_rows"]):
        raise dg.Failure(
            f"{asset_name}: {raw_rows:,} delivered rows but {cleaned_rows:,} cleaned, "
            f"{quarantined_rows:,} quarantined and {duplicates:,} removed as duplicates were "
            "written: the cleaning rules lost or invented rows",
            metadata={
                "raw_rows": raw_rows,
                "cleaned_rows_written": cleaned_rows,
                "quarantined_rows_written": quarantined_rows,
                "quarantined_rows_judged": int(accounting["quarantined_rows"]),
                "duplicates_removed": duplicates,
            },
        )
    lines = max(raw_rows, 1)
    return {
        "raw_rows": raw_rows,
        "duplicates_removed": duplicates,
        "reasons": {str(r["reason"]): int(r["rows"]) for r in stats[f"{asset_name}_reasons"]},
        "missing_rates": {
            str(r["column_name"]): int(r["empty_rows"]) / lines
            for r in stats[f"{asset_name}_missing"]
        },
        "extremes": {
            str(r["column_name"]): {
                "rows": int(r["rows"]),
                "customers": int(r["customers"]),
                "low": None if r["low"] is None else float(r["low"]),
                "high": None if r["high"] is None else float(r["high"]),
            }
            for r in stats[f"{asset_name}_extremes"]
        },
    }


def _clean(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    engine: CustomerEngine,
    catalog: CatalogResource,
    asset_name: str,
) -> dg.MaterializeResult:
    import datetime as dt

    settings = load_customer_settings()
    cleaned_table = contract.TABLES[asset_name]
    table_path, quarantine = cleaned_table.path, cleaned_table.quarantine.path
    path = _delivery_path(context, lake, cleaned_table.delivery)
    table = cleaned_table.delivery.file
    staged = lake.stage(table_path, context.run_id)
    staged_quarantine = lake.stage(quarantine, context.run_id)
    try:
        fmt = raw_files.file_format(lake, path, settings.encoding)
    except raw_files.DeliveryError as exc:
        failure = dg.Failure(f"{table} delivery {exc}")
    else:
        failure = None
    if failure is not None:
        raise failure
    stats = engine.build(
        context,
        lake,
        asset_name,
        {
            "deliveries": {table: path},
            "encodings": {table: fmt.encoding},
            "headers": {table: raw_files.read_header(lake, path, fmt)},
            "age_min": settings.age_min,
            "age_max": settings.age_max,
            "sigma": settings.outlier_sigma,
        },
        {asset_name: staged, cleaned_table.quarantine.name: staged_quarantine},
    )
    cleaned = WrittenTable.from_lake(lake, staged, table=table_path)
    quarantined = lake.count_rows(staged_quarantine)
    accounting = _cleaning_stats(stats, asset_name, cleaned.rows, quarantined)
    raw_rows, duplicates = accounting["raw_rows"], accounting["duplicates_removed"]
    reasons, extremes = accounting["reasons"], accounting["extremes"]
    missing_rates = {c: round(float(v), 6) for c, v in accounting["missing_rates"].items()}
    previous = previous_row_count(context)
    stats = {
        "asset": asset_name,
        "delivery": path,
        "encoding": fmt.encoding,
        "run_id": context.run_id,
        "written_at": dt.datetime.now(dt.UTC).isoformat(),
        "raw_rows_parsed": raw_rows,
        "cleaned_rows": cleaned.rows,
        "quarantined_rows": quarantined,
        "duplicates_removed": duplicates,
        "quarantine_reasons": reasons,
        "missing_rates": missing_rates,
        "extremes": extremes,
        "previous_row_count": previous,
    }
    write_json(lake, f"{staged}/{CLEANING_STATS}", stats)
    if duplicates:
        context.log.warning(f"{asset_name}: removed {duplicates:,} duplicate rows")
    for column, found in extremes.items():
        if found.get("rows"):
            context.log.warning(
                f"{asset_name}: {found['rows']:,} rows ({found['customers']:,} customers) "
                f"beyond {settings.outlier_sigma:g} sigma of all customers' {column}: kept, flagged"
            )
    lake.publish(quarantine, staged_quarantine, {"run_id": context.run_id, "delivery": path})
    quarantine_catalog = register(
        context, catalog, lake, quarantine, cleaned_table.quarantine.description
    )
    return publish_result(
        context,
        lake,
        catalog,
        cleaned,
        path,
        quarantine_catalog_table=quarantine_catalog["catalog_table"],
        previous_row_count=dg.MetadataValue.int(previous if previous is not None else -1),
        quarantined_rows=dg.MetadataValue.int(quarantined),
        quarantine_path=dg.MetadataValue.text(quarantine),
        duplicates_removed=dg.MetadataValue.int(duplicates),
        quarantine_reasons=dg.MetadataValue.json(reasons),
        cross_sectional_extremes=dg.MetadataValue.json(extremes),
        source_encoding=dg.MetadataValue.text(fmt.encoding),
    )


# What a step of an engine-built asset does: (context, lake, engine, catalog) -> its result.
Step = Callable[
    [dg.AssetExecutionContext, LakeResource, CustomerEngine, CatalogResource],
    dg.MaterializeResult,
]
# The asset's own metadata from the table it built: (context, table, run params) -> metadata.
Describe = Callable[[dg.AssetExecutionContext, WrittenTable, dict[str, Any]], dict[str, Any]]


def engine_asset(
    name: str,
    *,
    deps: Sequence[dg.AssetsDefinition],
    layer: str,
    description: str,
    step: Step,
) -> dg.AssetsDefinition:
    """An asset whose table the customer engine builds: the header every one of them shares.

    Declared with the local engine's kind; ``assets_on`` shows the configured engine's.
    """

    @dg.asset(
        name=name,
        group_name=GROUP,
        owners=OWNERS,
        deps=deps,
        kinds={"parquet", LocalEngine.kind},
        tags={"layer": layer},
        code_version="1",
        description=description,
    )
    def _asset(
        context: dg.AssetExecutionContext,
        lake: LakeResource,
        customer_engine: CustomerEngine,
        catalog: CatalogResource,
    ) -> dg.MaterializeResult:
        return step(context, lake, customer_engine, catalog)

    return _asset


def _nothing_more(
    context: dg.AssetExecutionContext, written: WrittenTable, params: dict[str, Any]
) -> dict[str, Any]:
    return {}


def table_asset(
    name: str,
    *,
    deps: Sequence[dg.AssetsDefinition],
    layer: str,
    description: str,
    summarise: tuple[str, ...] = (),
    params: Callable[[], dict[str, Any]] = dict,
    describe: Describe = _nothing_more,
) -> dg.AssetsDefinition:
    """An engine-built table from the cleaned tables on: build it, then describe and publish.

    ``summarise`` names the columns ``describe`` reads back; ``params`` are the stage's
    run-time parameters (asked for when the step runs).
    """

    def step(
        context: dg.AssetExecutionContext,
        lake: LakeResource,
        engine: CustomerEngine,
        catalog: CatalogResource,
    ) -> dg.MaterializeResult:
        run_params = params()
        written = build_table(context, lake, engine, name, summarise=summarise, params=run_params)
        metadata = describe(context, written, run_params)
        return publish_result(context, lake, catalog, written, source_delivery(lake), **metadata)

    return engine_asset(name, deps=deps, layer=layer, description=description, step=step)


def cleaned_asset(
    name: str, *, deps: Sequence[dg.AssetsDefinition], description: str
) -> dg.AssetsDefinition:
    """A cleaned table (and its quarantine) from the delivery its raw asset registered."""

    def step(
        context: dg.AssetExecutionContext,
        lake: LakeResource,
        engine: CustomerEngine,
        catalog: CatalogResource,
    ) -> dg.MaterializeResult:
        return _clean(context, lake, engine, catalog, name)

    return engine_asset(name, deps=deps, layer="cleaned", description=description, step=step)


cleaned_customer_base = cleaned_asset(
    "cleaned_customer_base",
    deps=[raw_customer_base],
    description="One row per customer: typed, one date format, English codes beside the Chinese "
    "labels, duplicates removed (counted). Rows with bad numbers/dates, empty keys, ages outside "
    f"18..100 or 3-sigma (log) income go to `<lake>/{contract.QUARANTINE_CUSTOMER_BASE.path}/` "
    f"with a reason. Stored at `<lake>/{contract.CLEANED_CUSTOMER_BASE.path}` (the name column "
    "stays in storage only).",
)

cleaned_customer_behavior = cleaned_asset(
    "cleaned_customer_behavior",
    deps=[raw_customer_behavior_assets],
    description="Monthly snapshots, full history, one row per (customer_id, stat_month): typed, "
    "contact_result_code with an explicit contact_result_missing flag (empty result and no "
    "contact time = no_contact), asset_level_code. Negative balances, bad dates/numbers and "
    f"3-sigma (log) total_assets go to `<lake>/{contract.QUARANTINE_CUSTOMER_BEHAVIOR.path}/`.",
)


def _describe_features(
    context: dg.AssetExecutionContext, written: WrittenTable, params: dict[str, Any]
) -> dict[str, Any]:
    summary = written.frame
    views = summary["current_view_status"].astype("str").value_counts()
    views = {status: int(views.get(status, 0)) for status in rules.VIEW_STATUSES}
    if views[rules.VIEW_STALE] or views[rules.VIEW_MISSING]:
        context.log.warning(
            f"customer_features: current view not from the newest month for "
            f"{views[rules.VIEW_STALE]:,} customers (stale) and missing for "
            f"{views[rules.VIEW_MISSING]:,}: flagged in current_view_status"
        )
    return {
        "mean_engagement_score": float(summary["engagement_score"].mean()),
        "customers_without_behavior": int((~summary["has_behavior"].astype(bool)).sum()),
        "current_view_status": dg.MetadataValue.json(views),
    }


customer_features = table_asset(
    "customer_features",
    deps=[cleaned_customer_base, cleaned_customer_behavior],
    layer="features",
    description="One row per cleaned customer (current view = latest clean month, with "
    "current_view_status current/stale/missing against the delivery's newest month and the "
    "quarantine, and cool_period_known): lifecycle_score "
    "(0-100, stage + tenure), asset_tier (quintile of log assets, ties by customer_id), "
    "engagement_score (RFM: login recency, login/investment frequency, spend and assets), "
    f"product_cross_sell_index. No names. `<lake>/{contract.CUSTOMER_FEATURES.path}`.",
    summarise=("engagement_score", "has_behavior", "current_view_status"),
    describe=_describe_features,
)

behavior_metrics = table_asset(
    "behavior_metrics",
    deps=[cleaned_customer_behavior],
    layer="features",
    description="Per customer: 3- and 6-month averages and trends (least-squares slope per month "
    "relative to the window mean) of total assets, card spend and app logins. "
    f"`<lake>/{contract.BEHAVIOR_METRICS.path}`.",
)


def _describe_segments(
    context: dg.AssetExecutionContext, written: WrittenTable, params: dict[str, Any]
) -> dict[str, Any]:
    sizes = written.frame["segment_id"].astype("str").value_counts().sort_index()
    return {
        "segment_sizes": dg.MetadataValue.json({k: int(v) for k, v in sizes.items()}),
        "segment_size_chart": dg.MetadataValue.md(
            bar_chart(list(sizes.index), sizes.tolist(), "Customers per segment", "segment")
        ),
    }


customer_segments = table_asset(
    "customer_segments",
    deps=[customer_features],
    layer="business",
    description="Every customer in exactly one of 11 segments (assets x card spend x engagement, "
    "lifecycle for new customers; first matching rule of rules.SEGMENT_RULES): segment_id "
    "S001.., segment_name (English / Chinese), segment_characteristics. "
    f"`<lake>/{contract.CUSTOMER_SEGMENTS.path}`.",
    summarise=("segment_id",),
    describe=_describe_segments,
)


def _describe_profiles(
    context: dg.AssetExecutionContext, written: WrittenTable, params: dict[str, Any]
) -> dict[str, Any]:
    ordered = written.frame.sort_values("segment_id")
    chart = bar_chart(
        ordered["segment_id"].astype("str").tolist(),
        ordered["avg_total_assets"].fillna(0.0).tolist(),
        "Average total assets per segment (CNY)",
        "segment",
        ylabel="average total assets (CNY)",
    )
    return {"avg_total_assets_chart": dg.MetadataValue.md(chart)}


segment_profiles = table_asset(
    "segment_profiles",
    deps=[customer_segments, customer_features],
    layer="business",
    description="One row per segment (all 11, empty ones with size 0): customers, share and "
    "averages of assets, spend, engagement, lifecycle score, income, age, products. "
    f"`<lake>/{contract.SEGMENT_PROFILES.path}`.",
    summarise=("segment_id", "avg_total_assets"),
    describe=_describe_profiles,
)


def _describe_recommendations(
    context: dg.AssetExecutionContext, written: WrittenTable, params: dict[str, Any]
) -> dict[str, Any]:
    recs = written.frame
    means = recs.groupby("product", observed=True)["score"].mean().round(2)
    chart = histograms_by_group(
        recs["score"],
        recs["product"],
        "Score distribution per product (all customers)",
        "score (0-100)",
    )
    return {
        "mean_score_by_product": dg.MetadataValue.json(
            {str(k): float(v) for k, v in means.items()}
        ),
        "score_distribution_chart": dg.MetadataValue.md(chart),
    }


product_recommendations = table_asset(
    "product_recommendations",
    deps=[customer_features, customer_segments],
    layer="business",
    description="Every customer x 4 products (wealth management, fund, insurance, credit-card "
    "upgrade): score 0-100 (rules.PRODUCT_WEIGHTS), purchase probability (logistic of the score "
    "and the last contact result), expected value (CNY/year) and priority = score x probability "
    f"x expected value. `<lake>/{contract.PRODUCT_RECOMMENDATIONS.path}`.",
    summarise=("product", "score"),
    describe=_describe_recommendations,
)


def _marketing_params() -> dict[str, Any]:
    """The run date of the cool periods, read when the step runs (pinned for reruns)."""
    return {"run_date": load_customer_settings().marketing_run_date().isoformat()}


def _describe_targets(
    context: dg.AssetExecutionContext, written: WrittenTable, params: dict[str, Any]
) -> dict[str, Any]:
    excluded = written.stats["marketing_targets_excluded"]
    cooling = sum(int(r["customers"]) for r in excluded if r["reason"] == "cool_period")
    unknown = {
        str(r["current_view_status"]): int(r["customers"])
        for r in excluded
        if r["reason"] == "unknown_cool_period"
    }
    if unknown:
        context.log.warning(
            f"marketing_targets: {sum(unknown.values()):,} customers not targeted because their "
            f"cool-period status is unknown ({unknown})"
        )
    targets = written.frame
    by_product = targets["recommended_product"].astype("str").value_counts()
    return {
        "run_date": dg.MetadataValue.text(params["run_date"]),
        "customers_in_cool_period": dg.MetadataValue.int(cooling),
        "excluded_unknown_cool_period": dg.MetadataValue.int(sum(unknown.values())),
        "excluded_unknown_cool_period_by_status": dg.MetadataValue.json(unknown),
        "targets_by_product": dg.MetadataValue.json({k: int(v) for k, v in by_product.items()}),
        "priority_score_chart": dg.MetadataValue.md(
            histogram(
                targets["priority_score"].to_numpy(),
                "Priority score distribution (targeted customers)",
                "priority_score",
                log=True,
            )
        ),
        "targets_by_product_chart": dg.MetadataValue.md(
            bar_chart(
                list(by_product.index),
                by_product.tolist(),
                "Targets per recommended product",
                "product",
            )
        ),
    }


marketing_targets = table_asset(
    "marketing_targets",
    deps=[product_recommendations, customer_features, customer_segments],
    layer="business",
    description="One ranked row per targeted customer: customer_id, recommended_product, "
    "priority_score, expected_value, reason (no names). Customers inside their "
    "marketing_cool_period on the run date (FINANCE_CUSTOMERS_RUN_DATE, default today UTC) "
    "customers whose cool-period status is unknown (newest snapshot quarantined or missing: "
    "counted in metadata) and best offers below the score/probability bars are not targeted. "
    f"`<lake>/{contract.MARKETING_TARGETS.path}`.",
    summarise=("recommended_product", "priority_score"),
    params=_marketing_params,
    describe=_describe_targets,
)


# The steps the customer engine builds (declared with the local engine's kind, duckdb).
ENGINE_ASSETS = [
    cleaned_customer_base,
    cleaned_customer_behavior,
    customer_features,
    behavior_metrics,
    customer_segments,
    segment_profiles,
    product_recommendations,
    marketing_targets,
]

RAW_ASSETS = [raw_customer_base, raw_customer_behavior_assets]
ASSETS = [*RAW_ASSETS, *ENGINE_ASSETS]


def assets_on(engine_kind: str) -> list[dg.AssetsDefinition]:
    """``ASSETS``, the engine-built ones showing kind ``engine_kind`` (``duckdb``, ``spark``)."""

    def kinds(spec: dg.AssetSpec) -> dg.AssetSpec:
        return spec.replace_attributes(kinds={"parquet", engine_kind})

    return [*RAW_ASSETS, *(a.map_asset_specs(kinds) for a in ENGINE_ASSETS)]
