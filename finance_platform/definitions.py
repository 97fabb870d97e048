"""The code location: built by ``build_definitions`` from one ``Settings`` value.

Each domain builds its definitions from the settings it is handed; this module merges
them with the environment's resources and applies the platform-wide rules once, mapped
over every asset (links from each asset to its source file). Nothing else lives here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from finance_platform.defs import alerts, customers, market
from finance_platform.resources import build_resources
from finance_platform.settings import Settings, load_settings

_THIS_FILE = Path(__file__).resolve()
_PATH_IN_REPOSITORY = "finance_platform/definitions.py"


def link_to_source(assets: Sequence[Any], settings: Settings) -> Sequence[Any]:
    """Every asset with a link to the file (and line) that defines it, shown in the UI.

    With ``settings.git_url`` the links point at that repository's ``settings.git_branch``
    (the deployed code), else at the file on this machine (a developer's checkout).
    """
    # Beta in Dagster 1.13: one BetaWarning per asset on every load of the code location
    # would bury real warnings; the snapshot test shows any change in what they produce.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        linked = dg.with_source_code_references(assets)
        if not settings.git_url:
            return linked
        return dg.link_code_references_to_git(
            linked,
            git_url=settings.git_url,
            git_branch=settings.git_branch,
            file_path_mapping=dg.AnchorBasedFilePathMapping(
                local_file_anchor=_THIS_FILE, file_anchor_path_in_repository=_PATH_IN_REPOSITORY
            ),
        )


def build_definitions(settings: Settings) -> dg.Definitions:
    """The whole code location for ``settings``, built without reading the environment.

    Tests call this with any ``Settings`` (other symbols, prod with Glue) in-process. What
    a step reads when it runs (secrets as ``dg.EnvVar``, the customer thresholds, the Spark
    launch parameters) is read then, in ``settings.py``, so a rerun can pin it.
    """
    domains = [market.build_defs(settings), customers.build_defs(settings)]
    parts = [*domains, alerts.build_defs(settings, domains)]

    def every(attribute: str) -> list[Any]:
        return [item for part in parts for item in getattr(part, attribute) or []]

    return dg.Definitions(
        assets=link_to_source(every("assets"), settings),
        asset_checks=every("asset_checks"),
        jobs=every("jobs"),
        schedules=every("schedules"),
        sensors=every("sensors"),
        resources=build_resources(settings),
        # In-process: a step re-importing the code location per process costs more than
        # the work of most steps here (measured: 10-asset chain 22 s multiprocess vs
        # 2.6 s in-process). Heavy work runs on Spark (EMR/Glue) through Pipes anyway.
        executor=dg.in_process_executor,
    )


# What `dagster`, `dg` and workspace.yaml load: the one place the environment is read.
defs = build_definitions(load_settings())
