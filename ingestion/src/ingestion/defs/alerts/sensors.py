"""Run-failure alerting for every code location of the deployment."""

import dagster as dg

from lakehouse.alerts import Alert, AlertWebhook

MAX_ERROR_CHARS = 1500


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
        error = data.error.message if data is not None and data.error is not None else first.message
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
