"""A sensor that starts the customer group when a new delivery of both files lands."""

import dagster as dg

from finance_platform.defs.customers import raw_files
from finance_platform.defs.customers.schedules import customers_job
from finance_platform.resources.lake import LakeResource


def newest_complete_delivery(lake: LakeResource, after: str = "") -> str | None:
    """The delivery to run when both files hold one newer than ``after`` (YYYYMMDD), else None.

    A delivery's date is the one in its file name, or its upload day for an undated name
    (``customer_base.csv``). Both tables must be newer than ``after``: one file alone is not
    a delivery, and a pair uploaded either side of midnight still is one (its stamp is the
    later of the two days).
    """
    newest = []
    for table in raw_files.TABLES:
        found = raw_files.deliveries(lake, table)
        if not found:
            return None
        newest.append(max(d.stamp for d in found))
    if min(newest) <= after:
        return None
    return max(newest)


@dg.sensor(
    name="customers_delivery_sensor",
    job=customers_job,
    minimum_interval_seconds=300,
    description="Every 5 minutes: when raw/ holds a customer_base and a customer_behavior_assets "
    "delivery both newer than the last one run (the date in the file name, or the upload day of an "
    "undated file), run customers_job.",
)
def customers_delivery_sensor(context: dg.SensorEvaluationContext, lake: LakeResource):
    cursor = context.cursor or ""
    stamp = newest_complete_delivery(lake, after=cursor)
    if stamp is None:
        if cursor:
            return dg.SkipReason(
                f"no delivery of both files newer than {cursor} (the last one run)"
            )
        return dg.SkipReason(
            "no complete delivery (both files) in the lake yet; expected names: "
            + ", ".join(n for t in raw_files.TABLES for n in raw_files.expected_names(t)[:2])
        )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"customers-delivery-{stamp}", tags={"finance/delivery": stamp})
        ],
        cursor=stamp,
    )


SENSORS = [customers_delivery_sensor]
