"""Freshness: each analytics asset declares how old it may get; a stale one raises one alert."""

from collections.abc import Callable
from datetime import date, timedelta

import dagster as dg
import polars as pl
import pytest

from analytics.definitions import analytics_assets, defs
from analytics.defs.alerts.sensors import build_freshness_alert_sensor, freshness_policies
from analytics.defs.sales.assets import sales_data
from lakehouse.alerts import AlertWebhook
from lakehouse.config import lake_resources
from lakehouse.seed import SeedConfig
from lakehouse.storage import ObjectStore
from lakehouse_testing.servers import WebhookReceiver

Landing = Callable[[ObjectStore, SeedConfig], dict[str, pl.DataFrame]]


def test_every_analytics_asset_declares_a_freshness_policy() -> None:
    windows = freshness_policies(analytics_assets)
    assert set(windows) == {dg.AssetKey("sales_summary"), dg.AssetKey("sales_monthly_rollup")}
    assert all(w == timedelta(hours=26) for w in windows.values())
    graph = defs.get_repository_def().asset_graph
    assert graph.get(dg.AssetKey("sales_summary")).freshness_policy is not None


@pytest.mark.component
def test_a_stale_asset_raises_one_alert(
    s3_store: ObjectStore, land_sales_data: Landing, webhook: WebhookReceiver
) -> None:
    day = date(2024, 3, 1)
    land_sales_data(s3_store, SeedConfig(start=day, end=day, stores=1))
    instance = dg.DagsterInstance.ephemeral()
    summary = [a for a in analytics_assets if a.key == dg.AssetKey("sales_summary")]
    result = dg.materialize([sales_data, *summary], partition_key=day.isoformat(),
                            resources=lake_resources(s3_store), instance=instance,
                            selection=summary)  # fmt: skip
    assert result.success
    materialized_at = instance.get_latest_materialization_event(dg.AssetKey("sales_summary"))
    assert materialized_at is not None
    resources = {"alerts": AlertWebhook(webhook_url=webhook.url)}

    def evaluate(hours_later: float, cursor: str | None) -> str | None:
        sensor = build_freshness_alert_sensor(
            summary, clock=lambda: materialized_at.timestamp + hours_later * 3600
        )
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        sensor(context)
        return context.cursor

    before = len(webhook.posts)
    fresh = evaluate(1, None)
    assert len(webhook.posts) == before  # an hour old: fresh
    stale = evaluate(27, fresh)
    posts = webhook.posts[before:]
    assert len(posts) == 1
    assert posts[0]["fields"]["asset"] == "sales_summary"
    assert posts[0]["fields"]["allowed_hours"] == "26.0"
    assert posts[0]["link"].endswith("/assets/sales_summary")
    evaluate(28, stale)
    assert len(webhook.posts) == before + 1  # still stale: no second alert for the same spell
