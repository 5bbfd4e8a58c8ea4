"""The native stack as a user runs it (deploy/local/stack.py), on Postgres storage and S3.

Started once per session, driven only from outside: S3 puts, SQL on the source database, and
the webserver's GraphQL API.
"""

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from native_stack import Stack, wait_until

from lakehouse.seed import create_source_schema, ensure_reader_role
from lakehouse.testing import PostgresServer, S3Server, free_port

ROOT = Path(__file__).resolve().parents[2]
READY_DEADLINE = 240


@pytest.fixture(scope="session")
def stack(
    postgres: PostgresServer, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("stack")
    dagster_url = postgres.create_database("dagster_system")
    source_name = "shop_system"
    source_admin = postgres.create_database(source_name)
    with psycopg.connect(source_admin, autocommit=True) as conn:
        create_source_schema(conn)
        ensure_reader_role(conn, "ingestion_reader", None)
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    s3 = s3_server.client()
    s3.create_bucket(Bucket=bucket)

    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(work / "dagster_home"),
        "LAKEHOUSE_VAR_DIR": str(work / "var"),
        "DAGSTER_POSTGRES_URL": dagster_url,
        "INGESTION_SOURCE_DB_URL": postgres.url(source_name, user="ingestion_reader"),
        "LAKEHOUSE_STORAGE": "s3",
        "LAKEHOUSE_S3_BUCKET": bucket,
        "LAKEHOUSE_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        # The test's days lie up to a week back: list them on every tick.
        "INGESTION_LANDING_WINDOW_DAYS": "8",
    }
    log_path = work / "stack.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "deploy/local/stack.py"),
                "up",
                "--seed-days",
                "0",
                "--port",
                str(port),
                "--ingestion-port",
                str(free_port()),
                "--analytics-port",
                str(free_port()),
            ],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(
                "the stack to report ready",
                lambda: proc.poll() is not None or b"[stack] ready:" in log_path.read_bytes(),
                READY_DEADLINE,
            )
            assert proc.poll() is None, f"stack exited: {log_path.read_text()[-4000:]}"
            yield Stack(f"http://127.0.0.1:{port}", s3, bucket, source_admin, log_path)
        finally:
            proc.send_signal(signal.SIGINT)  # what Ctrl-C in `make dev` sends
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
            assert code == 0, f"the stack did not stop cleanly ({code}); see {log_path}"
