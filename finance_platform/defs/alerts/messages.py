"""What an alert says: plain functions that turn run and check facts into Slack text.

No Dagster here, so the wording and the scrubbing rules are tested on their own.
Everything that reaches Slack passes through :func:`scrub` first: no API keys,
tokens, webhook URLs or customer names (Chinese personal names in the bank's files).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from finance_platform.settings import secret_values

MAX_SUMMARY_CHARS = 240
REDACTED = "[redacted]"

_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"https://hooks\.slack(?:-gov)?\.com/\S*", re.I), "[webhook-url]"),
    (re.compile(r"xox[a-z]-[A-Za-z0-9-]+"), "xox*-***"),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), "[aws-key-id]"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer ***"),
    # user:password@host in URLs
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^\s/@:]+:[^\s/@]+@"), r"\1***@"),
    # apikey=..., token: ..., "password": "..." (query strings, JSON, logs)
    (
        re.compile(
            r"(?i)\b((?:api[_-]?key|access[_-]?key|secret(?:[_-]?key)?|token|password|passwd)"
            r"[\"']?\s*[=:]\s*[\"']?)([^\s&\"',;}]+)"
        ),
        r"\1***",
    ),
)
# Customer names are Chinese personal names: any run of CJK characters is withheld.
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df]+")
# Quoted values that are not plain identifiers (column names, tickers, paths) may be
# data values -- a name typed in Latin letters, an address -- so they are withheld too.
_QUOTED = re.compile(r"(['\"])([^'\"\n]{1,200})\1")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_./:|-]+$")


def scrub(text: str, secrets: Iterable[str] | None = None) -> str:
    """Remove secrets and anything that could be customer data from ``text``."""
    out = text
    for value in sorted(secret_values() if secrets is None else secrets, key=len, reverse=True):
        if value:
            out = out.replace(value, "***")
    for pattern, replacement in _SECRET_PATTERNS:
        out = pattern.sub(replacement, out)
    out = _CJK.sub(REDACTED, out)

    def _quoted(match: re.Match[str]) -> str:
        inner = match.group(2)
        return match.group(0) if _IDENTIFIER.match(inner) else f"{match.group(1)}…{match.group(1)}"

    return _QUOTED.sub(_quoted, out)


def one_line(text: str, limit: int = MAX_SUMMARY_CHARS) -> str:
    """The first non-empty line of ``text``, shortened to ``limit`` characters."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def error_summary(cls_name: str | None, message: str | None) -> str:
    """``ValueError: first line of the message``, scrubbed and on one line."""
    msg = (message or "").strip()
    if cls_name and msg.startswith(f"{cls_name}:"):
        msg = msg[len(cls_name) + 1 :].strip()
    summary = f"{cls_name}: {one_line(msg)}" if cls_name else one_line(msg)
    return one_line(scrub(summary)) or "no error message recorded"


def run_url(ui_base_url: str, run_id: str) -> str:
    return f"{ui_base_url.rstrip('/')}/runs/{run_id}"


def job_label(job_name: str | None) -> str | None:
    """Dagster's hidden jobs (``__ASSET_JOB``: UI materializations, freshness runs) read badly."""
    if not job_name:
        return None
    return "ad-hoc asset run" if job_name.startswith("__") else job_name


def short_id(run_id: str) -> str:
    return run_id.split("-")[0] if run_id else "(no run)"


def _link(url: str, label: str) -> str:
    return f"<{url}|{label}>"


# -- run failures --------------------------------------------------------------------


def run_failure_message(
    *,
    job_name: str,
    run_id: str,
    failed_steps: Sequence[str],
    error: str,
    ui_base_url: str,
    partition: str | None = None,
    retry_note: str | None = None,
) -> str:
    lines = [f":rotating_light: *Run failed:* `{job_name}`"]
    run_line = f"Run `{short_id(run_id)}`"
    if partition:
        run_line += f" · partition `{partition}`"
    lines.append(run_line)
    steps = ", ".join(f"`{s}`" for s in failed_steps) if failed_steps else "(no step failed)"
    lines.append(f"Failed step(s): {steps}")
    lines.append(f"Error: {error}")
    if retry_note:
        lines.append(retry_note)
    lines.append(_link(run_url(ui_base_url, run_id), "Open the run in Dagster"))
    return "\n".join(lines)


def retry_note(retry_number: int, max_retries: int) -> str | None:
    """Tell operators whether Dagster will re-run this by itself (dagster.yaml run_retries)."""
    if retry_number < max_retries:
        return f"Dagster retries it automatically (retry {retry_number + 1} of {max_retries})."
    if retry_number > 0:
        return f"This was automatic retry {retry_number} of {max_retries}: no more retries."
    return None


def digest_message(*, what: str, run_ids: Sequence[str], ui_base_url: str) -> str:
    """One message standing in for many, so a failing backfill doesn't flood the channel."""
    shown = ", ".join(f"`{short_id(r)}`" for r in run_ids[:20])
    more = f" and {len(run_ids) - 20} more" if len(run_ids) > 20 else ""
    return f":rotating_light: *{len(run_ids)} more {what}* in this batch: {shown}{more}. " + _link(
        f"{ui_base_url.rstrip('/')}/runs", "All runs in Dagster"
    )


# -- asset checks ------------------------------------------------------------------------

_OBSERVED_KEYS = ("observed_value", "observed", "actual", "value")
_THRESHOLD_KEYS = ("threshold", "max_allowed", "min_allowed", "limit", "expected")
# Matched against the words of a metadata key (``max_missing_rate`` -> max, missing, rate),
# so ``unexpected_count`` is a measurement, not an "expected" limit.
_OBSERVED_HINTS = (
    "observed", "actual", "rate", "ratio", "pct", "percent", "count", "missing", "unexpected",
    "over",
)  # fmt: skip
_THRESHOLD_HINTS = ("threshold", "max", "min", "limit", "allowed", "expected", "bound")


