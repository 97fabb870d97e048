"""Customer analytics assets (group ``customers``): raw deliveries -> cleaned -> features ->
segments -> recommendations. Thin wiring: read from the lake, call a transform, write, describe.
"""

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
    write_frame,
    write_json,
)
from finance_platform.resources.engine import CustomerEngine, PandasEngine
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
    def _asset(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
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
        return dg.MaterializeResult(
            metadata={
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


def _lake_versions(lake: LakeResource, outputs: dict[str, str]) -> dict[str, dict[str, str]]:
    """What a Spark job reads and writes: published versions in, staged versions out."""
    tables = (*contract.TABLES.values(), *contract.QUARANTINES.values())
    return {
        "lake_reads": {t.path: lake.resolve(t.path) for t in tables},
        "lake_writes": outputs,
    }


def build_table(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    engine: CustomerEngine,
    asset_name: str,
    build,
    *,
    summarise: tuple[str, ...] = (),
    spark_params: dict | None = None,
) -> WrittenTable:
    """Build an asset's table on ``engine`` into a new (staged) version.

    pandas (default): ``build()`` returns the table, written here. Spark engines: the
    Spark job writes the table itself and only the ``summarise`` columns the asset's
    metadata needs are read back (``build`` is not called). Nothing is visible to
    readers until ``publish_result`` switches the table to this version.
    """
    path = contract.TABLES[asset_name].path
    staged = lake.stage(path, context.run_id)
    if engine.is_spark:
        params = {**(spark_params or {}), **_lake_versions(lake, {path: staged})}
        engine.run_step(context, asset_name, params)
        return WrittenTable.from_lake(lake, staged, summarise, table=path)
    frame = build()
    write_frame(lake, staged, frame)
    return WrittenTable.from_frame(staged, frame, table=path)


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
    written: WrittenTable,
    delivery: str,
    **metadata,
) -> dg.MaterializeResult:
    """Describe the staged table, switch the table to it, and report it: the step's last act.

    Anything that fails before this line leaves the last good version in place.
    """
    meta = table_metadata(lake, written, **metadata)
    pointer = lake.publish(
        written.table, written.path, {"run_id": context.run_id, "delivery": delivery}
    )
    meta["version"] = dg.MetadataValue.text(pointer["version"])
    meta["source_delivery"] = dg.MetadataValue.text(delivery)
    meta["versions_kept"] = dg.MetadataValue.int(len(pointer["history"]))
    return dg.MaterializeResult(metadata=meta)


def _clean(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    engine: CustomerEngine,
    asset_name: str,
    clean_fn,
) -> dg.MaterializeResult:
    import datetime as dt

    from finance_platform.transforms.customers.cleaning import CleaningConfig

    settings = load_customer_settings()
    config = CleaningConfig(settings.age_min, settings.age_max, settings.outlier_sigma)
    cleaned_table = contract.TABLES[asset_name]
    table_path, quarantine = cleaned_table.path, cleaned_table.quarantine.path
    path = _delivery_path(context, lake, cleaned_table.delivery)
    table = cleaned_table.delivery.file
    delivery_name = path.rsplit("/", 1)[-1]
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
    if engine.is_spark:
        job = engine.run_step(
            context,
            asset_name,
            {
                "deliveries": {table: path},
                "encodings": {table: fmt.encoding},
                "headers": {table: raw_files.read_header(lake, path, fmt)},
                "age_min": config.age_min,
                "age_max": config.age_max,
                "sigma": config.sigma,
                **_lake_versions(lake, {table_path: staged, quarantine: staged_quarantine}),
            },
        )
        cleaned = WrittenTable.from_lake(lake, staged, table=table_path)
        quarantined = lake.count_rows(staged_quarantine)
        raw_rows, duplicates = int(job["raw_rows"]), int(job["duplicates_removed"])
        reasons, rates = dict(job["quarantine_reasons"]), dict(job["missing_rates"])
        extremes = dict(job["extremes"])
    else:
        parsed = raw_files.read_delivery(lake, table, path, settings.encoding)
        raw = parsed.frame
        rates = _missing_rates(raw, parsed.malformed)
        result = clean_fn(raw, config, parsed.malformed)
        del raw, parsed
        result.quarantine[contract.DELIVERY] = pd_text(delivery_name, len(result.quarantine))
        write_frame(lake, staged, result.cleaned)
        write_frame(lake, staged_quarantine, result.quarantine)
        cleaned = WrittenTable.from_frame(staged, result.cleaned, table=table_path)
        quarantined = len(result.quarantine)
        raw_rows, duplicates, reasons = result.raw_rows, result.duplicates_removed, result.reasons
        extremes = result.extremes
    missing_rates = {c: round(float(v), 6) for c, v in rates.items()}
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
                f"beyond {config.sigma:g} sigma of all customers' {column}: kept, flagged"
            )
    lake.publish(quarantine, staged_quarantine, {"run_id": context.run_id, "delivery": path})
    return publish_result(
        context,
        lake,
        cleaned,
        path,
        previous_row_count=dg.MetadataValue.int(previous if previous is not None else -1),
        quarantined_rows=dg.MetadataValue.int(quarantined),
        quarantine_path=dg.MetadataValue.text(quarantine),
        duplicates_removed=dg.MetadataValue.int(duplicates),
        quarantine_reasons=dg.MetadataValue.json(reasons),
        cross_sectional_extremes=dg.MetadataValue.json(extremes),
        source_encoding=dg.MetadataValue.text(fmt.encoding),
    )


def pd_text(value: str, rows: int):
    """A text column of one repeated value (typed ``str`` even with no rows)."""
    import pandas as pd

    return pd.array([value] * rows, dtype="str")


def _missing_rates(raw, malformed) -> dict[str, float]:
    """Share of empty values per contract column over every delivered line."""
    rows = len(raw) + (len(malformed) if malformed is not None else 0)
    if rows == 0:
        return dict.fromkeys(raw.columns, 0.0)
    empty = raw.isna().sum()
    if malformed is not None and len(malformed):
        empty = empty.add(malformed.reindex(columns=raw.columns).isna().sum(), fill_value=0)
    return {str(c): float(v) / rows for c, v in empty.items()}


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    deps=[raw_customer_base],
    kinds={"parquet", PandasEngine.kind},
    tags={"layer": "cleaned"},
    code_version="1",
    description="One row per customer: typed, one date format, English codes beside the Chinese "
    "labels, duplicates removed (counted). Rows with bad numbers/dates, empty keys, ages outside "
    f"18..100 or 3-sigma (log) income go to `<lake>/{contract.QUARANTINE_CUSTOMER_BASE.path}/` "
    f"with a reason. Stored at `<lake>/{contract.CLEANED_CUSTOMER_BASE.path}` (the name column "
    "stays in storage only).",
)
def cleaned_customer_base(
    context: dg.AssetExecutionContext, lake: LakeResource, customer_engine: CustomerEngine
) -> dg.MaterializeResult:
    from finance_platform.transforms.customers.cleaning import clean_customer_base

    return _clean(context, lake, customer_engine, "cleaned_customer_base", clean_customer_base)


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    deps=[raw_customer_behavior_assets],
    kinds={"parquet", PandasEngine.kind},
    tags={"layer": "cleaned"},
    code_version="1",
    description="Monthly snapshots, full history, one row per (customer_id, stat_month): typed, "
    "contact_result_code with an explicit contact_result_missing flag (empty result and no "
    "contact time = no_contact), asset_level_code. Negative balances, bad dates/numbers and "
    f"3-sigma (log) total_assets go to `<lake>/{contract.QUARANTINE_CUSTOMER_BEHAVIOR.path}/`.",
)
def cleaned_customer_behavior(
    context: dg.AssetExecutionContext, lake: LakeResource, customer_engine: CustomerEngine
) -> dg.MaterializeResult:
    from finance_platform.transforms.customers.cleaning import clean_customer_behavior

    return _clean(
        context, lake, customer_engine, "cleaned_customer_behavior", clean_customer_behavior
    )


