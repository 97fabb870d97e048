"""EMR Serverless and Glue launches: exact AWS calls, success, failure, cancellation, silence.

AWS job APIs are pinned with botocore's Stubber; the Pipes bucket is moto S3.
The "remote job" is simulated where AWS would run it: when StartJobRun is
called, a fake driver reads the Pipes parameters exactly as the real entry
point does (from the EMR driver env / the Glue arguments) and reports back
through S3 — or stays silent, for the test that silence is not success.
"""

import re
import time
import types
from typing import Any

import boto3
import dagster as dg
import pytest
from botocore.stub import ANY, Stubber
from dagster._core.errors import DagsterExecutionInterruptedError

from finance_platform.resources import spark as spark_mod
from finance_platform.resources.spark import SparkJobLauncher
from finance_platform.settings import load_spark_settings

pytestmark = pytest.mark.integration

REGION = "us-east-1"
BUCKET = "finance-pipes-test"
APP_ID = "00fabc123def"
ROLE = "arn:aws:iam::111122223333:role/finance-spark-job"
_mp: pytest.MonkeyPatch
ARTIFACTS = "s3://finance-artifacts-test/spark/0.1.0"
LOGS = "s3://finance-logs-test/spark"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "FINANCE_EMR_APPLICATION_ID": APP_ID,
        "FINANCE_EMR_EXECUTION_ROLE_ARN": ROLE,
        "FINANCE_GLUE_JOB_NAME": "finance-platform-spark",
        "FINANCE_SPARK_ARTIFACTS_URI": ARTIFACTS,
        "FINANCE_SPARK_LOG_URI": LOGS,
        "FINANCE_PIPES_BUCKET": BUCKET,
        "FINANCE_SPARK_POLL_SECONDS": "1",
        "FINANCE_SPARK_CONF": "spark.executor.memory=4g",
    }.items():
        monkeypatch.setenv(name, value)
    # Silence is detected after Pipes' grace period; keep it short in tests.
    monkeypatch.setattr("dagster._core.pipes.utils.WAIT_FOR_LOGS_AFTER_EXECUTION_INTERVAL", 1)
    monkeypatch.setattr("dagster._core.pipes.utils.DEFAULT_SLEEP_INTERVAL", 0.05)
    # Only the launcher's own clock is faked: patching the global ``time`` module would also
    # stop Dagster's Pipes reader threads from sleeping and starve them (a flaky test).
    monkeypatch.setattr(
        spark_mod, "time", types.SimpleNamespace(sleep=lambda _s: None, monotonic=time.monotonic)
    )
    global _mp
    _mp = monkeypatch
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        yield s3


def _fake_remote_driver(s3, params: dict[str, str], report: bool, fail: str | None = None) -> None:
    """What the entry point does on the cluster, minus Spark: read context, report tables."""
    from dagster_pipes import (
        PipesContext,
        PipesMappingParamsLoader,
        PipesS3ContextLoader,
        PipesS3MessageWriter,
    )

    pipes = PipesContext(
        PipesMappingParamsLoader(params), PipesS3ContextLoader(s3), PipesS3MessageWriter(s3)
    )
    try:
        extras = pipes.extras
        assert extras["lake_root"].startswith("s3://")
        if fail:
            raise RuntimeError(fail)
        if report:
            for table in extras["tables"]:
                pipes.report_asset_materialization(
                    asset_key=extras["asset_keys"][table],
                    metadata={"dagster/row_count": {"raw_value": 321, "type": "int"}},
                )
    finally:
        pipes.close()


def _emr_driver_env(params: dict[str, Any]) -> dict[str, str]:
    submit = params["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"]
    return dict(re.findall(r"--conf spark\.emr-serverless\.driverEnv\.(\w+)=(\S+)", submit))


def _glue_args(params: dict[str, Any]) -> dict[str, str]:
    names = {
        "--dagster-pipes-context": "DAGSTER_PIPES_CONTEXT",
        "--dagster-pipes-messages": "DAGSTER_PIPES_MESSAGES",
    }
    return {env: params["Arguments"][arg] for arg, env in names.items()}


def _launch_on(client, method: str, s3, extract, report: bool = True):
    """Run the fake driver when StartJobRun is called, then let the stub answer."""
    original = getattr(client, method)
    seen: dict[str, Any] = {}

    def start_job_run(**params):
        seen.update(params)
        _fake_remote_driver(s3, extract(params), report=report)
        return original(**params)

    setattr(client, method, start_job_run)
    return seen


