"""Alerts for operators: Slack-compatible JSON posted to a webhook, and always logged.

Both code locations use it: ingestion's run-failure sensor (watching every location) and
analytics' freshness sensor. With no webhook URL configured, alerts are only logged.
"""

import json
import logging
import os
import urllib.request
from dataclasses import dataclass, field

import dagster as dg
from pydantic import Field

logger = logging.getLogger("lakehouse.alerts")


@dataclass(frozen=True)
class Alert:
    """One thing an operator must look at, with where to look."""

    title: str
    fields: dict[str, str] = field(default_factory=dict)
    link: str | None = None

    def text(self) -> str:
        lines = [self.title, *(f"{k}: {v}" for k, v in self.fields.items())]
        if self.link:
            lines.append(self.link)
        return "\n".join(lines)

    def slack_payload(self) -> dict[str, object]:
        """Slack's incoming-webhook format: `text` for notifications, blocks for the message."""
        details = "\n".join(f"*{k}*: {_clip(v)}" for k, v in self.fields.items())
        blocks: list[dict[str, object]] = [
            {"type": "header", "text": {"type": "plain_text", "text": self.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": details or " "}},
        ]
        if self.link:
            blocks.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": f"<{self.link}|Open>"}}
            )
        return {"text": self.text(), "blocks": blocks, "fields": self.fields, "link": self.link}


def _clip(value: str, limit: int = 2500) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


class AlertWebhook(dg.ConfigurableResource):
    """Where alerts go: a Slack-compatible incoming webhook, and the UI address for links."""

    webhook_url: str | None = Field(
        default=None, description="Incoming-webhook URL; unset: the variable below is read."
    )
    webhook_url_env: str = Field(
        default="LAKEHOUSE_ALERT_WEBHOOK_URL",
        description=(
            "Environment variable read when an alert is sent, so a URL carrying a token never "
            "appears in the definitions or the UI. Neither set: alerts are only logged."
        ),
    )
    ui_base_url: str = Field(
        default="http://127.0.0.1:3000", description="Base URL of the Dagster UI, for links."
    )
    timeout_seconds: float = Field(default=10.0)

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_base_url.rstrip('/')}/runs/{run_id}"

    def instigator_url(self, location: str, kind: str, name: str) -> str:
        """The UI page of a sensor or schedule (``kind``: "sensor" or "schedule")."""
        return f"{self.ui_base_url.rstrip('/')}/locations/{location}/{kind}s/{name}"

    def asset_url(self, asset_key: dg.AssetKey) -> str:
        return f"{self.ui_base_url.rstrip('/')}/assets/{'/'.join(asset_key.path)}"

    def send(self, alert: Alert) -> bool:
        """Log the alert and post it; True if a webhook accepted it."""
        logger.warning("ALERT %s", alert.text())
        url = self.webhook_url or os.environ.get(self.webhook_url_env, "").strip()
        if not url:
            return False
        body = json.dumps(alert.slack_payload()).encode()
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
            return 200 <= response.status < 300
