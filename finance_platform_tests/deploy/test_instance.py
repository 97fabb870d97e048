"""deploy/dagster.yaml works as a Dagster instance against a real PostgreSQL.

Uses the server on 127.0.0.1:5432 (``.ci/run`` starts it) with a fresh database per test,
dropped afterwards, so runs never collide with other tests or engineers. AWS calls made by
the ECS run launcher and the S3 compute-log manager go to moto.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from finance_platform_tests.deploy.cfn import DAGSTER_ECS, DEPLOY, container_env, load, props

pytestmark = pytest.mark.integration

PG_HOST = "127.0.0.1"
PG_USER = "postgres"
REGION = "us-east-1"


def _admin_connection():
    import psycopg2

    try:
        conn = psycopg2.connect(
            host=PG_HOST, port=5432, user=PG_USER, dbname="test", connect_timeout=5
        )
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable on {PG_HOST}:5432 (.ci/run starts it): {exc}")
    conn.autocommit = True
    return conn


@pytest.fixture
def fresh_database() -> Iterator[str]:
    name = f"deploy_instance_{uuid.uuid4().hex[:12]}"
    conn = _admin_connection()
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@pytest.fixture
def prod_env(tmp_path: Path, fresh_database: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment the ECS task definitions provide, pointed at local stand-ins."""
    home = tmp_path / "prod_dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    family = props(load(DAGSTER_ECS), "RunWorkerTaskDefinition")["Family"]["Fn::Sub"].replace(
        "${Environment}", "prod"
    )
    env = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": PG_HOST,
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USERNAME": PG_USER,
        "DAGSTER_PG_PASSWORD": "",  # trust auth here; a Secrets Manager value in ECS
        "DAGSTER_PG_DB": fresh_database,
        "DAGSTER_COMPUTE_LOGS_BUCKET": "finance-prod-ops-test",
        "DAGSTER_RUN_TASK_DEFINITION": family,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # Local PostgreSQL has no TLS; in ECS PGSSLMODE=verify-full.
    monkeypatch.setenv("PGSSLMODE", "disable")
    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_DB", "DAGSTER_RUN_TASK_DEFINITION"):
        # The test sets exactly what the stack sets.
        assert name in container_env(load(DAGSTER_ECS), "RunWorkerTaskDefinition")
    return home


@dg.op
def say_hello() -> str:
    print("hello from a production-instance run")
    return "hello"


@dg.job
def hello_job():
    say_hello()


def test_production_instance_stores_runs_in_postgres(prod_env: Path):
    from moto import mock_aws

    with mock_aws():
        import boto3

        boto3.client("s3", region_name=REGION).create_bucket(Bucket="finance-prod-ops-test")
        boto3.client("ecs", region_name=REGION).register_task_definition(
            family="finance-prod-dagster-run",
            containerDefinitions=[{"name": "run", "image": "finance-platform:test"}],
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="1024",
            memory="4096",
        )
        with dg.DagsterInstance.get() as instance:
            from dagster_aws.ecs import EcsRunLauncher
            from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

            assert isinstance(instance.run_storage, PostgresRunStorage)
            assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
            launcher = instance.run_launcher
            assert isinstance(launcher, EcsRunLauncher)
            # The family resolves to its latest revision when the launcher starts.
            assert launcher.task_definition.endswith(":task-definition/finance-prod-dagster-run:1")
            assert launcher.container_name == "run"
            assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
            assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"

            # Pools: the ones the code uses admit one step at a time by default; pinning
            # them (README roll-out step) is stored in PostgreSQL too.
            assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
            instance.event_log_storage.set_concurrency_slots("alpha_vantage", 1)
            instance.event_log_storage.set_concurrency_slots("warehouse", 1)
            assert instance.event_log_storage.get_concurrency_info("alpha_vantage").slot_count == 1

            result = hello_job.execute_in_process(instance=instance)
            assert result.success
            run_id = result.run_id

        # A second instance (another ECS task) sees the same run and its events.
        with dg.DagsterInstance.get() as other:
            run = other.get_run_by_id(run_id)
            assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
            assert run.job_name == "hello_job"
            events = other.all_logs(run_id)
            assert any(e.step_key == "say_hello" for e in events)
            assert not list((prod_env).glob("history/runs.db"))  # nothing went to SQLite


def test_instance_file_refuses_to_start_without_database_settings(
    prod_env: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("DAGSTER_PG_HOST")
    with pytest.raises(Exception, match="DAGSTER_PG_HOST"):
        dg.DagsterInstance.get()