def _segments_asset():
    @dg.asset(name="customer_segments", group_name="customers")
    def customer_segments(context: dg.AssetExecutionContext, spark_launcher: SparkJobLauncher):
        (result,) = spark_launcher.run(context)
        return result

    return customer_segments


def _materialize(launcher: SparkJobLauncher) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [_segments_asset()], resources={"spark_launcher": launcher}, raise_on_error=False
    )


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    (event,) = [e for e in result.all_events if e.is_step_failure]
    return str(event.step_failure_data.error)


def _use_clients(clients: dict[str, Any]) -> None:
    _mp.setattr(spark_mod, "make_aws_client", lambda service, region: clients[service])


# -- EMR Serverless -------------------------------------------------------------------
def _emr(aws, *, engine="emr-serverless"):
    client = boto3.client("emr-serverless", region_name=REGION)
    launcher = SparkJobLauncher(engine=engine, lake_root="s3://finance-lake-test/lake")
    _use_clients({"s3": aws, "emr-serverless": client})
    return client, launcher


def _expected_emr_start() -> dict[str, Any]:
    return {
        "applicationId": APP_ID,
        "executionRoleArn": ROLE,
        "name": ANY,
        "clientToken": ANY,
        "executionTimeoutMinutes": 120,
        "jobDriver": {
            "sparkSubmit": {
                "entryPoint": f"{ARTIFACTS}/run_job.py",
                "entryPointArguments": ["--finance-job", "customer_segments"],
                "sparkSubmitParameters": ANY,
            }
        },
        "configurationOverrides": {
            "monitoringConfiguration": {
                "s3MonitoringConfiguration": {"logUri": f"{LOGS}/emr-serverless/"}
            }
        },
        "tags": ANY,
    }


def _emr_run(state: str, details: str | None = None) -> dict[str, Any]:
    run: dict[str, Any] = {
        "applicationId": APP_ID,
        "jobRunId": "jr-1",
        "arn": _emr_started()["arn"],
        "createdBy": ROLE,
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
        "executionRole": ROLE,
        "state": state,
        "releaseLabel": "emr-7.5.0",
        "jobDriver": {"sparkSubmit": {"entryPoint": f"{ARTIFACTS}/run_job.py"}},
    }
    run["stateDetails"] = details or f"Job run is {state}"
    return {"jobRun": run}


def _emr_started() -> dict[str, Any]:
    arn = f"arn:aws:emr-serverless:{REGION}:111122223333:/applications/{APP_ID}/jobruns/jr-1"
    return {"applicationId": APP_ID, "jobRunId": "jr-1", "arn": arn}


def test_emr_serverless_success_starts_the_job_with_configured_parameters(aws):
    client, launcher = _emr(aws)
    seen = _launch_on(client, "start_job_run", aws, _emr_driver_env)
    get = {"applicationId": APP_ID, "jobRunId": "jr-1"}
    with Stubber(client) as stub:
        stub.add_response("start_job_run", _emr_started(), _expected_emr_start())
        stub.add_response("get_job_run", _emr_run("RUNNING"), get)
        stub.add_response("get_job_run", _emr_run("SUCCESS"), get)
        result = _materialize(launcher)
        stub.assert_no_pending_responses()

    assert result.success
    submit = seen["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"]
    assert submit.startswith(f"--py-files {ARTIFACTS}/finance_platform.zip")
    assert "--conf spark.executor.memory=4g" in submit
    assert "spark.emr-serverless.driverEnv.DAGSTER_PIPES_CONTEXT=" in submit
    assert seen["tags"]["finance_platform/job"] == "customer_segments"
    assert "dagster/run-id" in seen["tags"]
    (mat,) = result.asset_materializations_for_node("customer_segments")
    assert mat.metadata["dagster/row_count"].value == 321
    assert mat.metadata["AWS EMR Serverless Job Run ID"].value == "jr-1"


def test_emr_serverless_remote_failure_fails_the_step_with_the_remote_error(aws):
    client, launcher = _emr(aws)
    _launch_on(client, "start_job_run", aws, _emr_driver_env, report=False)
    with Stubber(client) as stub:
        stub.add_response("start_job_run", _emr_started(), _expected_emr_start())
        stub.add_response(
            "get_job_run",
            _emr_run("FAILED", "Job failed: ValueError: total_assets has negative values"),
            {"applicationId": APP_ID, "jobRunId": "jr-1"},
        )
        result = _materialize(launcher)
    assert not result.success
    message = _failure_message(result)
    assert "ended FAILED" in message
    assert "ValueError: total_assets has negative values" in message