@dataclass(frozen=True)
class CheckOutcome:
    """One asset-check evaluation, reduced to what an alert needs."""

    asset: str
    check_name: str
    passed: bool
    severity: str  # "ERROR" or "WARN"
    metadata: Mapping[str, object]
    description: str | None = None
    partition: str | None = None

    @property
    def key(self) -> str:
        return f"{self.asset}:{self.check_name}"


def _is_small_mapping(value: object) -> bool:
    return (
        isinstance(value, Mapping)
        and 0 < len(value) <= 5
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value.values())
    )


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if _is_small_mapping(value):  # e.g. columns over a threshold: {"contact_result": 0.19}
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())  # type: ignore[union-attr]
    text = str(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _pick(
    metadata: Mapping[str, object],
    exact: Sequence[str],
    hints: Sequence[str],
    skip: set[str],
    any_number: bool = False,
) -> tuple[str, object] | None:
    usable = {
        k: v
        for k, v in metadata.items()
        if k not in skip
        and not k.startswith("dagster/")
        and (isinstance(v, int | float | str | bool) or _is_small_mapping(v))
        and not (isinstance(v, str) and ("\n" in v or len(v) > 60))
    }
    for key in exact:
        if key in usable:
            return key, usable[key]
    for key, value in usable.items():
        if set(re.split(r"[^a-z0-9]+", key.lower())) & set(hints):
            return key, value
    if any_number:  # e.g. duplicates_removed: 12 -- the count is what was measured
        for key, value in usable.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                return key, value
    return None


def observed_and_threshold(metadata: Mapping[str, object]) -> tuple[str | None, str | None]:
    """Find the measured value and the limit in a check's metadata, as display text.

    Checks on this platform record ``observed_value`` and ``threshold``; other names
    (``missing_rate`` / ``max_missing_rate``...) are recognised by what they contain.
    """
    threshold = _pick(metadata, _THRESHOLD_KEYS, _THRESHOLD_HINTS, set())
    observed = _pick(
        metadata,
        _OBSERVED_KEYS,
        _OBSERVED_HINTS,
        {threshold[0]} if threshold else set(),
        any_number=True,
    )

    def show(item: tuple[str, object] | None, generic: tuple[str, ...]) -> str | None:
        if item is None:
            return None
        key, value = item
        return _fmt(value) if key in generic else f"{key} {_fmt(value)}"

    return show(observed, _OBSERVED_KEYS), show(threshold, _THRESHOLD_KEYS)


def _check_line(outcome: CheckOutcome, still_failing: bool) -> str:
    where = f"`{outcome.asset}` › `{outcome.check_name}`"
    if outcome.partition:
        where += f" [{outcome.partition}]"
    observed, threshold = observed_and_threshold(outcome.metadata)
    facts = []
    if observed:
        facts.append(f"observed {observed}")
    if threshold:
        facts.append(f"threshold {threshold}")
    elif outcome.description:
        # No threshold in the metadata: the check's description states its rule.
        facts.append(one_line(outcome.description, 160))
    text = f"• *{outcome.severity}* {where}"
    if facts:
        text += ": " + "; ".join(facts)
    if still_failing:
        text += " (still failing)"
    return scrub(text)


def check_failure_message(
    *,
    failures: Sequence[CheckOutcome],
    run_id: str,
    job_name: str | None,
    ui_base_url: str,
    already_failing: set[str] | frozenset[str] = frozenset(),
) -> str:
    errors = sum(1 for f in failures if f.severity == "ERROR")
    icon = ":red_circle:" if errors else ":warning:"
    noun = "asset check" if len(failures) == 1 else "asset checks"
    where = f"run `{short_id(run_id)}`" + (f" (`{job_name}`)" if job_name else "")
    head = f"{icon} *{len(failures)} {noun} failed* in {where}"
    counts = f"{errors} ERROR, {len(failures) - errors} WARN"
    # ERROR before WARN, so what blocks data is read first.
    ordered = sorted(failures, key=lambda f: (f.severity != "ERROR", f.asset, f.check_name))
    lines = [f"{head} — {counts}"]
    lines += [_check_line(f, f.key in already_failing) for f in ordered]
    if run_id:
        lines.append(_link(run_url(ui_base_url, run_id), "Open the run in Dagster"))
    return "\n".join(lines)


def check_recovered_message(
    *, recovered: Sequence[CheckOutcome], run_id: str, job_name: str | None, ui_base_url: str
) -> str:
    names = ", ".join(f"`{r.asset}` › `{r.check_name}`" for r in recovered)
    where = f"run `{short_id(run_id)}`" + (f" (`{job_name}`)" if job_name else "")
    text = f":large_green_circle: *Recovered:* {names} passed again in {where}"
    if run_id:
        text += " " + _link(run_url(ui_base_url, run_id), "run")
    return scrub(text)


# -- slow runs -----------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def slow_run_message(
    *,
    job_name: str,
    run_id: str,
    duration_s: float,
    median_s: float,
    baseline_runs: int,
    ratio_limit: float,
    ui_base_url: str,
) -> str:
    ratio = duration_s / median_s if median_s > 0 else float("inf")
    return (
        f":hourglass: *Notice: slow run* `{job_name}` run `{short_id(run_id)}` took "
        f"{_duration(duration_s)}, {ratio:.0%} of the median {_duration(median_s)} of its "
        f"last {baseline_runs} successful runs (notice above {ratio_limit:.0%}). "
        + _link(run_url(ui_base_url, run_id), "Open the run in Dagster")
    )
