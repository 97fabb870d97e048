"""A sensor that starts the customer group when a new delivery of both files lands."""

import dagster as dg

from finance_platform.defs.customers import raw_files
from finance_platform.defs.customers.schedules import customers_job
from finance_platform.resources.lake import LakeResource


def newest_complete_delivery(lake: LakeResource) -> str | None:
    """The newest YYYYMMDD for which both files exist (one file alone is not a delivery)."""
    stamps = [{d.stamp for d in raw_files.deliveries(lake, table)} for table in raw_files.TABLES]
    common = set.intersection(*stamps) if stamps else set()
    return max(common) if common else None


@dg.sensor(
    name="customers_delivery_sensor",
    job=customers_job,
    minimum_interval_seconds=300,
    description="Every 5 minutes: when raw/customer_base/ and raw/customer_behavior_assets/ both "
    "hold a delivery newer than the last one seen (YYYYMMDD in the file names), run customers_job.",
)
def customers_delivery_sensor(context: dg.SensorEvaluationContext, lake: LakeResource):
    stamp = newest_complete_delivery(lake)
    if stamp is None:
        return dg.SkipReason("no complete delivery (both files) in the lake yet")
    if context.cursor and stamp <= context.cursor:
        return dg.SkipReason(f"delivery {stamp} already processed")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"customers-delivery-{stamp}", tags={"finance/delivery": stamp})
        ],
        cursor=stamp,
    )


SENSORS = [customers_delivery_sensor]