def test_emr_serverless_cancelled_run_is_a_failure(aws):
    client, launcher = _emr(aws)
    _launch_on(client, "start_job_run", aws, _emr_driver_env, report=False)
    with Stubber(client) as stub:
        stub.add_response("start_job_run", _emr_started(), _expected_emr_start())
        stub.add_response(
            "get_job_run",
            _emr_run("CANCELLED", "Job run was cancelled by user"),
            {"applicationId": APP_ID, "jobRunId": "jr-1"},
        )
        result = _materialize(launcher)
    assert not result.success
    assert "ended CANCELLED: Job run was cancelled by user" in _failure_message(result)


def test_emr_serverless_interrupted_dagster_run_cancels_the_remote_job(aws, monkeypatch):
    client, launcher = _emr(aws)
    _launch_on(client, "start_job_run", aws, _emr_driver_env, report=False)

    def interrupt(_seconds):
        raise DagsterExecutionInterruptedError()

    monkeypatch.setattr(spark_mod.time, "sleep", interrupt)
    get = {"applicationId": APP_ID, "jobRunId": "jr-1"}
    with Stubber(client) as stub:
        stub.add_response("start_job_run", _emr_started(), _expected_emr_start())
        stub.add_response("get_job_run", _emr_run("RUNNING"), get)
        stub.add_response("cancel_job_run", {"applicationId": APP_ID, "jobRunId": "jr-1"}, get)
        with pytest.raises(DagsterExecutionInterruptedError):
            dg.materialize([_segments_asset()], resources={"spark_launcher": launcher})
        stub.assert_no_pending_responses()


def test_emr_serverless_job_that_never_reports_back_is_not_success(aws):
    client, launcher = _emr(aws)
    _launch_on(client, "start_job_run", aws, _emr_driver_env, report=False)
    get = {"applicationId": APP_ID, "jobRunId": "jr-1"}
    with Stubber(client) as stub:
        stub.add_response("start_job_run", _emr_started(), _expected_emr_start())
        stub.add_response("get_job_run", _emr_run("SUCCESS"), get)
        result = _materialize(launcher)
    assert not result.success
    message = _failure_message(result)
    assert "never reported back" in message
    assert "customer_segments" in message


def test_emr_serverless_run_past_its_deadline_is_cancelled_and_fails(aws, monkeypatch):
    monkeypatch.setenv("FINANCE_SPARK_TIMEOUT_MINUTES", "1")
    clock = iter(range(0, 10_000, 45))
    monkeypatch.setattr(spark_mod.time, "monotonic", lambda: next(clock))
    client, launcher = _emr(aws)
    _launch_on(client, "start_job_run", aws, _emr_driver_env, report=False)
    get = {"applicationId": APP_ID, "jobRunId": "jr-1"}
    expected = {**_expected_emr_start(), "executionTimeoutMinutes": 1}
    with Stubber(client) as stub:
        stub.add_response("start_job_run", _emr_started(), expected)
        stub.add_response("get_job_run", _emr_run("RUNNING"), get)
        stub.add_response("get_job_run", _emr_run("RUNNING"), get)
        stub.add_response("cancel_job_run", {"applicationId": APP_ID, "jobRunId": "jr-1"}, get)
        result = _materialize(launcher)
        stub.assert_no_pending_responses()
    assert not result.success
    assert "still RUNNING after 60 s; cancelled it" in _failure_message(result)


# -- Glue -------------------------------------------------------------------------------
def _glue(aws):
    client = boto3.client("glue", region_name=REGION)
    launcher = SparkJobLauncher(engine="glue", lake_root="s3://finance-lake-test/lake")
    _use_clients({"s3": aws, "glue": client})
    return client, launcher


def _expected_glue_start(execution_class: str = "FLEX") -> dict[str, Any]:
    return {
        "JobName": "finance-platform-spark",
        "Arguments": {
            "--finance-job": "customer_segments",
            "--extra-py-files": f"{ARTIFACTS}/finance_platform.zip",
            "--enable-spark-ui": "true",
            "--spark-event-logs-path": f"{LOGS}/glue/",
            "--dagster-pipes-context": ANY,
            "--dagster-pipes-messages": ANY,
        },
        "ExecutionClass": execution_class,
        "WorkerType": "G.1X",
        "NumberOfWorkers": 2,
        "Timeout": 120,
    }


