"""Pytest fixtures: a real Postgres server, a real S3 server (SeaweedFS) and a webhook receiver
on loopback.

Loaded by the repository's root ``conftest.py``; needs the development dependencies.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from lakehouse.seed import prepare_source_database
from lakehouse.storage import LocalObjectStore, S3Connection, S3ObjectStore
from lakehouse_testing.servers import ADMIN, PostgresServer, S3Server, WebhookReceiver

READER_ROLE = "ingestion_reader"


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = PostgresServer(tmp_path_factory.mktemp("pg") / "data").start()
    yield server
    server.stop()


@pytest.fixture
def source_db(postgres: PostgresServer) -> Iterator[tuple[str, str]]:
    """A fresh operational database with ``source.sales``: (admin URL, read-only role's URL)."""
    name = f"shop_{uuid.uuid4().hex[:8]}"
    admin_url = postgres.create_database(name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        prepare_source_database(conn, READER_ROLE, None)
    yield admin_url, postgres.url(name, user=READER_ROLE)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("s3")).start()
    yield server
    server.stop()


@pytest.fixture
def s3_store(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3ObjectStore:
    """A new, empty bucket on the loopback S3 endpoint."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": ADMIN.access_key,
        "AWS_SECRET_ACCESS_KEY": ADMIN.secret_key,
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=bucket)
    return S3ObjectStore(
        bucket=bucket,
        s3=S3Connection(endpoint_url=s3_server.endpoint_url, region_name="us-east-1"),
    )


@pytest.fixture
def local_store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(root=str(tmp_path / "bucket"))


@pytest.fixture(params=["local", "s3"])
def any_store(
    request: pytest.FixtureRequest, local_store: LocalObjectStore
) -> LocalObjectStore | S3ObjectStore:
    """Each test using it runs once per backend, through the same interface."""
    if request.param == "local":
        return local_store
    return request.getfixturevalue("s3_store")


@pytest.fixture(scope="session")
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()
