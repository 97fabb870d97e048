"""Customer analytics assets (group ``customers``): raw deliveries -> cleaned -> features ->
segments -> recommendations. Thin wiring: read from the lake, call a transform, write, describe.
"""

import dagster as dg

from finance_platform.defs.customers import raw_files
from finance_platform.defs.customers.common import (
    CLEANING_STATS,
    GROUP,
    OWNERS,
    PATHS,
    QUARANTINE,
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
from finance_platform.resources.lake import LakeResource
from finance_platform.resources.spark import run_spark_step, uses_spark
from finance_platform.settings import load_customer_settings
from finance_platform.transforms.customers import rules

RAW_TABLES = {
    "raw_customer_base": "customer_base",
    "raw_customer_behavior_assets": "customer_behavior_assets",
}


def _raw_asset(asset_name: str, table: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=asset_name,
        group_name=GROUP,
        owners=OWNERS,
        kinds={"csv", "s3"},
        tags={"layer": "raw"},
        code_version="1",
        description=f"The newest delivery of the bank's {table}.csv under "
        f"`<lake>/raw/{table}/{table}_<YYYYMMDD>.csv`, registered as delivered (not copied): "
        "header, row count, delivery date. A missing required column fails here, naming it.",
    )
    def _asset(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        delivery = raw_files.latest_delivery(lake, table)
        if delivery is None:
            raise dg.Failure(f"no {table} delivery under {lake.uri(f'raw/{table}')}")
        header = raw_files.read_header(lake, delivery.path)
        required = raw_files.TABLES[table]
        missing = [c for c in required if c not in header]
        if missing:
            raise dg.Failure(
                f"{table} delivery {delivery.path} is missing required column(s): "
                + ", ".join(missing),
                metadata={"missing_columns": ", ".join(missing)},
            )
        extra = [c for c in header if c not in required]
        rows = raw_files.count_rows(lake, delivery.path)
        context.log.info(f"{table}: delivery {delivery.stamp}, {rows:,} rows")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(rows),
                "dagster/column_schema": dg.TableSchema(
                    columns=[dg.TableColumn(c, "string") for c in header]
                ),
                "lake_path": dg.MetadataValue.text(delivery.path),
                "uri": dg.MetadataValue.path(lake.uri(delivery.path)),
                "delivery_date": dg.MetadataValue.text(delivery.date_iso),
                "extra_columns": dg.MetadataValue.json(extra),
            }
        )

    return _asset


raw_customer_base = _raw_asset("raw_customer_base", "customer_base")
raw_customer_behavior_assets = _raw_asset(
    "raw_customer_behavior_assets", "customer_behavior_assets"
)


def _delivery_path(context: dg.AssetExecutionContext, lake: LakeResource, raw_key: str) -> str:
    """The delivery the raw asset registered (so a file landing mid-run is not mixed in)."""
    path = latest_metadata(context.instance, raw_key).get("lake_path")
    if path and lake.exists(path):
        return path
    delivery = raw_files.latest_delivery(lake, RAW_TABLES[raw_key])
    if delivery is None:
        raise dg.Failure(f"no delivery for {raw_key}")
    return delivery.path


def build_table(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    asset_name: str,
    build,
    *,
    summarise: tuple[str, ...] = (),
    spark_params: dict | None = None,
) -> WrittenTable:
    """Build an asset's table on the configured engine and write it to ``PATHS[asset_name]``.

    pandas (default): ``build()`` returns the table, written here. Spark engines: the
    Spark job writes the table itself and only the ``summarise`` columns the asset's
    metadata needs are read back (``build`` is not called).
    """
    path = PATHS[asset_name]
    if uses_spark():
        run_spark_step(context, asset_name, spark_params)
        return WrittenTable.from_lake(lake, path, summarise)
    frame = build()
    write_frame(lake, path, frame)
    return WrittenTable.from_frame(path, frame)


