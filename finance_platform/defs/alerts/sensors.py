"""Sensors that tell operators in Slack (and CloudWatch) what happened to runs and checks.

All four read finished runs from the instance's run-status events with a storage-id
cursor, so every run is looked at once, whichever job or code location it came from:

- ``slack_on_run_failure``: one alert per failed run (job, run, failed steps, error, link).
- ``slack_on_asset_check_failure``: one alert per run listing its failed checks
  (a failed check does not fail a run), and a "recovered" note when a check that was
  failing passes again.
- ``slack_on_slow_run``: a notice when a run takes more than 150% of its job's median.
- ``cloudwatch_run_metrics``: row counts, check outcomes and durations to CloudWatch.

Check evaluations are read per finished run (``get_records_for_run``) rather than with a
cross-run query on ASSET_CHECK_EVALUATION: SQLite storage keeps those events only in
per-run shards, and reading them when the run has finished is what makes "one message
per run" hold. Undelivered Slack alerts stay in the cursor (an outbox) and are retried on
the next tick; the sensor itself never fails because Slack did. The three Slack sensors are
built by one factory (``slack_alert_sensor``): they differ only in which runs they watch and
what they say about each.

Public API missing: open-source Dagster documents no way to read one run's events, so
the instance's ``get_records_for_run``/``get_run_step_stats`` and the events'
``step_failure_data``/``job_failure_data`` are used (not underscored; what Dagster's own UI
reads). The tests run these sensors on a real instance: an upgrade that changes them fails
there.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from finance_platform.defs.alerts import messages
from finance_platform.resources.metrics import (
    CloudWatchMetricsResource,
    Metric,
    asset_duration,
    check_outcome,
    row_count,
    run_duration,
)
from finance_platform.resources.slack import SlackAlertsResource
from finance_platform.settings import Settings

# Run-time rules from the user's monitoring plan.
SLOW_RUN_RATIO = 1.5  # notice when a run takes more than 150% of its recent median
SLOW_RUN_BASELINE_RUNS = 10  # the median is over this many previous successful runs...
SLOW_RUN_MIN_BASELINE = 3  # ...and needs at least this many to mean anything

SENSOR_INTERVAL_SECONDS = 30
RUNS_PER_TICK = 50
OUTBOX_LIMIT = 100  # undelivered alerts kept for retry; beyond this the oldest are dropped
MESSAGES_PER_TICK = 10  # beyond this, one digest message lists the remaining runs

FINISHED = (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE)
FINISHED_OR_CANCELED = (*FINISHED, dg.DagsterEventType.RUN_CANCELED)


# -- cursor: position in the event log, undelivered alerts, checks known to be failing ------


@dataclass
class AlertCursor:
    after: int | None = None
    outbox: list[dict[str, Any]] = field(default_factory=list)
    failing: dict[str, str] = field(default_factory=dict)  # check key -> run id of 1st failure

    @classmethod
    def load(cls, raw: str | None) -> AlertCursor:
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            return cls(
                after=data.get("after"),
                outbox=list(data.get("outbox", [])),
                failing=dict(data.get("failing", {})),
            )
        except (ValueError, TypeError, AttributeError):
            return cls()  # an unreadable cursor restarts from "now", it must not wedge the sensor

    def dump(self) -> str:
        return json.dumps(
            {"after": self.after, "outbox": self.outbox, "failing": self.failing},
            sort_keys=True,
        )


@dataclass(frozen=True)
class FinishedRun:
    storage_id: int
    status: dg.DagsterEventType
    run_id: str
    timestamp: float


def _high_water_mark(
    instance: dg.DagsterInstance, event_types: Iterable[dg.DagsterEventType]
) -> int:
    """Storage id of the newest run-status event of ``event_types`` so far (0 if none)."""
    newest = [
        records[0].storage_id
        for event_type in event_types
        if (records := instance.fetch_run_status_changes(event_type, limit=1).records)
    ]
    return max(newest, default=0)


def finished_runs(
    instance: dg.DagsterInstance,
    after: int,
    event_types: Iterable[dg.DagsterEventType] = FINISHED,
    limit: int = RUNS_PER_TICK,
) -> list[FinishedRun]:
    """Runs that reached one of ``event_types`` after storage id ``after``, oldest first."""
    found: list[dg.EventLogRecord] = []
    for event_type in event_types:
        result = instance.fetch_run_status_changes(
            dg.RunStatusChangeRecordsFilter(event_type=event_type, after_storage_id=after),
            limit=limit,
            ascending=True,
        )
        found.extend(result.records)
    found.sort(key=lambda r: r.storage_id)
    out = []
    for record in found[:limit]:
        event = record.event_log_entry.dagster_event
        assert event is not None
        out.append(
            FinishedRun(
                storage_id=record.storage_id,
                status=event.event_type,
                run_id=record.event_log_entry.run_id,
                timestamp=record.event_log_entry.timestamp,
            )
        )
    return out


def _start_cursor(
    context: dg.SensorEvaluationContext, event_types: Iterable[dg.DagsterEventType]
) -> AlertCursor:
    cursor = AlertCursor.load(context.cursor)
    if cursor.after is None:
        # A newly started sensor alerts on what happens from now on, not on history.
        cursor.after = _high_water_mark(context.instance, event_types)
        context.log.info(f"First tick: watching runs after event {cursor.after}")
    return cursor


def cap_alerts(alerts: Sequence[tuple[str, str]], what: str, ui_base_url: str) -> list[str]:
    """(run id, text) pairs -> at most MESSAGES_PER_TICK messages, the rest as one digest."""
    if len(alerts) <= MESSAGES_PER_TICK:
        return [text for _, text in alerts]
    keep = alerts[: MESSAGES_PER_TICK - 1]
    rest = list(dict.fromkeys(run_id for run_id, _ in alerts[MESSAGES_PER_TICK - 1 :]))
    digest = messages.digest_message(what=what, run_ids=rest, ui_base_url=ui_base_url)
    return [text for _, text in keep] + [digest]


def deliver(
    slack: SlackAlertsResource, cursor: AlertCursor, new_alerts: Sequence[str], log: Any
) -> tuple[int, int]:
    """Send the outbox, then ``new_alerts``; keep what Slack did not take. (sent, pending)."""
    queue = [*cursor.outbox, *({"text": t, "attempts": 0} for t in new_alerts)]
    pending: list[dict[str, Any]] = []
    sent = 0
    slack_down = False
    for item in queue:
        # After one failure this tick, don't wait out a timeout per alert: keep the rest.
        if not slack_down and slack.send(item["text"], log=log):
            sent += 1
            continue
        slack_down = True
        pending.append({"text": item["text"], "attempts": int(item.get("attempts", 0)) + 1})
    if len(pending) > OUTBOX_LIMIT:
        log.error(f"Slack unreachable: dropping {len(pending) - OUTBOX_LIMIT} oldest alerts")
        pending = pending[-OUTBOX_LIMIT:]
    cursor.outbox = pending
    return sent, len(pending)


def _result(
    cursor: AlertCursor, what: str, new: int, sent: int, pending: int, dest: str, first: str = ""
) -> dg.SensorResult:
    if new == 0 and sent == 0 and pending == 0:
        reason = f"No new {what}"
    else:
        verb = "logged" if dest == "log" else f"sent to Slack ({dest})"
        reason = f"{new} new {what}; {sent} alert(s) {verb}"
        if pending:
            reason += f"; {pending} waiting for Slack, retried next tick"
        if first and dest == "log":
            reason += f"\n{first}"
    return dg.SensorResult(skip_reason=dg.SkipReason(reason), cursor=cursor.dump())


# What one finished run has to say: (sensor context, the run, the cursor, UI base URL) ->
# alert texts. It may update ``cursor.failing``.
RunAlerts = Callable[[dg.SensorEvaluationContext, FinishedRun, AlertCursor, str], list[str]]


@dataclass(frozen=True)
class SlackAlert:
    """One Slack sensor: which run statuses it watches and what it says about each run.

    ``what`` names the alerts in the tick's summary, ``digest_what`` the runs in the digest
    that stands for what exceeds MESSAGES_PER_TICK.
    """

    name: str
    description: str
    watches: Sequence[dg.DagsterEventType]
    alerts_for_run: RunAlerts
    what: str
    digest_what: str


def slack_alert_sensor(alert: SlackAlert, ui_base_url: str) -> dg.SensorDefinition:
    """A sensor that reads each run reaching an ``alert.watches`` status once and alerts.

    Flow per tick: cursor -> new finished runs -> ``alert.alerts_for_run`` each -> at most
    MESSAGES_PER_TICK messages (the rest as one digest) -> Slack, with what Slack did not
    take kept in the cursor for the next tick. Links point at ``ui_base_url``.
    """

    @dg.sensor(
        name=alert.name,
        description=alert.description,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(context: dg.SensorEvaluationContext, slack: SlackAlertsResource) -> dg.SensorResult:
        cursor = _start_cursor(context, alert.watches)
        found: list[tuple[str, str]] = []
        for run in finished_runs(context.instance, cursor.after or 0, alert.watches):
            texts = alert.alerts_for_run(context, run, cursor, ui_base_url)
            found += [(run.run_id, text) for text in texts]
            cursor.after = run.storage_id
        alerts = cap_alerts(found, alert.digest_what, ui_base_url)
        sent, pending = deliver(slack, cursor, alerts, context.log)
        first = alerts[0] if alerts else ""
        return _result(cursor, alert.what, len(found), sent, pending, slack.destination, first)

    return _sensor


# -- run failures ---------------------------------------------------------------------------


def _deepest(error: Any) -> Any:
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    return error


def run_failure_alert(instance: dg.DagsterInstance, run_id: str, ui_base_url: str) -> str:
    """The Slack text for one failed run, read from its event log."""
    run = instance.get_run_by_id(run_id)
    job_name = (messages.job_label(run.job_name) if run else None) or "(unknown job)"
    partition = run.tags.get("dagster/partition") if run else None
    note = None
    if run is not None:
        default_max = instance.run_retries_max_retries if instance.run_retries_enabled else 0
        try:
            max_retries = int(run.tags.get("dagster/max_retries", default_max))
            note = messages.retry_note(int(run.tags.get("dagster/retry_number", 0)), max_retries)
        except ValueError:
            note = None
    steps: list[str] = []
    error = None
    for record in instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.STEP_FAILURE
    ).records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        if event.step_key and event.step_key not in steps:
            steps.append(event.step_key)
        if error is None and event.step_failure_data is not None:
            error = _deepest(event.step_failure_data.error)
    if error is not None:
        summary = messages.error_summary(error.cls_name, error.message)
    else:
        # No step failed: the run itself did (resources, run worker, cancelled upstream).
        failure = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.RUN_FAILURE
        ).records
        text = ""
        if failure:
            entry = failure[-1].event_log_entry
            data = entry.dagster_event.job_failure_data if entry.dagster_event else None
            err = _deepest(data.error) if data is not None else None
            text = (
                messages.error_summary(err.cls_name, err.message)
                if err is not None
                else messages.error_summary(None, entry.user_message or entry.message)
            )
        summary = text or "no error message recorded"
    return messages.run_failure_message(
        job_name=job_name,
        run_id=run_id,
        failed_steps=steps,
        error=summary,
        ui_base_url=ui_base_url,
        partition=partition,
        retry_note=note,
    )


def _run_failure_alerts(
    context: dg.SensorEvaluationContext, run: FinishedRun, cursor: AlertCursor, ui: str
) -> list[str]:
    try:
        return [run_failure_alert(context.instance, run.run_id, ui)]
    except Exception as exc:  # a malformed run must not block alerts for the next ones
        context.log.warning(f"Could not describe run {run.run_id}: {type(exc).__name__}")
        return [
            messages.run_failure_message(
                job_name="(unknown job)",
                run_id=run.run_id,
                failed_steps=[],
                error="details unavailable, see the run",
                ui_base_url=ui,
            )
        ]


RUN_FAILURE = SlackAlert(
    name="slack_on_run_failure",
    description="Slack alert for every failed run of any job: job, run, failed steps, "
    "one-line error (secrets and customer data removed), link to the run.",
    watches=[dg.DagsterEventType.RUN_FAILURE],
    alerts_for_run=_run_failure_alerts,
    what="failed run(s)",
    digest_what="failed runs",
)


# -- asset checks ---------------------------------------------------------------------------


def check_outcomes_for_run(
    instance: dg.DagsterInstance, run_id: str
) -> list[messages.CheckOutcome]:
    """The run's check evaluations (last one per check and partition), in order."""
    latest: dict[tuple[str, str | None], messages.CheckOutcome] = {}
    for record in instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records:
        evaluation = record.event_log_entry.asset_check_evaluation
        if evaluation is None:
            continue
        outcome = messages.CheckOutcome(
            asset=evaluation.asset_key.to_user_string(),
            check_name=evaluation.check_name,
            passed=evaluation.passed,
            severity=evaluation.severity.value,
            metadata={k: v.value for k, v in evaluation.metadata.items()},
            description=evaluation.description,
            partition=getattr(evaluation, "partition", None),
        )
        latest[(outcome.key, outcome.partition)] = outcome
    return list(latest.values())


