"""Read the CloudFormation templates in deploy/ and flatten intrinsics into comparable strings.

``!GetAtt LakeKey.Arn`` -> ``${LakeKey.Arn}``, ``!Ref X`` -> ``${X}``, ``!Sub s`` -> ``s``,
``Fn::ImportValue: !Sub finance-${Environment}-x`` -> ``import:finance-${Environment}-x``, so
tests can compare policies against the exact scopes they promise.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
TEMPLATES = DEPLOY / "cloudformation"
DATA_PLATFORM = TEMPLATES / "data-platform.yaml"
DAGSTER_ECS = TEMPLATES / "dagster-ecs.yaml"
LAKE_KEY_REFS = {"${LakeKey}", "${LakeKey.Arn}", "import:finance-${Environment}-lake-key-arn"}


@cache
def load(path: Path) -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml

    return _plain(cfn_yaml.load(str(path)))


def _plain(value: Any) -> Any:
    """cfn-lint's node classes -> plain dicts/lists/strings (hashable, comparable)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def render(value: Any) -> Any:
    """An intrinsic function as one string; other values unchanged."""
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return "${" + arg + "}"
        if fn == "Fn::GetAtt":
            return "${" + (".".join(arg) if isinstance(arg, list) else arg) + "}"
        if fn == "Fn::Sub":
            if isinstance(arg, list):
                text, variables = arg
                for name, sub in variables.items():
                    text = text.replace("${" + name + "}", render(sub))
                return text
            return arg
        if fn == "Fn::ImportValue":
            return "import:" + render(arg)
    return value


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resources(template: dict[str, Any], kind: str | None = None) -> dict[str, dict[str, Any]]:
    return {
        name: res
        for name, res in template["Resources"].items()
        if kind is None or res["Type"] == kind
    }


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][name].get("Properties", {})


def identity_policies(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(owner, statement) for every IAM identity policy: managed policies and role inline ones."""
    for name, res in template["Resources"].items():
        p = res.get("Properties", {})
        if res["Type"] == "AWS::IAM::ManagedPolicy":
            for st in as_list(p["PolicyDocument"]["Statement"]):
                yield name, st
        elif res["Type"] == "AWS::IAM::Role":
            for pol in p.get("Policies", []):
                for st in as_list(pol["PolicyDocument"]["Statement"]):
                    yield f"{name}/{pol['PolicyName']}", st


def grants(template: dict[str, Any], policy: str) -> set[tuple[str, str]]:
    """The (action, resource) pairs a managed policy allows."""
    doc = props(template, policy)["PolicyDocument"]
    pairs = set()
    for st in as_list(doc["Statement"]):
        assert st["Effect"] == "Allow", f"{policy}: unexpected {st['Effect']} statement"
        for action in as_list(st["Action"]):
            for resource in as_list(st["Resource"]):
                pairs.add((action, render(resource)))
    return pairs


def container_env(template: dict[str, Any], task_definition: str) -> dict[str, Any]:
    """Environment and secrets of a task definition's single container, by variable name."""
    (container,) = props(template, task_definition)["ContainerDefinitions"]
    env = {e["Name"]: render(e["Value"]) for e in container.get("Environment", [])}
    env.update(
        {s["Name"]: ("secret", render(s["ValueFrom"])) for s in container.get("Secrets", [])}
    )
    return env