def _clean(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    asset_name: str,
    raw_key: str,
    clean_fn,
) -> dg.MaterializeResult:
    import datetime as dt

    from finance_platform.transforms.customers.cleaning import CleaningConfig

    settings = load_customer_settings()
    config = CleaningConfig(settings.age_min, settings.age_max, settings.outlier_sigma)
    path = _delivery_path(context, lake, raw_key)
    table = RAW_TABLES[raw_key]
    delivery_name = path.rsplit("/", 1)[-1]
    if uses_spark():
        job = run_spark_step(
            context,
            asset_name,
            {
                "deliveries": {table: path},
                "age_min": config.age_min,
                "age_max": config.age_max,
                "sigma": config.sigma,
            },
        )
        cleaned = WrittenTable.from_lake(lake, PATHS[asset_name])
        quarantined = lake.count_rows(QUARANTINE[asset_name])
        raw_rows, duplicates = int(job["raw_rows"]), int(job["duplicates_removed"])
        reasons, rates = dict(job["quarantine_reasons"]), dict(job["missing_rates"])
    else:
        raw = raw_files.read_delivery(lake, table, path)
        rates = raw.isna().mean().to_dict()
        result = clean_fn(raw, config)
        del raw
        result.quarantine["delivery"] = delivery_name
        write_frame(lake, PATHS[asset_name], result.cleaned)
        write_frame(lake, QUARANTINE[asset_name], result.quarantine)
        cleaned = WrittenTable.from_frame(PATHS[asset_name], result.cleaned)
        quarantined = len(result.quarantine)
        raw_rows, duplicates, reasons = result.raw_rows, result.duplicates_removed, result.reasons
    missing_rates = {c: round(float(v), 6) for c, v in rates.items()}
    previous = previous_row_count(context)
    stats = {
        "asset": asset_name,
        "delivery": path,
        "run_id": context.run_id,
        "written_at": dt.datetime.now(dt.UTC).isoformat(),
        "raw_rows_parsed": raw_rows,
        "cleaned_rows": cleaned.rows,
        "quarantined_rows": quarantined,
        "duplicates_removed": duplicates,
        "quarantine_reasons": reasons,
        "missing_rates": missing_rates,
        "previous_row_count": previous,
    }
    write_json(lake, CLEANING_STATS[asset_name], stats)
    if duplicates:
        context.log.warning(f"{asset_name}: removed {duplicates:,} duplicate rows")
    return dg.MaterializeResult(
        metadata=table_metadata(
            lake,
            cleaned,
            previous_row_count=dg.MetadataValue.int(previous if previous is not None else -1),
            quarantined_rows=dg.MetadataValue.int(quarantined),
            quarantine_path=dg.MetadataValue.text(QUARANTINE[asset_name]),
            duplicates_removed=dg.MetadataValue.int(duplicates),
            quarantine_reasons=dg.MetadataValue.json(reasons),
            source_delivery=dg.MetadataValue.text(path),
        )
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    deps=[raw_customer_base],
    kinds={"parquet", "pandas"},
    tags={"layer": "cleaned"},
    code_version="1",
    description="One row per customer: typed, one date format, English codes beside the Chinese "
    "labels, duplicates removed (counted). Rows with bad numbers/dates, empty keys, ages outside "
    "18..100 or 3-sigma (log) income go to `<lake>/quarantine/customer_base/` with a reason. "
    "Stored at `<lake>/cleaned/customer_base` (the name column stays in storage only).",
)
def cleaned_customer_base(
    context: dg.AssetExecutionContext, lake: LakeResource
) -> dg.MaterializeResult:
    from finance_platform.transforms.customers.cleaning import clean_customer_base

    return _clean(context, lake, "cleaned_customer_base", "raw_customer_base", clean_customer_base)


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    deps=[raw_customer_behavior_assets],
    kinds={"parquet", "pandas"},
    tags={"layer": "cleaned"},
    code_version="1",
    description="Monthly snapshots, full history, one row per (customer_id, stat_month): typed, "
    "contact_result_code with an explicit contact_result_missing flag (empty result and no "
    "contact time = no_contact), asset_level_code. Negative balances, bad dates/numbers and "
    "3-sigma (log) total_assets go to `<lake>/quarantine/customer_behavior/`.",
)
def cleaned_customer_behavior(
    context: dg.AssetExecutionContext, lake: LakeResource
) -> dg.MaterializeResult:
    from finance_platform.transforms.customers.cleaning import clean_customer_behavior

    return _clean(
        context,
        lake,
        "cleaned_customer_behavior",
        "raw_customer_behavior_assets",
        clean_customer_behavior,
    )


def _read(lake: LakeResource, asset_name: str, columns: list[str] | None = None):
    return lake.read_table(PATHS[asset_name], columns=columns).to_pandas()


