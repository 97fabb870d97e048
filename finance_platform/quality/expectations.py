"""Run a Great Expectations 1.x suite (JSON) on a pandas DataFrame and report per expectation.

Generic on purpose: any domain can keep its rules in a suite JSON next to this
file and turn each expectation into an asset check. Each expectation's ``meta``
may carry:

- ``check_name``: a stable, unique name (becomes the asset check's name),
- ``description``: what it measures and its threshold, in plain words,
- ``severity``: ``"ERROR"`` (default) or ``"WARN"``,
- ``blocking``: ``true`` if nothing downstream may be built when it fails.

Great Expectations is imported inside ``run_suite`` only (it takes seconds to import).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

QUALITY_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation as declared in the suite, before anything runs."""

    check_name: str
    type: str
    kwargs: dict[str, Any]
    description: str
    severity: str = "ERROR"
    blocking: bool = True


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation: pass/fail and what was observed."""

    spec: ExpectationSpec
    success: bool
    observed: dict[str, Any] = field(default_factory=dict)
    exception: str | None = None
    # Row positions (in the validated frame) that broke a row-level rule; ``None`` when the
    # expectation is about the whole table or the result format does not list them.
    unexpected_index: list[int] | None = None

    @property
    def check_name(self) -> str:
        return self.spec.check_name


@dataclass(frozen=True)
class SuiteOutcome:
    suite_name: str
    success: bool
    outcomes: list[ExpectationOutcome]
    statistics: dict[str, Any]
    raw: dict[str, Any]  # GE's full validation result (JSON-serialisable)

    def by_check_name(self) -> dict[str, ExpectationOutcome]:
        return {o.check_name: o for o in self.outcomes}


def _default_check_name(exp: Mapping[str, Any]) -> str:
    kwargs = exp.get("kwargs", {})
    target = kwargs.get("column") or "_".join(
        str(kwargs.get(k)) for k in ("column_A", "column_B") if kwargs.get(k)
    )
    if not target and kwargs.get("column_list"):
        target = "_".join(kwargs["column_list"])
    name = exp["type"].removeprefix("expect_") + (f"__{target}" if target else "")
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def load_suite(suite: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """A suite as a dict: from a dict, a path, or a file name in ``finance_platform/quality``."""
    if isinstance(suite, Mapping):
        return dict(suite)
    path = Path(suite)
    if not path.is_absolute() and not path.exists():
        path = QUALITY_DIR / path
    return json.loads(path.read_text(encoding="utf-8"))


def expectation_specs(suite: str | Path | Mapping[str, Any]) -> list[ExpectationSpec]:
    """The suite's expectations with check names, severity and blocking flag (no GE import)."""
    data = load_suite(suite)
    specs = []
    for exp in data.get("expectations", []):
        meta = exp.get("meta", {}) or {}
        severity = str(meta.get("severity", "ERROR")).upper()
        if severity not in ("ERROR", "WARN"):
            raise ValueError(f"severity must be ERROR or WARN, got {severity!r}")
        specs.append(
            ExpectationSpec(
                check_name=meta.get("check_name") or _default_check_name(exp),
                type=exp["type"],
                kwargs=dict(exp.get("kwargs", {})),
                description=meta.get("description") or exp["type"].replace("_", " "),
                severity=severity,
                blocking=bool(meta.get("blocking", severity == "ERROR")),
            )
        )
    names = [s.check_name for s in specs]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"check names must be unique in a suite; repeated: {sorted(dupes)}")
    return specs


def _observed(result: Mapping[str, Any]) -> dict[str, Any]:
    keep = (
        "observed_value",
        "element_count",
        "missing_count",
        "unexpected_count",
        "unexpected_percent",
        "partial_unexpected_list",
    )
    return {k: result[k] for k in keep if k in result}


def _unexpected_index(result: Mapping[str, Any]) -> list[int] | None:
    """Positions of the failing rows (``COMPLETE`` result format only)."""
    found = result.get("unexpected_index_list")
    if found is None:
        return None
    return [int(i) for i in found if isinstance(i, int | float)]


def import_great_expectations():
    """``great_expectations``, imported without its optional PySpark support.

    GE imports PySpark (0.8 s of its ~4.5 s import) only to offer a Spark datasource;
    suites here validate pandas frames. Unless PySpark is already loaded (Spark engine),
    it is hidden for the duration of the import, and importable again afterwards.
    """
    import sys

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    if "great_expectations" in sys.modules or "pyspark" in sys.modules:
        import great_expectations

        return great_expectations
    sys.modules["pyspark"] = None  # type: ignore[assignment] - makes `import pyspark` fail
    try:
        import great_expectations
    finally:
        if sys.modules.get("pyspark", 0) is None:
            del sys.modules["pyspark"]
    return great_expectations


def run_suite(
    suite: str | Path | Mapping[str, Any],
    frame: pd.DataFrame,
    result_format: str = "SUMMARY",
) -> SuiteOutcome:
    """Validate ``frame`` against ``suite`` with an ephemeral GE context (no files, no bars).

    Returns one ``ExpectationOutcome`` per expectation, in suite order, plus GE's
    full result in ``raw`` for storage.
    """
    gx = import_great_expectations()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    data = load_suite(suite)
    specs = expectation_specs(data)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch_definition = (
        context.data_sources.add_pandas("frame_source")
        .add_dataframe_asset("frame")
        .add_batch_definition_whole_dataframe("whole_frame")
    )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    # Every expectation carries its check name in meta: GE does not keep suite order.
    gx_suite = gx.ExpectationSuite(
        name=data.get("name", "suite"),
        expectations=[
            {
                "type": spec.type,
                "kwargs": spec.kwargs,
                "meta": {**(e.get("meta") or {}), "check_name": spec.check_name},
            }
            for spec, e in zip(specs, data.get("expectations", []), strict=True)
        ],
    )
    validation = batch.validate(gx_suite, result_format=result_format)
    raw = json.loads(json.dumps(validation.to_json_dict(), default=str))
    by_name = {r["expectation_config"]["meta"]["check_name"]: r for r in raw["results"]}
    outcomes = []
    for spec in specs:
        res = by_name[spec.check_name]
        info = res.get("exception_info") or {}
        error = info.get("exception_message") if info.get("raised_exception") else None
        outcomes.append(
            ExpectationOutcome(
                spec=spec,
                success=bool(res["success"]),
                observed=_observed(res.get("result") or {}),
                exception=error,
                unexpected_index=_unexpected_index(res.get("result") or {}),
            )
        )
    return SuiteOutcome(
        suite_name=raw.get("suite_name", gx_suite.name),
        success=bool(raw["success"]),
        outcomes=outcomes,
        statistics=raw.get("statistics", {}),
        raw=raw,
    )