def _glue_run(state: str, error: str | None = None) -> dict[str, Any]:
    run: dict[str, Any] = {"Id": "jr_1", "JobName": "finance-platform-spark", "JobRunState": state}
    if error:
        run["ErrorMessage"] = error
    return {"JobRun": run}


GLUE_GET = {"JobName": "finance-platform-spark", "RunId": "jr_1"}


@pytest.mark.parametrize("execution_class", ["FLEX", "STANDARD"])
def test_glue_success_uses_the_configured_job_and_execution_class(
    aws, monkeypatch, execution_class
):
    monkeypatch.setenv("FINANCE_GLUE_EXECUTION_CLASS", execution_class.lower())
    client, launcher = _glue(aws)
    _launch_on(client, "start_job_run", aws, _glue_args)
    with Stubber(client) as stub:
        stub.add_response(
            "start_job_run", {"JobRunId": "jr_1"}, _expected_glue_start(execution_class)
        )
        stub.add_response("get_job_run", _glue_run("RUNNING"), GLUE_GET)
        stub.add_response("get_job_run", _glue_run("RUNNING"), GLUE_GET)
        stub.add_response("get_job_run", _glue_run("SUCCEEDED"), GLUE_GET)
        result = _materialize(launcher)
        stub.assert_no_pending_responses()
    assert result.success
    (mat,) = result.asset_materializations_for_node("customer_segments")
    assert mat.metadata["dagster/row_count"].value == 321
    assert mat.metadata["AWS Glue Job Run ID"].value == "jr_1"


def test_glue_remote_failure_fails_the_step_with_glue_error_message(aws):
    client, launcher = _glue(aws)
    _launch_on(client, "start_job_run", aws, _glue_args, report=False)
    with Stubber(client) as stub:
        stub.add_response("start_job_run", {"JobRunId": "jr_1"}, _expected_glue_start())
        stub.add_response("get_job_run", _glue_run("RUNNING"), GLUE_GET)
        stub.add_response(
            "get_job_run",
            _glue_run("FAILED", "AnalysisException: Path does not exist: s3://lake/cleaned"),
            GLUE_GET,
        )
        result = _materialize(launcher)
    assert not result.success
    message = _failure_message(result)
    assert "ended FAILED" in message
    assert "AnalysisException: Path does not exist" in message


def test_glue_stopped_run_is_a_failure(aws):
    client, launcher = _glue(aws)
    _launch_on(client, "start_job_run", aws, _glue_args, report=False)
    with Stubber(client) as stub:
        stub.add_response("start_job_run", {"JobRunId": "jr_1"}, _expected_glue_start())
        stub.add_response("get_job_run", _glue_run("RUNNING"), GLUE_GET)
        stub.add_response("get_job_run", _glue_run("STOPPED"), GLUE_GET)
        result = _materialize(launcher)
    assert not result.success
    assert "ended STOPPED" in _failure_message(result)


def test_glue_interrupted_dagster_run_stops_the_remote_job(aws, monkeypatch):
    client, launcher = _glue(aws)
    _launch_on(client, "start_job_run", aws, _glue_args, report=False)

    def interrupt(_seconds):
        raise DagsterExecutionInterruptedError()

    monkeypatch.setattr(spark_mod.time, "sleep", interrupt)
    with Stubber(client) as stub:
        stub.add_response("start_job_run", {"JobRunId": "jr_1"}, _expected_glue_start())
        stub.add_response("get_job_run", _glue_run("RUNNING"), GLUE_GET)
        stub.add_response("get_job_run", _glue_run("RUNNING"), GLUE_GET)
        stub.add_response(
            "batch_stop_job_run",
            {"SuccessfulSubmissions": [{"JobName": "finance-platform-spark", "JobRunId": "jr_1"}]},
            {"JobName": "finance-platform-spark", "JobRunIds": ["jr_1"]},
        )
        with pytest.raises(DagsterExecutionInterruptedError):
            dg.materialize([_segments_asset()], resources={"spark_launcher": launcher})
        stub.assert_no_pending_responses()


def test_glue_job_that_never_reports_back_is_not_success(aws):
    client, launcher = _glue(aws)
    _launch_on(client, "start_job_run", aws, _glue_args, report=False)
    with Stubber(client) as stub:
        stub.add_response("start_job_run", {"JobRunId": "jr_1"}, _expected_glue_start())
        stub.add_response("get_job_run", _glue_run("RUNNING"), GLUE_GET)
        stub.add_response("get_job_run", _glue_run("SUCCEEDED"), GLUE_GET)
        result = _materialize(launcher)
    assert not result.success
    assert "never reported back" in _failure_message(result)