def _check_alerts(
    context: dg.SensorEvaluationContext, run: FinishedRun, cursor: AlertCursor, ui: str
) -> list[str]:
    """A failure message for the run's failed checks, a note for checks that recovered."""
    outcomes = check_outcomes_for_run(context.instance, run.run_id)
    dagster_run = context.instance.get_run_by_id(run.run_id)
    job_name = messages.job_label(dagster_run.job_name) if dagster_run else None
    failures = [o for o in outcomes if not o.passed]
    failed_keys = {o.key for o in failures}
    recovered = [o for o in outcomes if o.passed and o.key in cursor.failing]
    # A check evaluated for several partitions only recovers if none failed in this run.
    recovered = [o for o in recovered if o.key not in failed_keys]
    recovered = list({o.key: o for o in recovered}.values())
    texts = []
    if failures:
        texts.append(
            messages.check_failure_message(
                failures=failures,
                run_id=run.run_id,
                job_name=job_name,
                ui_base_url=ui,
                already_failing=set(cursor.failing),
            )
        )
        for o in failures:
            cursor.failing.setdefault(o.key, run.run_id)
    if recovered:
        texts.append(
            messages.check_recovered_message(
                recovered=recovered, run_id=run.run_id, job_name=job_name, ui_base_url=ui
            )
        )
        for o in recovered:
            cursor.failing.pop(o.key, None)
    return texts


