"""Alerts when an analytics asset is older than its freshness policy allows."""

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import dagster as dg

from lakehouse.alerts import Alert, AlertWebhook


def fail_window(policy: dg.FreshnessPolicy) -> timedelta | None:
    window = getattr(policy, "fail_window", None)  # time-window policies only
    if window is None:
        return None
    return timedelta(days=window.days, seconds=window.seconds, microseconds=window.microseconds)


def freshness_policies(assets: Sequence[dg.AssetsDefinition]) -> dict[dg.AssetKey, timedelta]:
    """Each asset's allowed age, from the FreshnessPolicy it declares."""
    windows = {}
    for assets_def in assets:
        for spec in assets_def.specs:
            policy = spec.freshness_policy
            window = fail_window(policy) if policy is not None else None
            if window is not None:
                windows[spec.key] = window
    return windows


def stale_assets(
    instance: dg.DagsterInstance, windows: Mapping[dg.AssetKey, timedelta], now: float
) -> dict[dg.AssetKey, float]:
    """Assets whose latest materialization is older than allowed: key -> age in seconds.
    Never-materialized assets are unknown, not stale (nothing to compare against)."""
    stale = {}
    for key, window in windows.items():
        event = instance.get_latest_materialization_event(key)
        if event is None:
            continue
        age = now - event.timestamp
        if age > window.total_seconds():
            stale[key] = age
    return stale


def stale_alert(
    key: dg.AssetKey, last_at: float, age: float, window: timedelta, alerts: AlertWebhook
) -> Alert:
    last = datetime.fromtimestamp(last_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Alert(
        title=f"Asset stale: {key.to_user_string()}",
        fields={
            "asset": key.to_user_string(),
            "last_materialized": last,
            "age_hours": f"{age / 3600:.1f}",
            "allowed_hours": f"{window.total_seconds() / 3600:.1f}",
        },
        link=alerts.asset_url(key),
    )


def build_freshness_alert_sensor(
    assets: Sequence[dg.AssetsDefinition], clock: Callable[[], float] = time.time
) -> dg.SensorDefinition:
    windows = freshness_policies(assets)

    @dg.sensor(
        name="freshness_alert_sensor",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Posts an alert when an analytics asset becomes older than its FreshnessPolicy's fail "
            "window (once per stale spell), through the same webhook as run failures."
        ),
    )
    def freshness_alert_sensor(
        context: dg.SensorEvaluationContext, alerts: AlertWebhook
    ) -> dg.SkipReason:
        now = clock()
        stale = stale_assets(context.instance, windows, now)
        already = set(json.loads(context.cursor)) if context.cursor else set()
        newly = [key for key in stale if key.to_user_string() not in already]
        for key in newly:
            alert = stale_alert(key, now - stale[key], stale[key], windows[key], alerts)
            context.log.warning(alert.text())
            alerts.send(alert)
        context.update_cursor(json.dumps(sorted(k.to_user_string() for k in stale)))
        return dg.SkipReason(
            f"{len(stale)} stale asset(s), {len(newly)} newly stale"
            if stale
            else f"all {len(windows)} asset(s) with a freshness policy are fresh or unknown"
        )

    return freshness_alert_sensor
