"""`init`'s Postgres setup against the stand-in of the pinned Postgres release: on a new cluster
(twice: it runs on every `up`), and on a cluster of the old layout, where Dagster's role was the
cluster's superuser and owned the web shop's tables."""

import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from compose_files import stand_in_images
from docker_engine import docker, unavailable
from native_stack import wait_until

from lakehouse.init import PostgresLayout, prepare_postgres
from lakehouse.seed import prepare_source_database

pytestmark = pytest.mark.docker


def _password() -> str:
    return secrets.token_hex(16)


@pytest.fixture
def cluster() -> Iterator[Any]:
    """Starts a Postgres stand-in with the given POSTGRES_USER; yields a starter function."""
    stand_ins = stand_in_images()
    if stand_ins is None:
        unavailable("no stand-ins built (deploy/images/build-local-bases.sh): skipped")
    assert stand_ins is not None
    started: list[str] = []

    def start(bootstrap_user: str, password: str) -> int:
        container = docker(
            "run",
            "-d",
            "-e",
            f"POSTGRES_USER={bootstrap_user}",
            "-e",
            f"POSTGRES_PASSWORD={password}",
            "-e",
            f"POSTGRES_DB={bootstrap_user}",
            "-p",
            "127.0.0.1::5432",
            stand_ins["POSTGRES_IMAGE"],
        )
        started.append(container)
        port = int(docker("port", container, "5432").splitlines()[0].rsplit(":", 1)[1])

        def ready() -> bool:
            try:
                psycopg.connect(
                    host="127.0.0.1",
                    port=port,
                    user=bootstrap_user,
                    password=password,
                    dbname=bootstrap_user,
                    connect_timeout=3,
                ).close()
                return True
            except psycopg.OperationalError:
                return False

        wait_until("the Postgres stand-in to accept connections", ready, deadline=120, every=1)
        return port

    yield start
    for container in started:
        docker("rm", "-f", container, check=False)


def _layout(port: int, **passwords: str) -> PostgresLayout:
    return PostgresLayout(
        host="127.0.0.1",
        port=port,
        superuser="postgres",
        superuser_password=passwords["superuser"],
        dagster_user="dagster",
        dagster_password=passwords["dagster"],
        dagster_db="dagster",
        source_db="shop",
        reader_role="ingestion_reader",
        reader_password=passwords["reader"],
    )


def _connect(layout: PostgresLayout, user: str, password: str, db: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=layout.host,
        port=layout.port,
        user=user,
        password=password,
        dbname=db,
        autocommit=True,
        connect_timeout=5,
    )


def _assert_least_privilege(layout: PostgresLayout) -> None:
    with _connect(layout, "postgres", layout.superuser_password, "postgres") as admin:
        roles = dict(
            admin.execute(
                "SELECT rolname, rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles "
                "WHERE rolname IN ('dagster', 'ingestion_reader', 'postgres')"
            ).fetchall()
        )
        assert roles == {"postgres": True, "dagster": False, "ingestion_reader": False}
        owners = dict(
            admin.execute(
                "SELECT datname, pg_get_userbyid(datdba) FROM pg_database "
                "WHERE datname IN ('dagster', 'shop')"
            ).fetchall()
        )
        assert owners == {"dagster": "dagster", "shop": "postgres"}
    with _connect(layout, "postgres", layout.superuser_password, "shop") as shop:
        table_owner = shop.execute(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'source.sales'::regclass"
        ).fetchone()
        assert table_owner == ("postgres",)
    _connect(layout, "dagster", layout.dagster_password, "dagster").close()
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        _connect(layout, "dagster", layout.dagster_password, "shop")
    with _connect(layout, "ingestion_reader", layout.reader_password, "shop") as reader:
        reader.execute("SELECT count(*) FROM source.sales")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            reader.execute("DELETE FROM source.sales")
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        _connect(layout, "ingestion_reader", layout.reader_password, "dagster")


def test_new_cluster_twice_and_a_rotated_password(cluster: Any) -> None:
    superuser = _password()
    port = cluster("postgres", superuser)
    layout = _layout(port, superuser=superuser, dagster=_password(), reader=_password())
    prepare_postgres(layout)
    _assert_least_privilege(layout)
    rotated = _layout(port, superuser=superuser, dagster=_password(), reader=layout.reader_password)
    prepare_postgres(rotated)
    _assert_least_privilege(rotated)
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        _connect(rotated, "dagster", layout.dagster_password, "dagster")


def test_old_layout_where_dagster_was_the_superuser_is_migrated(cluster: Any) -> None:
    dagster_password, reader_password = _password(), _password()
    port = cluster("dagster", dagster_password)
    # What the previous compose file made: Dagster's role as the image's POSTGRES_USER, the
    # shop created by it, its table created by the old init, Dagster's tables in `dagster`.
    old = PostgresLayout(
        "127.0.0.1",
        port,
        "dagster",
        dagster_password,
        "dagster",
        dagster_password,
        "dagster",
        "shop",
        "ingestion_reader",
        reader_password,
    )
    with _connect(old, "dagster", dagster_password, "dagster") as conn:
        conn.execute("CREATE DATABASE shop")
        conn.execute("CREATE TABLE runs_kept (run_id text)")
        conn.execute("INSERT INTO runs_kept VALUES ('run-1')")
    with _connect(old, "dagster", dagster_password, "shop") as conn:
        prepare_source_database(conn, "ingestion_reader", reader_password)
        conn.execute("INSERT INTO source.sales (order_id, order_ts) VALUES ('real-order', now())")

    layout = _layout(port, superuser=_password(), dagster=dagster_password, reader=reader_password)
    prepare_postgres(layout)
    _assert_least_privilege(layout)
    with _connect(layout, "dagster", dagster_password, "dagster") as conn:
        assert conn.execute("SELECT run_id FROM runs_kept").fetchall() == [("run-1",)]
    with _connect(layout, "ingestion_reader", reader_password, "shop") as conn:
        assert conn.execute("SELECT order_id FROM source.sales").fetchall() == [("real-order",)]
    prepare_postgres(layout)  # and again, as on every `up`
    _assert_least_privilege(layout)