def _read(lake: LakeResource, asset_name: str, columns: list[str] | None = None):
    return lake.read_table(contract.TABLES[asset_name].path, columns=columns).to_pandas()


def _quarantined_months(lake: LakeResource):
    """Ids and months of the quarantined snapshots (features judge current views on them)."""
    path = contract.QUARANTINE_CUSTOMER_BEHAVIOR.path
    if lake.published(path) is None:
        return None
    return lake.read_table(path, columns=["customer_id", "stat_month"]).to_pandas()


def _recent_behavior(lake: LakeResource, months: int):
    """Each customer's last ``months`` snapshots (all customer_features looks at).

    Filtering in Arrow before pandas converts ~3 of 12 monthly rows per customer,
    not the whole history; the features are identical to reading everything.
    """
    import pandas as pd
    import pyarrow.compute as pc

    table = lake.read_table(
        contract.CLEANED_CUSTOMER_BEHAVIOR.path, columns=list(contract.CURRENT_COLUMNS)
    )
    ids = pc.dictionary_encode(table["customer_id"].cast("string")).combine_chunks()
    codes = ids.indices.to_numpy(zero_copy_only=False)
    month = table["month_index"].to_numpy()
    latest = pd.Series(month).groupby(codes).max().to_numpy()
    keep = month > latest[codes] - months
    return table.filter(keep).to_pandas()


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    deps=[cleaned_customer_base, cleaned_customer_behavior],
    kinds={"parquet", PandasEngine.kind},
    tags={"layer": "features"},
    code_version="1",
    description="One row per cleaned customer (current view = latest clean month, with "
    "current_view_status current/stale/missing against the delivery's newest month and the "
    "quarantine, and cool_period_known): lifecycle_score "
    "(0-100, stage + tenure), asset_tier (quintile of log assets, ties by customer_id), "
    "engagement_score (RFM: login recency, login/investment frequency, spend and assets), "
    f"product_cross_sell_index. No names. `<lake>/{contract.CUSTOMER_FEATURES.path}`.",
)
def customer_features(
    context: dg.AssetExecutionContext, lake: LakeResource, customer_engine: CustomerEngine
) -> dg.MaterializeResult:
    from finance_platform.transforms.customers.features import customer_features as build

    def features():
        base = _read(lake, "cleaned_customer_base", list(contract.PROFILE_COLUMNS))
        return build(
            base, _recent_behavior(lake, rules.FREQUENCY_MONTHS), _quarantined_months(lake)
        )

    written = build_table(
        context,
        lake,
        customer_engine,
        "customer_features",
        features,
        summarise=("engagement_score", "has_behavior", "current_view_status"),
    )
    summary = written.frame
    views = summary["current_view_status"].astype("str").value_counts()
    views = {status: int(views.get(status, 0)) for status in rules.VIEW_STATUSES}
    if views[rules.VIEW_STALE] or views[rules.VIEW_MISSING]:
        context.log.warning(
            f"customer_features: current view not from the newest month for "
            f"{views[rules.VIEW_STALE]:,} customers (stale) and missing for "
            f"{views[rules.VIEW_MISSING]:,}: flagged in current_view_status"
        )
    return publish_result(
        context,
        lake,
        written,
        source_delivery(lake),
        mean_engagement_score=float(summary["engagement_score"].mean()),
        customers_without_behavior=int((~summary["has_behavior"].astype(bool)).sum()),
        current_view_status=dg.MetadataValue.json(views),
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    deps=[cleaned_customer_behavior],
    kinds={"parquet", PandasEngine.kind},
    tags={"layer": "features"},
    code_version="1",
    description="Per customer: 3- and 6-month averages and trends (least-squares slope per month "
    "relative to the window mean) of total assets, card spend and app logins. "
    f"`<lake>/{contract.BEHAVIOR_METRICS.path}`.",
)
def behavior_metrics(
    context: dg.AssetExecutionContext, lake: LakeResource, customer_engine: CustomerEngine
) -> dg.MaterializeResult:
    from finance_platform.transforms.customers.features import behavior_metrics as build

    columns = ["customer_id", "month_index", *rules.TREND_METRICS]
    written = build_table(
        context,
        lake,
        customer_engine,
        "behavior_metrics",
        lambda: build(_read(lake, "cleaned_customer_behavior", columns)),
    )
    return publish_result(context, lake, written, source_delivery(lake))


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    deps=[customer_features],
    kinds={"parquet", PandasEngine.kind},
    tags={"layer": "business"},
    code_version="1",
    description="Every customer in exactly one of 11 segments (assets x card spend x engagement, "
    "lifecycle for new customers; first matching rule of rules.SEGMENT_RULES): segment_id "
    "S001.., segment_name (English / Chinese), segment_characteristics. "
    f"`<lake>/{contract.CUSTOMER_SEGMENTS.path}`.",
)
def customer_segments(
    context: dg.AssetExecutionContext, lake: LakeResource, customer_engine: CustomerEngine
) -> dg.MaterializeResult:
    from finance_platform.transforms.customers.segments import assign_segments

    written = build_table(
        context,
        lake,
        customer_engine,
        "customer_segments",
        lambda: assign_segments(_read(lake, "customer_features")),
        summarise=("segment_id",),
    )
    sizes = written.frame["segment_id"].astype("str").value_counts().sort_index()
    return publish_result(
        context,
        lake,
        written,
        source_delivery(lake),
        segment_sizes=dg.MetadataValue.json({k: int(v) for k, v in sizes.items()}),
        segment_size_chart=dg.MetadataValue.md(
            bar_chart(list(sizes.index), sizes.tolist(), "Customers per segment", "segment")
        ),
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    deps=[customer_segments, customer_features],
    kinds={"parquet", PandasEngine.kind},
    tags={"layer": "business"},
    code_version="1",
    description="One row per segment (all 11, empty ones with size 0): customers, share and "
    "averages of assets, spend, engagement, lifecycle score, income, age, products. "
    f"`<lake>/{contract.SEGMENT_PROFILES.path}`.",
)
def segment_profiles(
    context: dg.AssetExecutionContext, lake: LakeResource, customer_engine: CustomerEngine
) -> dg.MaterializeResult:
    from finance_platform.transforms.customers.segments import segment_profiles as build

    def profiles():
        segments = _read(lake, "customer_segments", ["customer_id", "segment_id"])
        averaged = ["customer_id", *contract.PROFILE_AVERAGES]
        return build(segments, _read(lake, "customer_features", averaged))

    written = build_table(
        context,
        lake,
        customer_engine,
        "segment_profiles",
        profiles,
        summarise=("segment_id", "avg_total_assets"),
        spark_params={"profiles_only": True},
    )
    ordered = written.frame.sort_values("segment_id")
    return publish_result(
        context,
        lake,
        written,
        source_delivery(lake),
        avg_total_assets_chart=dg.MetadataValue.md(
            bar_chart(
                ordered["segment_id"].astype("str").tolist(),
                ordered["avg_total_assets"].fillna(0.0).tolist(),
                "Average total assets per segment (CNY)",
                "segment",
                ylabel="average total assets (CNY)",
            )
        ),
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    deps=[customer_features, customer_segments],
    kinds={"parquet", PandasEngine.kind},
    tags={"layer": "business"},
    code_version="1",
    description="Every customer x 4 products (wealth management, fund, insurance, credit-card "
    "upgrade): score 0-100 (rules.PRODUCT_WEIGHTS), purchase probability (logistic of the score "
    "and the last contact result), expected value (CNY/year) and priority = score x probability "
    f"x expected value. `<lake>/{contract.PRODUCT_RECOMMENDATIONS.path}`.",
)
def product_recommendations(
    context: dg.AssetExecutionContext, lake: LakeResource, customer_engine: CustomerEngine
) -> dg.MaterializeResult:
    from finance_platform.transforms.customers.recommendations import (
        product_recommendations as build,
    )

    def recommendations():
        features = _read(lake, "customer_features", list(contract.RECOMMENDATION_FEATURES))
        return build(features, _read(lake, "customer_segments", ["customer_id", "segment_id"]))

    written = build_table(
        context,
        lake,
        customer_engine,
        "product_recommendations",
        recommendations,
        summarise=("product", "score"),
    )
    recs = written.frame
    means = recs.groupby("product", observed=True)["score"].mean().round(2)
    return publish_result(
        context,
        lake,
        written,
        source_delivery(lake),
        mean_score_by_product=dg.MetadataValue.json({str(k): float(v) for k, v in means.items()}),
        score_distribution_chart=dg.MetadataValue.md(
            histograms_by_group(
                recs["score"],
                recs["product"],
                "Score distribution per product (all customers)",
                "score (0-100)",
            )
        ),
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    deps=[product_recommendations, customer_features, customer_segments],
    kinds={"parquet", PandasEngine.kind},
    tags={"layer": "business"},
    code_version="1",
    description="One ranked row per targeted customer: customer_id, recommended_product, "
    "priority_score, expected_value, reason (no names). Customers inside their "
    "marketing_cool_period on the run date (FINANCE_CUSTOMERS_RUN_DATE, default today UTC) "
    "customers whose cool-period status is unknown (newest snapshot quarantined or missing: "
    "counted in metadata) and best offers below the score/probability bars are not targeted. "
    f"`<lake>/{contract.MARKETING_TARGETS.path}`.",
)
def marketing_targets(
    context: dg.AssetExecutionContext, lake: LakeResource, customer_engine: CustomerEngine
) -> dg.MaterializeResult:
    from finance_platform.transforms.customers.recommendations import (
        in_cool_period,
    )
    from finance_platform.transforms.customers.recommendations import (
        marketing_targets as build,
    )

    run_date = load_customer_settings().marketing_run_date()
    features = _read(
        lake,
        "customer_features",
        ["customer_id", "marketing_cool_period", "cool_period_known", "current_view_status"],
    )

    def targets():
        recs = _read(lake, "product_recommendations")
        segments = _read(
            lake, "customer_segments", ["customer_id", "segment_id", "segment_name_en"]
        )
        return build(recs, features, segments, run_date)

    written = build_table(
        context,
        lake,
        customer_engine,
        "marketing_targets",
        targets,
        summarise=("recommended_product", "priority_score"),
        spark_params={"targets_only": True, "run_date": run_date.isoformat()},
    )
    known = features["cool_period_known"].astype(bool).to_numpy()
    cooling = int((in_cool_period(features["marketing_cool_period"], run_date) & known).sum())
    unknown = features.loc[~known, "current_view_status"].astype("str").value_counts()
    if len(unknown):
        context.log.warning(
            f"marketing_targets: {int(unknown.sum()):,} customers not targeted because their "
            f"cool-period status is unknown ({dict(unknown)})"
        )
    targets = written.frame
    by_product = targets["recommended_product"].astype("str").value_counts()
    return publish_result(
        context,
        lake,
        written,
        source_delivery(lake),
        run_date=dg.MetadataValue.text(run_date.isoformat()),
        customers_in_cool_period=dg.MetadataValue.int(cooling),
        excluded_unknown_cool_period=dg.MetadataValue.int(int(unknown.sum())),
        excluded_unknown_cool_period_by_status=dg.MetadataValue.json(
            {str(k): int(v) for k, v in unknown.items()}
        ),
        targets_by_product=dg.MetadataValue.json({k: int(v) for k, v in by_product.items()}),
        priority_score_chart=dg.MetadataValue.md(
            histogram(
                targets["priority_score"].to_numpy(),
                "Priority score distribution (targeted customers)",
                "priority_score",
                log=True,
            )
        ),
        targets_by_product_chart=dg.MetadataValue.md(
            bar_chart(
                list(by_product.index),
                by_product.tolist(),
                "Targets per recommended product",
                "product",
            )
        ),
    )


# The steps the customer engine builds (declared with the default engine's kind, pandas).
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
    """``ASSETS``, the engine-built ones showing kind ``engine_kind`` (``pandas``, ``spark``)."""

    def kinds(spec: dg.AssetSpec) -> dg.AssetSpec:
        return spec.replace_attributes(kinds={"parquet", engine_kind})

    return [*RAW_ASSETS, *(a.map_asset_specs(kinds) for a in ENGINE_ASSETS)]
