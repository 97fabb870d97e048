"""Spark for the platform: a local session, and launchers for EMR Serverless and Glue via Pipes.

The building blocks of the customer engines (``resources/engine.py``, picked by
``FINANCE_ENGINE``). Every Spark engine runs the same job code
(``finance_platform.spark_jobs``); only how it is started differs:

- ``spark``: a local subprocess (``local[*]``) through Dagster Pipes (the launcher's
  local mode; ``LocalSparkEngine`` runs the job body in-process on a session instead);
- ``emr-serverless``: ``dagster_aws.pipes.PipesEMRServerlessClient``;
- ``glue``: ``dagster_aws.pipes.PipesGlueClient`` (execution class FLEX by default).

Remote parameters (application id, job name, role, script location, logs,
Spark conf) come from ``SparkSettings`` (environment), never from literals.
A remote job that fails, is cancelled, times out, or finishes without
reporting its tables back through Pipes fails the Dagster step with the
remote error message. PySpark and boto3 are imported lazily.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from finance_platform.settings import SparkSettings, load_spark_settings
from finance_platform.spark_jobs.registry import JOBS, SparkJobSpec

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ENTRY_POINT_SCRIPT = "run_job.py"  # uploaded by `make spark-package`, see deploy/spark.md
PACKAGE_ZIP = "finance_platform.zip"


def make_aws_client(service: str, region: str | None) -> Any:
    """A boto3 client (the one seam tests replace with stubbed clients)."""
    import boto3

    return boto3.client(service, region_name=region)


class SparkSessionResource(dg.ConfigurableResource):
    """A local SparkSession (``local[*]``) with small-machine settings, started on first use."""

    master: str = Field(default="local[*]", description="Spark master URL.")
    driver_memory: str = Field(default="2g", description="Driver JVM heap (spark.driver.memory).")
    shuffle_partitions: int = Field(default=4, description="spark.sql.shuffle.partitions.")
    conf: dict[str, str] = Field(default_factory=dict, description="Extra spark.* settings.")

    def get_session(self) -> SparkSession:
        from finance_platform.spark_jobs.session import local_session

        return local_session(
            master=self.master,
            driver_memory=self.driver_memory,
            shuffle_partitions=self.shuffle_partitions,
            conf=tuple(self.conf.items()),
        )


class RemoteSparkJobError(dg.Failure):
    """A Spark job ended without producing its tables; carries the engine's own error text."""


def _require(settings: SparkSettings, **named: str) -> None:
    missing = [env for env, attr in named.items() if not getattr(settings, attr)]
    if missing:
        raise dg.Failure(
            description=f"Spark engine not configured: set {', '.join(missing)} (deploy/spark.md)"
        )


def _s3_bucket_and_prefix(uri: str) -> tuple[str, str]:
    rest = uri.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix


# -- start parameters (pure functions: what the tests pin down) -------------------
def emr_serverless_start_params(
    settings: SparkSettings, job: str, run_id: str, client_token: str
) -> dict[str, Any]:
    """``StartJobRun`` parameters for EMR Serverless; Pipes adds its env vars and tags."""
    _require(
        settings,
        FINANCE_EMR_APPLICATION_ID="emr_application_id",
        FINANCE_EMR_EXECUTION_ROLE_ARN="emr_execution_role_arn",
        FINANCE_SPARK_ARTIFACTS_URI="artifacts_uri",
    )
    submit = [f"--py-files {settings.artifacts_uri}/{PACKAGE_ZIP}"]
    submit += [f"--conf {key}={value}" for key, value in settings.conf]
    params: dict[str, Any] = {
        "applicationId": settings.emr_application_id,
        "executionRoleArn": settings.emr_execution_role_arn,
        "name": f"finance_platform-{job}-{run_id[:8]}",
        "clientToken": client_token,
        "executionTimeoutMinutes": settings.timeout_minutes,
        "jobDriver": {
            "sparkSubmit": {
                "entryPoint": f"{settings.artifacts_uri}/{ENTRY_POINT_SCRIPT}",
                "entryPointArguments": ["--finance-job", job],
                "sparkSubmitParameters": " ".join(submit),
            }
        },
        "tags": {"finance_platform/job": job},
    }
    if settings.log_uri:
        params["configurationOverrides"] = {
            "monitoringConfiguration": {
                "s3MonitoringConfiguration": {"logUri": f"{settings.log_uri}/emr-serverless/"}
            }
        }
    return params