CHECK_FAILURE = SlackAlert(
    name="slack_on_asset_check_failure",
    description="Slack alert per run summarising its failed asset checks (ERROR/WARN, observed "
    "value, threshold), freshness included; each failure once; a note when a check recovers.",
    watches=FINISHED_OR_CANCELED,
    alerts_for_run=_check_alerts,
    what="check alert(s)",
    digest_what="runs with check alerts",
)


# -- slow runs ------------------------------------------------------------------------------


def _duration(record: Any) -> float | None:
    if record.start_time is None or record.end_time is None:
        return None
    return float(record.end_time - record.start_time)


def slow_run_alert(instance: dg.DagsterInstance, run_id: str, ui_base_url: str) -> str | None:
    """A notice if ``run_id`` took more than SLOW_RUN_RATIO x its job's recent median."""
    this = instance.get_run_record_by_id(run_id)
    if this is None or (duration := _duration(this)) is None:
        return None
    job = this.dagster_run.job_name
    if job.startswith("__"):
        return None  # ad-hoc runs of arbitrary assets share one hidden job: no baseline
    previous = instance.get_run_records(
        filters=dg.RunsFilter(job_name=job, statuses=[dg.DagsterRunStatus.SUCCESS]),
        limit=SLOW_RUN_BASELINE_RUNS + 20,
    )
    baseline = [
        d
        for r in previous
        if r.dagster_run.run_id != run_id
        and r.end_time is not None
        and this.end_time is not None
        and r.end_time <= this.end_time
        and (d := _duration(r)) is not None
    ][:SLOW_RUN_BASELINE_RUNS]
    if len(baseline) < SLOW_RUN_MIN_BASELINE:
        return None
    median = statistics.median(baseline)
    if duration <= SLOW_RUN_RATIO * median:
        return None
    return messages.slow_run_message(
        job_name=job,
        run_id=run_id,
        duration_s=duration,
        median_s=median,
        baseline_runs=len(baseline),
        ratio_limit=SLOW_RUN_RATIO,
        ui_base_url=ui_base_url,
    )


