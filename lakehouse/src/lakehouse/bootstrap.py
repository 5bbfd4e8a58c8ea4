"""One-shot initialization of a deployment (compose's `init` service, or by hand).

    lakehouse-init

Creates the bucket if missing (any S3 server: plain S3 API calls, no vendor client), the
online-orders table and the read-only role in the source database, and optionally seeds demo
data. Idempotent: safe to run on every `docker compose up`. Configured by the environment:
SOURCE_DB_ADMIN_URL (an owner of the source database), SOURCE_DB_READER_ROLE (default
ingestion_reader), SOURCE_DB_READER_PASSWORD, SEED_DAYS (default 0), plus the bucket variables
of lakehouse.config.
"""

import os
import sys
import time
from collections.abc import Callable

import psycopg

from lakehouse.config import env_int, env_str, object_store_from_env
from lakehouse.seed import prepare_source_database, seed_landing, window_ending_yesterday

WAIT_SECONDS = 120


def log(message: str) -> None:
    print(f"[init] {message}", flush=True)  # noqa: T201


def _retry(what: str, action: Callable[[], None]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            action()
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise
            log(f"{what}: not ready ({type(exc).__name__}); retrying")
            time.sleep(2)


def main() -> int:
    store = object_store_from_env()
    _retry("bucket", store.ensure_bucket)
    log(f"bucket ready: {store.uri('')}")

    admin_url = env_str("SOURCE_DB_ADMIN_URL")
    role = env_str("SOURCE_DB_READER_ROLE", "ingestion_reader")
    password = os.environ.get("SOURCE_DB_READER_PASSWORD") or None
    seed_days = env_int("SEED_DAYS", 0)

    def prepare_database() -> None:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            written = prepare_source_database(conn, role, password, seed_days)
        if written:
            log(f"source.sales: {written} demo orders for the last {seed_days} days")

    _retry("source database", prepare_database)
    log(f"source.sales ready, read-only role {role}")
    if seed_days:
        keys = seed_landing(store, window_ending_yesterday(seed_days))
        log(f"landing: {len(keys)} demo store files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