def glue_start_params(settings: SparkSettings, job: str) -> dict[str, Any]:
    """``StartJobRun`` parameters for Glue; Pipes adds its ``--dagster-pipes-*`` arguments."""
    _require(
        settings,
        FINANCE_GLUE_JOB_NAME="glue_job_name",
        FINANCE_SPARK_ARTIFACTS_URI="artifacts_uri",
    )
    arguments = {
        "--finance-job": job,
        "--extra-py-files": f"{settings.artifacts_uri}/{PACKAGE_ZIP}",
    }
    if settings.log_uri:
        arguments["--enable-spark-ui"] = "true"
        arguments["--spark-event-logs-path"] = f"{settings.log_uri}/glue/"
    params: dict[str, Any] = {
        "JobName": settings.glue_job_name,
        "Arguments": arguments,
        "ExecutionClass": settings.glue_execution_class,
        "WorkerType": settings.glue_worker_type,
        "NumberOfWorkers": settings.glue_number_of_workers,
        "Timeout": settings.timeout_minutes,
    }
    return params


# -- Pipes clients that never mistake silence or failure for success ---------------
def _closing_s3_reader_class():
    from dagster_aws.pipes import PipesS3MessageReader

    class ClosingS3MessageReader(PipesS3MessageReader):
        """An S3 Pipes reader that can tell afterwards whether the job closed Pipes.

        Public API missing: a client's ``PipesClientCompletedInvocation`` keeps its Pipes
        session (and so the handler's ``received_closed_message``) private. The handler is
        handed to the reader through the public ``read_messages``, so the reader keeps it.
        """

        handler: dg.PipesMessageHandler | None = None

        @contextlib.contextmanager
        def read_messages(self, handler: dg.PipesMessageHandler) -> Iterator[Any]:
            self.handler = handler
            with super().read_messages(handler) as params:
                yield params

        @property
        def received_closed_message(self) -> bool:
            return self.handler is not None and self.handler.received_closed_message

    return ClosingS3MessageReader