def _slow_run_alerts(
    context: dg.SensorEvaluationContext, run: FinishedRun, cursor: AlertCursor, ui: str
) -> list[str]:
    notice = slow_run_alert(context.instance, run.run_id, ui)
    return [notice] if notice else []


SLOW_RUN = SlackAlert(
    name="slack_on_slow_run",
    description="Slack notice when a successful run takes more than 150% of the median "
    "duration of its job's last 10 successful runs (needs 3 to compare).",
    watches=[dg.DagsterEventType.RUN_SUCCESS],
    alerts_for_run=_slow_run_alerts,
    what="slow-run notice(s)",
    digest_what="slow runs",
)


# -- CloudWatch metrics ---------------------------------------------------------------------


def run_metrics(instance: dg.DagsterInstance, run: FinishedRun) -> list[Metric]:
    """Row counts, materialization and run durations, check outcomes of one finished run."""
    metrics: list[Metric] = []
    record = instance.get_run_record_by_id(run.run_id)
    if record is not None and (seconds := _duration(record)) is not None:
        metrics += run_duration(
            record.dagster_run.job_name,
            seconds,
            run.status == dg.DagsterEventType.RUN_SUCCESS,
            run.timestamp,
        )
    step_seconds = {
        s.step_key: s.end_time - s.start_time
        for s in instance.get_run_step_stats(run.run_id)
        if s.start_time is not None and s.end_time is not None
    }
    for rec in instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records:
        entry = rec.event_log_entry
        materialization = entry.asset_materialization
        if materialization is None:
            continue
        asset = materialization.asset_key.to_user_string()
        rows = materialization.metadata.get("dagster/row_count")
        if rows is not None:
            metrics.append(row_count(asset, int(rows.value), entry.timestamp))
        if entry.step_key in step_seconds:
            metrics.append(asset_duration(asset, step_seconds[entry.step_key], entry.timestamp))
    for outcome in check_outcomes_for_run(instance, run.run_id):
        metrics += check_outcome(
            outcome.asset, outcome.check_name, outcome.passed, outcome.severity, run.timestamp
        )
    return metrics


