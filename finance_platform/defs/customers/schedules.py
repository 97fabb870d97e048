"""Jobs and schedules of the customer group (UTC, the user's plan).

cleaning daily 01:00, features daily 02:00, segmentation Monday 04:00, marketing
targets Monday 05:00, quality monitoring (checks only, nothing rebuilt) daily 06:00.
"""

import dagster as dg

from finance_platform.defs.customers.common import GROUP

customers_job = dg.define_asset_job(
    "customers_job",
    selection=dg.AssetSelection.groups(GROUP),
    description="The whole customer group: raw deliveries to marketing targets, with checks.",
)
customers_cleaning_job = dg.define_asset_job(
    "customers_cleaning_job",
    selection=dg.AssetSelection.assets(
        "raw_customer_base",
        "raw_customer_behavior_assets",
        "cleaned_customer_base",
        "cleaned_customer_behavior",
    ),
    description="Register the newest deliveries and rebuild the cleaned tables.",
)
customers_features_job = dg.define_asset_job(
    "customers_features_job",
    selection=dg.AssetSelection.assets("customer_features", "behavior_metrics"),
)
customers_segmentation_job = dg.define_asset_job(
    "customers_segmentation_job",
    selection=dg.AssetSelection.assets("customer_segments", "segment_profiles"),
)
customers_marketing_job = dg.define_asset_job(
    "customers_marketing_job",
    selection=dg.AssetSelection.assets("product_recommendations", "marketing_targets"),
)
customers_quality_job = dg.define_asset_job(
    "customers_quality_job",
    selection=dg.AssetSelection.checks_for_assets(
        *(
            dg.AssetKey(k)
            for k in (
                "raw_customer_base",
                "raw_customer_behavior_assets",
                "cleaned_customer_base",
                "cleaned_customer_behavior",
                "customer_segments",
                "marketing_targets",
            )
        )
    ),
    description="Re-evaluate every customer quality check on what is stored (no rebuild).",
)

JOBS = [
    customers_job,
    customers_cleaning_job,
    customers_features_job,
    customers_segmentation_job,
    customers_marketing_job,
    customers_quality_job,
]

# (name, job, cron in UTC, what it does): the user's plan.
_PLAN = (
    ("customers_cleaning_daily", customers_cleaning_job, "0 1 * * *", "Cleaning, daily 01:00 UTC."),
    ("customers_features_daily", customers_features_job, "0 2 * * *", "Features, daily 02:00 UTC."),
    (
        "customers_segmentation_weekly",
        customers_segmentation_job,
        "0 4 * * 1",
        "Segmentation, Mondays 04:00 UTC.",
    ),
    (
        "customers_marketing_weekly",
        customers_marketing_job,
        "0 5 * * 1",
        "Product recommendations and marketing targets, Mondays 05:00 UTC.",
    ),
    (
        "customers_quality_daily",
        customers_quality_job,
        "0 6 * * *",
        "Quality monitoring (all checks), daily 06:00 UTC.",
    ),
)

SCHEDULES = [
    dg.ScheduleDefinition(
        name=name, job=job, cron_schedule=cron, execution_timezone="UTC", description=description
    )
    for name, job, cron, description in _PLAN
]
