"""The whole code location loads, with the jobs, schedules and sensors the README promises.

A broken import or wiring never reaches a user, and neither does a renamed job or a
moved schedule that the documentation (and the operators reading it) still rely on.
"""

import importlib
import subprocess
import sys

import dagster as dg
import pytest

# Named in the README: the jobs operators launch and the alerts they receive.
PROMISED_JOBS = {"market_quotes_job", "customers_job"}
PROMISED_SENSORS = {
    "slack_on_run_failure": dg.DefaultSensorStatus.RUNNING,
    "slack_on_asset_check_failure": dg.DefaultSensorStatus.RUNNING,
    "slack_on_slow_run": dg.DefaultSensorStatus.RUNNING,
    "freshness_checks_sensor": dg.DefaultSensorStatus.RUNNING,
    "cloudwatch_run_metrics": dg.DefaultSensorStatus.RUNNING,
    "customers_delivery_sensor": dg.DefaultSensorStatus.STOPPED,  # "off by default"
}
# README, Customer analytics: "Schedules (UTC): cleaning daily 01:00, features daily 02:00,
# segmentation Monday 04:00, marketing targets Monday 05:00, quality monitoring daily 06:00."
PROMISED_CUSTOMER_CRONS = {"0 1 * * *", "0 2 * * *", "0 4 * * 1", "0 5 * * 1", "0 6 * * *"}
FRESH_TABLES = {
    "curated_quotes",
    "warehouse_daily_quotes",
    "cleaned_customer_base",
    "customer_segments",
    "marketing_targets",
}


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    import finance_platform.definitions as module

    importlib.reload(module)
    return module.defs


@pytest.fixture(scope="module")
def repo(defs: dg.Definitions) -> dg.RepositoryDefinition:
    return defs.get_repository_def()


def test_definitions_load_with_every_resource_the_assets_need(defs: dg.Definitions):
    expected = {"lake", "alpha_vantage", "warehouse", "slack", "metrics", "customer_engine"}
    missing = expected - set(defs.resources or {})
    assert not missing, missing


def test_promised_jobs_exist(repo: dg.RepositoryDefinition):
    missing = PROMISED_JOBS - {job.name for job in repo.get_all_jobs()}
    assert not missing, missing


def test_promised_sensors_exist_with_their_default_status(repo: dg.RepositoryDefinition):
    statuses = {s.name: s.default_status for s in repo.sensor_defs}
    assert {name: statuses.get(name) for name in PROMISED_SENSORS} == PROMISED_SENSORS


def test_schedules_run_when_the_readme_says(repo: dg.RepositoryDefinition):
    quotes = repo.get_schedule_def("market_quotes_after_close")
    assert (quotes.cron_schedule, quotes.execution_timezone) == (
        "30 17 * * 1-5",
        "America/New_York",
    )
    assert quotes.job_name == "market_quotes_job"
    utc_crons = {s.cron_schedule for s in repo.schedule_defs if s.execution_timezone == "UTC"}
    missing = PROMISED_CUSTOMER_CRONS - utc_crons
    assert not missing, missing


def test_the_business_tables_have_freshness_checks(defs: dg.Definitions):
    checked = {
        key.asset_key.path[-1]
        for checks_def in defs.asset_checks or []
        for key in checks_def.check_keys
        if key.name == "freshness_check"
    }
    assert checked == FRESH_TABLES


def test_dagster_cli_validates_the_code_location():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "definitions",
            "validate",
            "-m",
            "finance_platform.definitions",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
