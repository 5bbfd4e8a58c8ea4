"""The native stack as a user runs it (deploy/local/stack.py), started by the tests.

Driven only from outside: S3 puts or files in the landing folder, SQL on the source database,
and the webserver's GraphQL API.
"""

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from native_stack import Stack, running_stack

from lakehouse.seed import prepare_source_database
from lakehouse_testing.servers import ADMIN, PostgresServer, S3Server, WebhookReceiver


@pytest.fixture(scope="session")
def stack(
    postgres: PostgresServer,
    s3_server: S3Server,
    webhook: WebhookReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The production-shaped variant: Postgres storage, S3 bucket, external source database, and
    the landing sensor at its default settings (days older than the window come by the sweep)."""
    work = tmp_path_factory.mktemp("stack")
    dagster_url = postgres.create_database("dagster_system")
    source_name = "shop_system"
    source_admin = postgres.create_database(source_name)
    with psycopg.connect(source_admin, autocommit=True) as conn:
        prepare_source_database(conn, "ingestion_reader", None)
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    s3 = s3_server.client()
    s3.create_bucket(Bucket=bucket)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(work / "dagster_home"),
        "LAKEHOUSE_VAR_DIR": str(work / "var"),
        "DAGSTER_POSTGRES_URL": dagster_url,
        "INGESTION_SOURCE_DB_URL": postgres.url(source_name, user="ingestion_reader"),
        "LAKEHOUSE_STORAGE": "s3",
        "LAKEHOUSE_S3_BUCKET": bucket,
        "LAKEHOUSE_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": ADMIN.access_key,
        "AWS_SECRET_ACCESS_KEY": ADMIN.secret_key,
        "AWS_REGION": "us-east-1",
        "LAKEHOUSE_ALERT_WEBHOOK_URL": webhook.url,
    }
    with running_stack(env, work, "--seed-days", "0") as (url, log_path):
        yield Stack(url, log_path, s3=s3, bucket=bucket, source_admin_url=source_admin)