def _recent_behavior(lake: LakeResource, months: int):
    """Each customer's last ``months`` snapshots (all customer_features looks at).

    Filtering in Arrow before pandas converts ~3 of 12 monthly rows per customer,
    not the whole history; the features are identical to reading everything.
    """
    import pandas as pd
    import pyarrow.compute as pc

    table = lake.read_table(PATHS["cleaned_customer_behavior"], columns=list(rules.CURRENT_COLUMNS))
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
    kinds={"parquet", "pandas"},
    tags={"layer": "features"},
    code_version="1",
    description="One row per cleaned customer (current view = latest month): lifecycle_score "
    "(0-100, stage + tenure), asset_tier (quintile of log assets, ties by customer_id), "
    "engagement_score (RFM: login recency, login/investment frequency, spend and assets), "
    "product_cross_sell_index. No names. `<lake>/features/customer_features`.",
)
def customer_features(
    context: dg.AssetExecutionContext, lake: LakeResource
) -> dg.MaterializeResult:
    from finance_platform.transforms.customers.features import customer_features as build

    def features():
        base = _read(lake, "cleaned_customer_base", list(rules.PROFILE_COLUMNS))
        return build(base, _recent_behavior(lake, rules.FREQUENCY_MONTHS))

    written = build_table(
        context,
        lake,
        "customer_features",
        features,
        summarise=("engagement_score", "has_behavior"),
    )
    summary = written.frame
    return dg.MaterializeResult(
        metadata=table_metadata(
            lake,
            written,
            mean_engagement_score=float(summary["engagement_score"].mean()),
            customers_without_behavior=int((~summary["has_behavior"].astype(bool)).sum()),
        )
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    deps=[cleaned_customer_behavior],
    kinds={"parquet", "pandas"},
    tags={"layer": "features"},
    code_version="1",
    description="Per customer: 3- and 6-month averages and trends (least-squares slope per month "
    "relative to the window mean) of total assets, card spend and app logins. "
    "`<lake>/features/behavior_metrics`.",
)
def behavior_metrics(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    from finance_platform.transforms.customers.features import behavior_metrics as build

    columns = ["customer_id", "month_index", *rules.TREND_METRICS]
    written = build_table(
        context,
        lake,
        "behavior_metrics",
        lambda: build(_read(lake, "cleaned_customer_behavior", columns)),
    )
    return dg.MaterializeResult(metadata=table_metadata(lake, written))


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    deps=[customer_features],
    kinds={"parquet", "pandas"},
    tags={"layer": "business"},
    code_version="1",
    description="Every customer in exactly one of 11 segments (assets x card spend x engagement, "
    "lifecycle for new customers; first matching rule of rules.SEGMENT_RULES): segment_id "
    "S001.., segment_name (English / Chinese), segment_characteristics. "
    "`<lake>/segments/customer_segments`.",
)
def customer_segments(
    context: dg.AssetExecutionContext, lake: LakeResource
) -> dg.MaterializeResult:
    from finance_platform.transforms.customers.segments import assign_segments

    written = build_table(
        context,
        lake,
        "customer_segments",
        lambda: assign_segments(_read(lake, "customer_features")),
        summarise=("segment_id",),
    )
    sizes = written.frame["segment_id"].astype("str").value_counts().sort_index()
    return dg.MaterializeResult(
        metadata=table_metadata(
            lake,
            written,
            segment_sizes=dg.MetadataValue.json({k: int(v) for k, v in sizes.items()}),
            segment_size_chart=dg.MetadataValue.md(
                bar_chart(list(sizes.index), sizes.tolist(), "Customers per segment", "segment")
            ),
        )
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    deps=[customer_segments, customer_features],
    kinds={"parquet", "pandas"},
    tags={"layer": "business"},
    code_version="1",
    description="One row per segment (all 11, empty ones with size 0): customers, share and "
    "averages of assets, spend, engagement, lifecycle score, income, age, products. "
    "`<lake>/segments/segment_profiles`.",
)
def segment_profiles(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    from finance_platform.transforms.customers.segments import PROFILE_AVERAGES
    from finance_platform.transforms.customers.segments import segment_profiles as build

    def profiles():
        segments = _read(lake, "customer_segments", ["customer_id", "segment_id"])
        return build(segments, _read(lake, "customer_features", ["customer_id", *PROFILE_AVERAGES]))

    written = build_table(
        context,
        lake,
        "segment_profiles",
        profiles,
        summarise=("segment_id", "avg_total_assets"),
        spark_params={"profiles_only": True},
    )
    ordered = written.frame.sort_values("segment_id")
    return dg.MaterializeResult(
        metadata=table_metadata(
            lake,
            written,
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
    )


RECOMMENDATION_FEATURES = [
    "customer_id",
    "deposit_balance",
    "total_assets",
    "monthly_income",
    "marriage_code",
    "risk_asset_share",
    "engagement_score",
    "investment_monthly_count",
    "credit_card_monthly_expense",
    "financial_flag",
    "fund_flag",
    "insurance_flag",
    "contact_result_code",
    "marketing_cool_period",
]


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    deps=[customer_features, customer_segments],
    kinds={"parquet", "pandas"},
    tags={"layer": "business"},
    code_version="1",
    description="Every customer x 4 products (wealth management, fund, insurance, credit-card "
    "upgrade): score 0-100 (rules.PRODUCT_WEIGHTS), purchase probability (logistic of the score "
    "and the last contact result), expected value (CNY/year) and priority = score x probability "
    "x expected value. `<lake>/recommendations/product_recommendations`.",
)
def product_recommendations(
    context: dg.AssetExecutionContext, lake: LakeResource
) -> dg.MaterializeResult:
    from finance_platform.transforms.customers.recommendations import (
        product_recommendations as build,
    )

    def recommendations():
        features = _read(lake, "customer_features", RECOMMENDATION_FEATURES)
        return build(features, _read(lake, "customer_segments", ["customer_id", "segment_id"]))

    written = build_table(
        context,
        lake,
        "product_recommendations",
        recommendations,
        summarise=("product", "score"),
    )
    recs = written.frame
    means = recs.groupby("product", observed=True)["score"].mean().round(2)
    return dg.MaterializeResult(
        metadata=table_metadata(
            lake,
            written,
            mean_score_by_product=dg.MetadataValue.json(
                {str(k): float(v) for k, v in means.items()}
            ),
            score_distribution_chart=dg.MetadataValue.md(
                histograms_by_group(
                    recs["score"],
                    recs["product"],
                    "Score distribution per product (all customers)",
                    "score (0-100)",
                )
            ),
        )
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    deps=[product_recommendations, customer_features, customer_segments],
    kinds={"parquet", "pandas"},
    tags={"layer": "business"},
    code_version="1",
    description="One ranked row per targeted customer: customer_id, recommended_product, "
    "priority_score, expected_value, reason (no names). Customers inside their "
    "marketing_cool_period on the run date (FINANCE_CUSTOMERS_RUN_DATE, default today UTC) "
    "and best offers below the score/probability bars are not targeted. "
    "`<lake>/recommendations/marketing_targets`.",
)
def marketing_targets(
    context: dg.AssetExecutionContext, lake: LakeResource
) -> dg.MaterializeResult:
    from finance_platform.transforms.customers.recommendations import (
        in_cool_period,
    )
    from finance_platform.transforms.customers.recommendations import (
        marketing_targets as build,
    )

    run_date = load_customer_settings().marketing_run_date()
    features = _read(lake, "customer_features", ["customer_id", "marketing_cool_period"])

    def targets():
        recs = _read(lake, "product_recommendations")
        segments = _read(
            lake, "customer_segments", ["customer_id", "segment_id", "segment_name_en"]
        )
        return build(recs, features, segments, run_date)

    written = build_table(
        context,
        lake,
        "marketing_targets",
        targets,
        summarise=("recommended_product", "priority_score"),
        spark_params={"targets_only": True, "run_date": run_date.isoformat()},
    )
    cooling = int(in_cool_period(features["marketing_cool_period"], run_date).sum())
    targets = written.frame
    by_product = targets["recommended_product"].astype("str").value_counts()
    return dg.MaterializeResult(
        metadata=table_metadata(
            lake,
            written,
            run_date=dg.MetadataValue.text(run_date.isoformat()),
            customers_in_cool_period=dg.MetadataValue.int(cooling),
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
    )


ASSETS = [
    raw_customer_base,
    raw_customer_behavior_assets,
    cleaned_customer_base,
    cleaned_customer_behavior,
    customer_features,
    behavior_metrics,
    customer_segments,
    segment_profiles,
    product_recommendations,
    marketing_targets,
]
