"""The whole code location loads: a broken import or wiring never reaches a user."""

import importlib
import subprocess
import sys


def test_definitions_load_and_validate():
    import finance_platform.definitions as module

    importlib.reload(module)
    defs = module.defs
    repo = defs.get_repository_def()
    assert repo.get_all_jobs() is not None
    for key in ("lake", "customer_engine"):
        assert key in defs.resources


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
