"""The ECS task definitions give the code every variable it reads in production.

The names are taken from the code and from deploy/dagster.yaml, so a new setting in
resources/warehouse.py, the resources/alpha_vantage package (and the settings loader it
is built from) or the instance file that the stack does not provide fails here rather than
in the first production run.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import yaml

from finance_platform.settings import load_alpha_vantage_settings
from finance_platform_tests.deploy.cfn import DAGSTER_ECS, DEPLOY, REPO, container_env, load

ECS = load(DAGSTER_ECS)
CODE_TASKS = ("CodeLocationTaskDefinition", "RunWorkerTaskDefinition")
ALL_TASKS = (
    *CODE_TASKS,
    "WebserverTaskDefinition",
    "ReadOnlyWebserverTaskDefinition",
    "DaemonTaskDefinition",
)
SECRET_LIKE = re.compile(r"PASSWORD|TOKEN|WEBHOOK|API_KEY|SECRET$")


def _instance_env_vars() -> set[str]:
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if set(node) == {"env"}:
                found.add(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load((DEPLOY / "dagster.yaml").read_text()))
    walk(yaml.safe_load((DEPLOY / "workspace.yaml").read_text()))
    return found


def _image_env_vars() -> set[str]:
    """Variables the image itself sets (``ENV`` in deploy/Dockerfile)."""
    dockerfile = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    names: set[str] = set()
    for line in final_stage.splitlines():
        if line.startswith("ENV "):
            names |= set(re.findall(r"([A-Z_][A-Z0-9_]*)=", line))
    return names


def _prod_code_env_vars() -> set[str]:
    """Variables the production resources read (dg.EnvVar, os.environ and settings look-ups)."""
    resources = REPO / "finance_platform" / "resources"
    sources = [
        (resources / "warehouse.py").read_text(),
        *(p.read_text() for p in sorted((resources / "alpha_vantage").glob("*.py"))),
        inspect.getsource(load_alpha_vantage_settings),
    ]
    names: set[str] = set()
    for source in sources:
        names |= set(re.findall(r'EnvVar\(\s*"([A-Z0-9_]+)"', source))
        names |= set(re.findall(r'environ\.get\(\s*"([A-Z0-9_]+)"', source))
        names |= set(re.findall(r'_env\(\s*"([A-Z0-9_]+)"', source))
    # Local-only: the key comes from Secrets Manager in prod; the base URL is for the sandbox.
    return names - {"ALPHAVANTAGE_API_KEY", "ALPHAVANTAGE_BASE_URL"}


def test_code_reads_the_variables_we_expect():
    # Guard the scan itself: if it finds nothing, the wiring test below proves nothing.
    assert {"FINANCE_REDSHIFT_WORKGROUP", "ALPHAVANTAGE_SECRET_ID"} <= _prod_code_env_vars()


@pytest.mark.parametrize("task", CODE_TASKS)
def test_code_tasks_get_every_production_setting(task: str):
    env = container_env(ECS, task)
    needed = _prod_code_env_vars() | {
        "FINANCE_ENV",
        "FINANCE_LAKE_ROOT",
        "FINANCE_ENGINE",
        "AWS_REGION",
        "FINANCE_EMR_APPLICATION_ID",
        "FINANCE_EMR_EXECUTION_ROLE_ARN",
        "FINANCE_GLUE_JOB_NAME",
        "FINANCE_SPARK_ARTIFACTS_URI",
        "FINANCE_PIPES_BUCKET",
        "SLACK_WEBHOOK_URL",
    }
    provided = set(env) | _image_env_vars()
    assert needed <= provided, sorted(needed - provided)
    assert env["FINANCE_ENV"] == "prod"
    assert env["FINANCE_LAKE_ROOT"] == "s3://import:finance-${Environment}-lake-bucket"
    # The API key never travels as an environment value; the code reads Secrets Manager.
    assert "ALPHAVANTAGE_API_KEY" not in env


@pytest.mark.parametrize("task", ALL_TASKS)
def test_every_task_can_open_the_production_instance(task: str):
    env = container_env(ECS, task)
    missing = _instance_env_vars() - set(env) - _image_env_vars()
    if task in CODE_TASKS:
        missing -= {"DAGSTER_CODE_LOCATION_HOST"}  # only the webserver/daemon workspace needs it
    assert not missing, sorted(missing)
    # TLS to PostgreSQL, verified against the RDS CA bundle baked into the image.
    assert env["PGSSLMODE"] == "verify-full"
    assert env["PGSSLROOTCERT"] in (DEPLOY / "Dockerfile").read_text()


@pytest.mark.parametrize("task", ALL_TASKS)
def test_secrets_are_injected_never_written_into_the_task_definition(task: str):
    for name, value in container_env(ECS, task).items():
        if SECRET_LIKE.search(name) and name != "ALPHAVANTAGE_SECRET_ID":
            assert isinstance(value, tuple) and value[0] == "secret", name


def test_image_runs_the_production_instance_as_a_non_root_user():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "COPY deploy/dagster.yaml deploy/workspace.yaml /opt/dagster/" in dockerfile
    assert "DAGSTER_HOME=/opt/dagster" in dockerfile
    (user,) = re.findall(r"^USER (\S+)$", dockerfile, flags=re.M)
    assert not user.startswith(("root", "0")), user
    assert "--require-hashes -r deploy/requirements.lock" in dockerfile
    for td in ALL_TASKS:
        (container,) = ECS["Resources"][td]["Properties"]["ContainerDefinitions"]
        command = container.get("Command", [])
        # Every command points at files the image really contains.
        for arg in command:
            if arg.startswith("/opt/dagster/"):
                assert Path(arg).name in {"workspace.yaml"}, arg


def test_lock_file_pins_every_runtime_dependency():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lock = (DEPLOY / "requirements.lock").read_text().lower()
    pinned = set(re.findall(r"^([a-z0-9][a-z0-9._-]*)==", lock, flags=re.M))
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        assert name in pinned, f"{name} is a dependency but not pinned in deploy/requirements.lock"
    assert "psycopg2-binary" in pinned  # the instance's scheme is postgresql+psycopg2


def _container_commands() -> dict[str, list[str]]:
    commands = {}
    for td in ALL_TASKS:
        (container,) = ECS["Resources"][td]["Properties"]["ContainerDefinitions"]
        if "Command" in container:
            commands[td] = container["Command"]
        if "HealthCheck" in container:
            commands[f"{td} health check"] = container["HealthCheck"]["Command"][1:]
    return commands


@pytest.mark.parametrize("name", sorted(_container_commands()))
def test_container_commands_parse_with_the_installed_dagster_cli(name: str):
    """A misspelt flag would only show up as a crash-looping ECS service."""
    import importlib
    from importlib.metadata import entry_points

    import click

    program, *args = _container_commands()[name]
    # Files the image copies to /opt/dagster/ come from deploy/ (Dockerfile COPY).
    args = [
        str(DEPLOY / a.removeprefix("/opt/dagster/")) if a.startswith("/opt/") else a for a in args
    ]
    (entry,) = entry_points(group="console_scripts", name=program)
    # Each entry point is a main() around the module's click command `cli`.
    command = getattr(importlib.import_module(entry.module), "cli", None)
    assert isinstance(command, click.Command), f"{program} has no click command"
    while isinstance(command, click.Group) and args and args[0] in command.commands:
        command = command.commands[args.pop(0)]
    command.make_context(program, args)  # raises on unknown options or bad values
