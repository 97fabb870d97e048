"""What the Dagster UI shows, as a reviewable snapshot (``__snapshots__/test_ui_snapshot.ambr``).

Every asset's key, group, kinds, owners, partitions, description, upstream assets, source
link and checks (name, severity, blocking), and every schedule and sensor, for the local
defaults and for production on Glue, each built in-process by ``build_definitions`` from a
``Settings`` value. A change to any of them fails here until the snapshot is updated
(``pytest finance_platform_tests/test_ui_snapshot.py --snapshot-update``), so it shows up
in review as a diff of that file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from finance_platform.definitions import build_definitions
from finance_platform.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]

# Production as the ECS tasks configure it (deploy/), customer steps on Glue; the git URL
# makes every asset link to its file in the repository.
PROD = {
    "FINANCE_ENV": "prod",
    "FINANCE_ENGINE": "glue",
    "FINANCE_LAKE_ROOT": "s3://finance-prod-lake-bucket",
    "AWS_REGION": "eu-west-1",
    "FINANCE_GIT_URL": "https://github.com/bank/finance_platform",
    "FINANCE_GIT_BRANCH": "main",
}


def _source(node: Any) -> list[str]:
    """Where the asset's source link points: a repository-relative file, or its git URL.

    Line numbers are left out: they move with every edit above the asset and would bury
    the changes that matter.
    """
    value = node.metadata.get("dagster/code_references")
    links = []
    for ref in value.code_references if value is not None else []:
        if isinstance(ref, dg.UrlCodeReference):
            links.append(ref.url.split("#", 1)[0])
        else:
            links.append(Path(ref.file_path).resolve().relative_to(REPO).as_posix())
    return links


def _check(spec: dg.AssetCheckSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "severity": spec.metadata.get("severity"),
        "blocking": spec.blocking,
        "description": spec.description,
    }


def ui_view(settings: Settings) -> dict[str, Any]:
    """The definitions for ``settings`` as the UI presents them, in a stable order."""
    defs = build_definitions(settings)
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    checks: dict[dg.AssetKey, list[dg.AssetCheckSpec]] = {}
    for checks_def in defs.asset_checks or []:
        for spec in checks_def.check_specs:
            checks.setdefault(spec.asset_key, []).append(spec)
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "owners": list(node.owners),
            "partitions": str(node.partitions_def) if node.partitions_def else None,
            "description": node.description,
            "upstream": sorted(k.to_user_string() for k in node.parent_keys),
            "source": _source(node),
            "checks": [_check(s) for s in sorted(checks.get(key, []), key=lambda s: s.name)],
        }
    schedules = {
        s.name: {
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "job": s.job_name,
            "default_status": s.default_status.value,
        }
        for s in sorted(repo.schedule_defs, key=lambda s: s.name)
    }
    sensors = {
        s.name: {"default_status": s.default_status.value}
        for s in sorted(repo.sensor_defs, key=lambda s: s.name)
    }
    return {"assets": assets, "schedules": schedules, "sensors": sensors}


@pytest.fixture
def no_aws_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building production definitions must not talk to AWS (a code server starts offline)."""
    import boto3

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an AWS client was created while building the definitions")

    monkeypatch.setattr(boto3, "client", refuse)
    monkeypatch.setattr(boto3.session.Session, "client", refuse)


def test_local_definitions_as_the_ui_shows_them(snapshot, no_aws_calls):
    assert ui_view(Settings()) == snapshot


def test_production_definitions_on_glue_as_the_ui_shows_them(snapshot, no_aws_calls):
    settings = load_settings(PROD)
    assert (settings.env, settings.engine) == ("prod", "glue")
    assert ui_view(settings) == snapshot
