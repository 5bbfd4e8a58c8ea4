"""Configuration from the environment, shared by both code locations.

Every variable is listed in the README's configuration table and in ``.env.example``. Secrets
are never read here into definitions: credentials reach boto3 through ``dg.EnvVar`` (resolved
when a run starts) or through the standard AWS variables, so they never appear in a snapshot.
"""

import os
from typing import Any

import dagster as dg

from lakehouse.alerts import AlertWebhook
from lakehouse.io_manager import LakeIOManager
from lakehouse.storage import LocalObjectStore, ObjectStore, S3Connection, S3ObjectStore

STORAGE = "LAKEHOUSE_STORAGE"
LOCAL_ROOT = "LAKEHOUSE_LOCAL_ROOT"
S3_BUCKET = "LAKEHOUSE_S3_BUCKET"
S3_ENDPOINT_URL = "LAKEHOUSE_S3_ENDPOINT_URL"
DOCS_BASE_URL = "LAKEHOUSE_DOCS_BASE_URL"
ALERT_WEBHOOK_URL = "LAKEHOUSE_ALERT_WEBHOOK_URL"
UI_BASE_URL = "LAKEHOUSE_UI_BASE_URL"

DEFAULT_DOCS_BASE_URL = "https://example.com/lakehouse/docs"

# Every asset that reads or writes S3 or Postgres retries a step that failed on a transient error
# (the server restarting, unreachable, timing out) for long enough to outlast an outage of about
# two minutes: waits of about 5, 15, 35 and 75 s (exponential, each +-5 s of jitter; at least
# 110 s in all). A shorter budget gave up within a one-minute S3 outage (RELIABILITY.md, F5).
# What cannot heal (a bad file, a failed check, a partition that was never materialized) raises
# a Failure with allow_retries=False and fails at once.
TRANSIENT_RETRY_POLICY = dg.RetryPolicy(
    max_retries=4, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class ConfigError(ValueError):
    """A configuration variable is missing or holds a value the product cannot use."""


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise ConfigError(f"environment variable {name} is required but not set")
    return default


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r}: expected an integer") from None
    if value < minimum:
        raise ConfigError(f"environment variable {name}={value}: expected at least {minimum}")
    return value


def s3_credential_variables(location: str) -> tuple[str, str]:
    """The variables holding a location's own S3 key: ``<LOCATION>_S3_ACCESS_KEY_ID`` and
    ``<LOCATION>_S3_SECRET_ACCESS_KEY`` (named per location, so one process environment, the run
    launcher's, can hold every location's key while each run receives only its own)."""
    prefix = location.upper()
    return f"{prefix}_S3_ACCESS_KEY_ID", f"{prefix}_S3_SECRET_ACCESS_KEY"


def object_store_from_env(location: str | None = None) -> ObjectStore:
    """The bucket both locations share: S3 (any endpoint) or a local folder standing in for it.

    With S3, a location reads and writes with its own key when ``<LOCATION>_S3_ACCESS_KEY_ID``
    is set (least privilege: each key reaches only that location's prefixes); otherwise boto3's
    default chain applies (``AWS_*`` variables, a profile, an instance role).
    """
    backend = env_str(STORAGE, "local")
    if backend == "local":
        return LocalObjectStore(root=env_str(LOCAL_ROOT, "var"))
    if backend == "s3":
        endpoint = os.environ.get(S3_ENDPOINT_URL, "").strip() or None
        credentials: dict[str, Any] = {}
        if location is not None:
            key_id, secret = s3_credential_variables(location)
            if os.environ.get(key_id, "").strip():
                # EnvVar: resolved when a run or tick starts, never written into definitions.
                credentials = {
                    "aws_access_key_id": dg.EnvVar(key_id),
                    "aws_secret_access_key": dg.EnvVar(secret),
                }
        return S3ObjectStore(
            bucket=env_str(S3_BUCKET),
            s3=S3Connection(
                endpoint_url=endpoint,
                region_name=os.environ.get("AWS_REGION") or None,
                **credentials,
            ),
        )
    raise ConfigError(f"environment variable {STORAGE}={backend!r}: expected 'local' or 's3'")


def lake_resources(store: ObjectStore) -> dict[str, object]:
    """The resources every location binds: the store itself and the lake IO manager on it."""
    return {"object_store": store, "lake_io_manager": LakeIOManager(store=store)}


def docs_url(anchor: str) -> dg.MetadataValue:
    """Link to the operator documentation of an asset (the team's catalog or this README)."""
    base = env_str(DOCS_BASE_URL, DEFAULT_DOCS_BASE_URL).rstrip("/")
    return dg.MetadataValue.url(f"{base}#{anchor}")


def alert_webhook_from_env() -> AlertWebhook:
    """Alerts go to LAKEHOUSE_ALERT_WEBHOOK_URL (may hold a token: read when sending, never
    stored in definitions) and link to LAKEHOUSE_UI_BASE_URL; with no webhook they are logged."""
    return AlertWebhook(
        webhook_url_env=ALERT_WEBHOOK_URL,
        ui_base_url=env_str(UI_BASE_URL, "http://127.0.0.1:3000"),
    )