def _emr_client_class():
    from dagster_aws.pipes import PipesEMRServerlessClient

    class FinanceEMRServerlessClient(PipesEMRServerlessClient):
        """Waits with a deadline and fails with EMR's own ``stateDetails``."""

        def __init__(self, *args: Any, timeout_seconds: float, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.timeout_seconds = timeout_seconds

        def _wait_for_completion(self, context, start_response):  # type: ignore[override]
            app_id, run_id = start_response["applicationId"], start_response["jobRunId"]
            deadline = time.monotonic() + self.timeout_seconds
            while True:
                response = self.client.get_job_run(applicationId=app_id, jobRunId=run_id)
                run = response["jobRun"]
                state = run["state"]
                if state == "SUCCESS":
                    context.log.info(f"EMR Serverless job run {run_id} succeeded")
                    return response
                if state in ("FAILED", "CANCELLED", "CANCELLING"):
                    details = run.get("stateDetails") or "(no details from EMR Serverless)"
                    raise RemoteSparkJobError(
                        description=f"EMR Serverless job run {run_id} ended {state}: {details}",
                        metadata={"job_run_id": run_id, "state": state, "remote_error": details},
                    )
                if time.monotonic() >= deadline:
                    self._terminate(context, start_response)
                    raise RemoteSparkJobError(
                        description=(
                            f"EMR Serverless job run {run_id} still {state} after "
                            f"{self.timeout_seconds:.0f} s; cancelled it"
                        ),
                        metadata={"job_run_id": run_id, "state": state},
                    )
                time.sleep(self.poll_interval)

        def _read_messages(self, context, session, response):  # type: ignore[override]
            # Messages come through the S3 reader; CloudWatch wiring is not used.
            return None

    return FinanceEMRServerlessClient


def _glue_client_class():
    from dagster_aws.pipes import PipesGlueClient

    class FinanceGlueClient(PipesGlueClient):
        """Polls at a configurable interval with a deadline; fails with Glue's ``ErrorMessage``."""

        def __init__(self, *args: Any, timeout_seconds: float, poll_interval: float, **kwargs):
            super().__init__(*args, **kwargs)
            self.timeout_seconds = timeout_seconds
            self.poll_interval = poll_interval

        def _wait_for_job_run_completion(self, job_name: str, run_id: str):  # type: ignore[override]
            deadline = time.monotonic() + self.timeout_seconds
            while True:
                response = self._client.get_job_run(JobName=job_name, RunId=run_id)
                state = response["JobRun"]["JobRunState"]
                if state == "SUCCEEDED":
                    return response
                if state in ("FAILED", "STOPPED", "TIMEOUT", "ERROR", "EXPIRED"):
                    details = response["JobRun"].get("ErrorMessage") or "(no message from Glue)"
                    raise RemoteSparkJobError(
                        description=f"Glue job {job_name} run {run_id} ended {state}: {details}",
                        metadata={"job_run_id": run_id, "state": state, "remote_error": details},
                    )
                if time.monotonic() >= deadline:
                    self._client.batch_stop_job_run(JobName=job_name, JobRunIds=[run_id])
                    raise RemoteSparkJobError(
                        description=(
                            f"Glue job {job_name} run {run_id} still {state} after "
                            f"{self.timeout_seconds:.0f} s; stopped it"
                        ),
                        metadata={"job_run_id": run_id, "state": state},
                    )
                time.sleep(self.poll_interval)

    return FinanceGlueClient


def _last_error_line(stderr: str) -> str:
    """The exception line of a Python traceback (what a user needs), without the noise."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "Exception" in line:
            return line[:500]
    return (lines[-1] if lines else "no output")[:500]


def require_reported(
    results: Sequence[Any], expected_keys: Sequence[dg.AssetKey], closed: bool, where: str
) -> None:
    """A job that finished without reporting every expected table does not count as success."""
    reported = {r.asset_key for r in results if isinstance(r, dg.MaterializeResult)}
    missing = [k.to_user_string() for k in expected_keys if k not in reported]
    if missing or not closed:
        raise RemoteSparkJobError(
            description=(
                f"{where} finished but never reported back through Dagster Pipes"
                + (f" (no materialization for {', '.join(missing)})" if missing else "")
                + "; not counting it as success"
            ),
            metadata={"missing": ", ".join(missing), "pipes_closed": closed},
        )


class SparkJobLauncher(dg.ConfigurableResource):
    """Runs a Spark job from ``spark_jobs.registry`` on the configured engine, through Pipes.

    ``run(context, tables=[...])`` builds the given tables (default: the
    asset's own table name), writes them to the lake and returns the
    ``MaterializeResult``s the job reported.
    """

    engine: str = Field(default="spark", description="spark | emr-serverless | glue")
    lake_root: str = Field(description="Lake root the job reads and writes (folder or s3://).")
    region: str | None = Field(default=None, description="AWS region for EMR / Glue / S3.")

    def _client(self, service: str) -> Any:
        return make_aws_client(service, self.region)

    @property
    def settings(self) -> SparkSettings:
        return load_spark_settings()

    def _pipes_io(self, settings: SparkSettings):
        from dagster_aws.pipes import PipesS3ContextInjector

        _require(settings, FINANCE_PIPES_BUCKET="pipes_bucket")
        s3 = self._client("s3")
        injector = PipesS3ContextInjector(
            bucket=settings.pipes_bucket, client=s3, key_prefix=settings.pipes_prefix
        )
        reader = _closing_s3_reader_class()(
            bucket=settings.pipes_bucket, client=s3, interval=min(10.0, settings.poll_seconds)
        )
        return injector, reader

    def run(
        self,
        context: dg.AssetExecutionContext,
        *,
        job: str | None = None,
        tables: Sequence[str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[dg.MaterializeResult]:
        """Run the Spark job for the selected assets; returns their reported materializations."""
        keys = list(context.selected_asset_keys)
        tables = list(tables or [k.path[-1] for k in keys])
        spec = JOBS[job] if job else _job_for(tables)
        asset_keys = {t: k.to_user_string() for t, k in zip(tables, keys, strict=False)}
        settings = self.settings
        extras = {
            "lake_root": self.lake_root,
            "tables": tables,
            "asset_keys": asset_keys,
            "params": dict(params or {}),
            "spark_conf": [list(p) for p in settings.conf],
        }
        if self.engine == "spark":
            return self._run_local(context, spec, extras, settings, keys)
        if self.engine == "emr-serverless":
            return self._run_emr(context, spec, extras, settings, keys)
        if self.engine == "glue":
            return self._run_glue(context, spec, extras, settings, keys)
        raise dg.Failure(description=f"engine {self.engine!r} is not a Spark engine")

    def _run_local(self, context, spec, extras, settings, keys):
        extras = {
            **extras,
            "spark_mode": "local",
            "master": settings.master,
            "driver_memory": settings.driver_memory,
            "shuffle_partitions": settings.shuffle_partitions,
        }
        command = [sys.executable, "-m", "finance_platform.spark_jobs.run", spec.name]
        with dg.open_pipes_session(
            context=context,
            context_injector=dg.PipesTempFileContextInjector(),
            message_reader=dg.PipesTempFileMessageReader(),
            extras=extras,
        ) as session:
            env = {**os.environ, **session.get_bootstrap_env_vars()}
            proc = subprocess.run(  # noqa: S603 - our own interpreter and module
                command, env=env, capture_output=True, text=True, check=False
            )
            for line in proc.stdout.splitlines()[-20:]:
                context.log.debug(line)
            if proc.returncode != 0:
                raise RemoteSparkJobError(
                    description=(
                        f"local Spark job {spec.name} exited with code {proc.returncode}: "
                        f"{_last_error_line(proc.stderr)}"
                    ),
                    metadata={"exit_code": proc.returncode},
                )
        results = list(session.get_results(implicit_materializations=False))
        require_reported(
            results, keys, session.message_handler.received_closed_message, f"job {spec.name}"
        )
        return results

    def _run_emr(self, context, spec, extras, settings, keys):
        params = emr_serverless_start_params(
            settings,
            spec.name,
            context.run_id,
            client_token=f"{context.run_id}-{spec.name}"[:64],
        )
        where = f"EMR Serverless job {spec.name}"
        client_class = _emr_client_class()
        return self._run_remote(
            context, client_class, "emr-serverless", params, extras, settings, keys, where
        )

    def _run_glue(self, context, spec, extras, settings, keys):
        params = glue_start_params(settings, spec.name)
        where = f"Glue job {spec.name}"
        client_class = _glue_client_class()
        return self._run_remote(
            context, client_class, "glue", params, extras, settings, keys, where
        )

    def _run_remote(self, context, client_class, service, params, extras, settings, keys, where):
        """Start the job through the Pipes client; its tables must be reported back."""
        injector, reader = self._pipes_io(settings)
        client = client_class(
            client=self._client(service),
            context_injector=injector,
            message_reader=reader,
            poll_interval=settings.poll_seconds,
            timeout_seconds=settings.timeout_minutes * 60,
        )
        invocation = client.run(context=context, start_job_run_params=params, extras=extras)
        results = list(invocation.get_results(implicit_materializations=False))
        require_reported(results, keys, reader.received_closed_message, where)
        return results


def _job_for(tables: Sequence[str]) -> SparkJobSpec:
    from finance_platform.spark_jobs.registry import job_for_table

    specs = {job_for_table(t).name for t in tables}
    if len(specs) != 1:
        raise dg.Failure(description=f"tables {list(tables)} are built by different jobs {specs}")
    return JOBS[specs.pop()]
