"""The customer domain's jobs, schedules and delivery sensor as the UI shows them."""

import datetime as dt

import dagster as dg

from finance_platform.defs.customers import defs
from finance_platform.resources.lake import LakeResource
from finance_platform.sample_data import generate


def test_jobs_and_schedules_follow_the_users_plan():
    schedules = {
        s.name: (s.cron_schedule, s.job_name, s.execution_timezone) for s in defs.schedules
    }
    assert schedules == {
        "customers_cleaning_daily": ("0 1 * * *", "customers_cleaning_job", "UTC"),
        "customers_features_daily": ("0 2 * * *", "customers_features_job", "UTC"),
        "customers_segmentation_weekly": ("0 4 * * 1", "customers_segmentation_job", "UTC"),
        "customers_marketing_weekly": ("0 5 * * 1", "customers_marketing_job", "UTC"),
        "customers_quality_daily": ("0 6 * * *", "customers_quality_job", "UTC"),
    }
    keys = {a.key.to_user_string() for a in defs.assets}
    assert keys == {
        "raw_customer_base",
        "raw_customer_behavior_assets",
        "cleaned_customer_base",
        "cleaned_customer_behavior",
        "customer_features",
        "behavior_metrics",
        "customer_segments",
        "segment_profiles",
        "product_recommendations",
        "marketing_targets",
    }
    for asset in defs.assets:
        spec = next(iter(asset.specs))
        assert spec.group_name == "customers" and spec.description and spec.owners
        assert spec.tags.get("layer") and spec.kinds


def test_sensor_starts_the_group_once_per_complete_delivery(lake_root):
    lake = LakeResource(root=str(lake_root))
    sensor = next(s for s in defs.sensors if s.name == "customers_delivery_sensor")
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources={"lake": lake})
        assert isinstance(sensor(ctx), dg.SkipReason)
        generate(
            lake_root / "raw", customers=20, months=1, seed=1, delivery_date=dt.date(2026, 1, 5)
        )
        result = sensor(dg.build_sensor_context(instance=instance, resources={"lake": lake}))
        assert [r.run_key for r in result.run_requests] == ["customers-delivery-20260105"]
        assert result.cursor == "20260105"
        again = sensor(
            dg.build_sensor_context(instance=instance, resources={"lake": lake}, cursor="20260105")
        )
        assert isinstance(again, dg.SkipReason)
        # one file alone is not a delivery
        (lake_root / "raw" / "customer_base" / "customer_base_20260201.csv").write_text("x\n")
        later = sensor(
            dg.build_sensor_context(instance=instance, resources={"lake": lake}, cursor="20260105")
        )
        assert isinstance(later, dg.SkipReason)


def _upload(path, day: dt.date, hour: int) -> None:
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("customer_id\n1\n")
    moment = dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC).timestamp()
    os.utime(path, (moment, moment))


def test_sensor_takes_undated_files_by_upload_day_even_either_side_of_midnight(lake_root):
    lake = LakeResource(root=str(lake_root))
    sensor = next(s for s in defs.sensors if s.name == "customers_delivery_sensor")

    def tick(cursor=None):
        with dg.instance_for_test() as instance:
            ctx = dg.build_sensor_context(
                instance=instance, resources={"lake": lake}, cursor=cursor
            )
            return sensor(ctx)

    raw = lake_root / "raw"
    _upload(raw / "customer_base.csv", dt.date(2026, 3, 1), 23)  # as `aws s3 cp ... raw/`
    skipped = tick()
    assert isinstance(skipped, dg.SkipReason) and "customer_behavior_assets" in (
        skipped.skip_message or ""
    )
    _upload(raw / "customer_behavior_assets.csv", dt.date(2026, 3, 2), 0)
    first = tick()
    assert [r.run_key for r in first.run_requests] == ["customers-delivery-20260302"]
    # a new base file alone (the behaviour file still the old one) waits for its partner
    _upload(raw / "customer_base" / "customer_base_20260401.csv", dt.date(2026, 4, 1), 6)
    assert isinstance(tick(cursor="20260302"), dg.SkipReason)
    _upload(raw / "customer_behavior_assets" / "customer_behavior_assets_20260401.csv",
            dt.date(2026, 4, 1), 7)  # fmt: skip
    assert tick(cursor="20260302").cursor == "20260401"
