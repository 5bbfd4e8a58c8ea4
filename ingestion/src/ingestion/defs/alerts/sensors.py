"""Alerting for every code location of the deployment: failed runs, and failing ticks."""

import json
from dataclasses import dataclass
from typing import Protocol

import dagster as dg

from lakehouse.alerts import Alert, AlertWebhook

MAX_ERROR_CHARS = 1500
MAX_CAUSES = 5


class ErrorInfo(Protocol):
    """The parts of a step's serialized error (Dagster's SerializableErrorInfo) read here."""

    @property
    def message(self) -> str: ...
    @property
    def cause(self) -> "ErrorInfo | None": ...
    @property
    def context(self) -> "ErrorInfo | None": ...


def error_chain(error: ErrorInfo | None) -> str:
    """An error with what caused it: a step that exhausted its retries reports only "Exceeded
    max_retries of 4"; the cause (say, the S3 error) is what an operator needs."""
    parts: list[str] = []
    while error is not None and len(parts) < MAX_CAUSES:
        message = (error.message or "").strip()
        if message and message not in parts:
            parts.append(message)
        error = error.cause or error.context
    return "\ncaused by: ".join(parts)


def failure_alert(
    run: dg.DagsterRun,
    step_failures: list[dg.DagsterEvent],
    run_failure_message: str | None,
    alerts: AlertWebhook,
) -> Alert:
    """What an operator needs to act on a failed run: which job, day, location, step and error."""
    origin = run.remote_job_origin
    location = origin.location_name if origin is not None else "unknown"
    if step_failures:
        first = step_failures[0]
        step = first.step_key or "unknown"
        data = first.step_failure_data
        error = error_chain(data.error) if data is not None and data.error else first.message
    else:
        step = "(none: the run failed outside a step)"
        error = run_failure_message or "unknown"
    return Alert(
        title=f"Run failed: {run.job_name}",
        fields={
            "job": run.job_name,
            "partition": run.tags.get("dagster/partition", "-"),
            "code_location": location,
            "failed_step": step,
            "error": (error or "").strip()[:MAX_ERROR_CHARS],
            "run_id": run.run_id,
        },
        link=alerts.run_url(run.run_id),
    )


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    monitor_all_code_locations=True,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=10,
    description=(
        "Posts one alert per failed run, in any code location, to the webhook in "
        "LAKEHOUSE_ALERT_WEBHOOK_URL (and logs it): job, partition, location, failed step, "
        "error and a link to the run."
    ),
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, alerts: AlertWebhook) -> None:
    alert = failure_alert(
        context.dagster_run,
        list(context.get_step_failure_events()),
        context.failure_event.message,
        alerts,
    )
    context.log.warning(alert.text())
    alerts.send(alert)


@dataclass(frozen=True)
class TickSeen:
    """The newest finished tick of one sensor or schedule, as the alert sensor needs it."""

    selector_id: str
    kind: str  # "sensor" or "schedule"
    name: str
    location: str
    failed: bool
    error: str


def plan_tick_alerts(
    latest: list[TickSeen], failing: set[str], alerts: AlertWebhook
) -> tuple[list[Alert], set[str]]:
    """One alert when a sensor or schedule starts failing, one when it recovers (pure).

    ``failing`` holds the selector ids alerted as failing and not yet recovered; a tick that
    keeps failing every 10 s raises no new alert until it has recovered once.
    """
    out: list[Alert] = []
    still = set(failing)
    for tick in latest:
        link = alerts.instigator_url(tick.location, tick.kind, tick.name)
        if tick.failed and tick.selector_id not in failing:
            still.add(tick.selector_id)
            out.append(
                Alert(
                    title=f"{tick.kind.capitalize()} failing: {tick.name}",
                    fields={
                        tick.kind: tick.name,
                        "code_location": tick.location,
                        "error": tick.error.strip()[:MAX_ERROR_CHARS],
                        "what_happens": "it retries every tick with the cursor of its last "
                        "successful tick; nothing it has not seen is lost",
                    },
                    link=link,
                )
            )
        elif not tick.failed and tick.selector_id in failing:
            still.discard(tick.selector_id)
            out.append(
                Alert(
                    title=f"{tick.kind.capitalize()} recovered: {tick.name}",
                    fields={tick.kind: tick.name, "code_location": tick.location},
                    link=link,
                )
            )
    return out, still


def latest_ticks(instance: dg.DagsterInstance, exclude: str) -> list[TickSeen]:
    """The newest finished tick of every sensor and schedule of the instance, in any location."""
    seen: list[TickSeen] = []
    for state in instance.all_instigator_state():
        if state.instigator_name == exclude:
            continue
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=5)
        finished = [t for t in ticks if t.status.value in ("SUCCESS", "SKIPPED", "FAILURE")]
        if not finished:
            continue
        tick = finished[0]
        error = error_chain(tick.error) if tick.error else ""
        seen.append(
            TickSeen(
                selector_id=state.selector_id,
                kind=state.instigator_type.value.lower(),
                name=state.instigator_name,
                location=state.origin.repository_origin.code_location_origin.location_name,
                failed=tick.status.value == "FAILURE",
                error=error,
            )
        )
    return seen


@dg.sensor(
    name="tick_failure_alert_sensor",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Posts an alert when any sensor or schedule, in any code location, starts failing its "
        "ticks (with the error), and one when it recovers: a sensor that cannot list the "
        "bucket or submit its runs never fails silently."
    ),
)
def tick_failure_alert_sensor(
    context: dg.SensorEvaluationContext, alerts: AlertWebhook
) -> dg.SkipReason:
    failing = set(json.loads(context.cursor)) if context.cursor else set()
    latest = latest_ticks(context.instance, exclude="tick_failure_alert_sensor")
    sent, failing = plan_tick_alerts(latest, failing, alerts)
    for alert in sent:
        context.log.warning(alert.text())
        alerts.send(alert)
    context.update_cursor(json.dumps(sorted(failing)))
    return dg.SkipReason(
        f"{len(sent)} alert(s) sent; failing now: {len(failing)} of {len(latest)} instigators"
    )