# -- configuration ------------------------------------------------------------------------
def test_missing_remote_configuration_names_the_variable(monkeypatch):
    monkeypatch.delenv("FINANCE_EMR_APPLICATION_ID", raising=False)
    with pytest.raises(dg.Failure, match="FINANCE_EMR_APPLICATION_ID"):
        spark_mod.emr_serverless_start_params(load_spark_settings(), "customer_segments", "r", "t")


def test_glue_execution_class_rejects_unknown_values(monkeypatch):
    from finance_platform.settings import ConfigError

    monkeypatch.setenv("FINANCE_GLUE_EXECUTION_CLASS", "spot")
    with pytest.raises(ConfigError, match="FINANCE_GLUE_EXECUTION_CLASS"):
        load_spark_settings()


@pytest.mark.slow
@pytest.mark.spark
def test_glue_engine_runs_the_real_job_and_the_asset_describes_the_table_it_wrote(
    aws, tmp_path, monkeypatch
):
    """The Glue engine through the real customer_segments asset: Glue is stubbed, and
    where Glue would run the driver, the real entry point body (``run.serve``) runs on
    local Spark, reading the lake and writing the table; Pipes travels over moto S3."""
    from dagster_pipes import (
        PipesContext,
        PipesMappingParamsLoader,
        PipesS3ContextLoader,
        PipesS3MessageWriter,
    )

    from finance_platform.defs.customers.assets import ASSETS
    from finance_platform.resources.engine import GlueEngine, build_customer_engine
    from finance_platform.resources.lake import LakeResource
    from finance_platform.sample_data import generate
    from finance_platform.settings import Settings
    from finance_platform.spark_jobs.registry import JOBS
    from finance_platform.spark_jobs.run import serve
    from finance_platform.spark_jobs.session import local_session
    from finance_platform_tests.customers.group import customer_resources
    from finance_platform_tests.spark.parity import assert_same_table

    generate(tmp_path / "raw", customers=150, months=4, seed=3)
    lake = LakeResource(root=str(tmp_path))
    monkeypatch.setenv("FINANCE_LAKE_ROOT", str(tmp_path))
    resources = customer_resources(tmp_path)
    assert dg.materialize(ASSETS, resources=resources).success
    want = lake.read_table("segments/customer_segments").to_pandas()
    lake.delete_dir("segments/customer_segments")

    local_session(master="local[2]", driver_memory="1g", shuffle_partitions=2)
    client = boto3.client("glue", region_name=REGION)
    _use_clients({"s3": aws, "glue": client})
    original = client.start_job_run

    def start_job_run(**params):
        pipes = PipesContext(
            PipesMappingParamsLoader(_glue_args(params)),
            PipesS3ContextLoader(aws),
            PipesS3MessageWriter(aws),
        )
        try:
            serve(pipes, JOBS[params["Arguments"]["--finance-job"]])
        finally:
            pipes.close()
        return original(**params)

    client.start_job_run = start_job_run
    glue = build_customer_engine(Settings(engine="glue", lake_root=str(tmp_path)))
    assert isinstance(glue, GlueEngine)
    with Stubber(client) as stub:
        stub.add_response("start_job_run", {"JobRunId": "jr_1"}, _expected_glue_start())
        stub.add_response("get_job_run", _glue_run("RUNNING"), GLUE_GET)
        stub.add_response("get_job_run", _glue_run("SUCCEEDED"), GLUE_GET)
        result = dg.materialize(
            ASSETS,
            selection=["customer_segments"],
            resources={**resources, "customer_engine": glue},
            raise_on_error=False,
        )
        stub.assert_no_pending_responses()
    assert result.success
    assert_same_table(
        want,
        lake.read_table("segments/customer_segments").to_pandas(),
        ["customer_id"],
        "customer_segments",
    )
    (mat,) = result.asset_materializations_for_node("customer_segments")
    assert mat.metadata["dagster/row_count"].value == len(want)
    sizes = want["segment_id"].astype(str).value_counts().sort_index()
    assert mat.metadata["segment_sizes"].value == {k: int(v) for k, v in sizes.items()}
    header = mat.metadata["preview"].value.splitlines()[0]
    assert [c.strip() for c in header.strip("|").split("|")][:2] == ["customer_id", "segment_id"]
    assert "name" not in [c.strip() for c in header.strip("|").split("|")]
