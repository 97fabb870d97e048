"""The templates lint clean (cfn-lint) and checkov finds nothing that is not justified.

checkov lives in its own virtualenv (``.venv-tools``, made by ``make setup``) because its
pins conflict with the platform's (boto3, packaging, networkx).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from finance_platform_tests.deploy.cfn import REPO, TEMPLATES

CHECKOV = REPO / ".venv-tools" / "bin" / "checkov"
TEMPLATE_FILES = sorted(TEMPLATES.glob("*.yaml"))


def test_there_are_templates():
    assert {p.name for p in TEMPLATE_FILES} == {"data-platform.yaml", "dagster-ecs.yaml"}


def test_cfn_lint_passes_with_no_errors_or_warnings():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), *map(str, TEMPLATE_FILES)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def checkov_report() -> dict:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make setup` (it creates .venv-tools)")
    result = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(TEMPLATES),
            "--framework",
            "cloudformation",
            # Offline: no Prisma Cloud mappings, no result upload.
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        cwd=REPO,
    )
    # 0 = all passed, 1 = some failed; anything else is checkov itself failing.
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


@pytest.mark.slow
def test_checkov_has_no_unjustified_failures(checkov_report: dict):
    summary = checkov_report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for c in checkov_report["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 100  # it really scanned both templates
    for skipped in checkov_report["results"]["skipped_checks"]:
        reason = (skipped["check_result"].get("suppress_comment") or "").strip()
        # A suppression must say why, in a sentence, next to the resource.
        assert len(reason.split()) >= 6, f"{skipped['check_id']} skipped without a reason"


def test_every_suppression_in_the_templates_has_a_reason():
    for path in TEMPLATE_FILES:
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                match = re.search(r"checkov:skip=(CKV2?_AWS_\d+):(.+)", line)
                assert match and len(match.group(2).split()) >= 6, line