@dg.sensor(
    name="cloudwatch_run_metrics",
    description="Publishes row counts, check outcomes and durations of finished runs to "
    "CloudWatch (namespace FinancePlatform, dimensions asset/check/job); logged locally.",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def cloudwatch_run_metrics(
    context: dg.SensorEvaluationContext, metrics: CloudWatchMetricsResource
) -> dg.SensorResult:
    cursor = _start_cursor(context, FINISHED)
    runs = finished_runs(context.instance, cursor.after or 0, FINISHED)
    published = collected = 0
    for run in runs:
        data = run_metrics(context.instance, run)
        collected += len(data)
        published += metrics.publish(data, log=context.log)
        cursor.after = run.storage_id
    where = f"published to CloudWatch {metrics.namespace}" if metrics.enabled else "logged only"
    reason = f"{len(runs)} finished run(s): {collected} metric(s), {published} {where}"
    return dg.SensorResult(skip_reason=dg.SkipReason(reason), cursor=cursor.dump())


SLACK_ALERTS = (RUN_FAILURE, CHECK_FAILURE, SLOW_RUN)


def build_alert_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    """The Slack sensors, linking runs at ``settings.dagster_ui_url``, and the metrics sensor."""
    slack = [slack_alert_sensor(alert, settings.dagster_ui_url) for alert in SLACK_ALERTS]
    return [*slack, cloudwatch_run_metrics]
