"""One-shot initialization of a deployment (compose's ``init`` service, or by hand).

    lakehouse-init

Brings Postgres and the bucket to the state the deployment needs, and changes nothing else:

- Postgres, connected as the cluster's superuser: Dagster's login role (not a superuser, no
  right to create roles or databases) owning Dagster's database; the web shop's database with
  its ``source.sales`` table; the read-only role ingestion connects as. Only the superuser and
  each database's own roles may connect to it: Dagster's role cannot open ``shop``, the reader
  cannot open ``dagster``. Passwords are set on every run, so rotating one is "change .env, run
  init again".
- A cluster from before this layout, where Dagster's role was the cluster superuser, is
  migrated: the superuser role is created with ``POSTGRES_PASSWORD`` and Dagster's role loses
  its superuser rights and its ownership of ``shop``.
- The bucket, created if missing (plain S3 API: any S3 server).
- Demo data only when ``SEED_DAYS`` > 0, and even then no existing object or order is changed.

Idempotent: it runs on every ``docker compose up``, on new and on existing volumes.

Environment: POSTGRES_HOST, POSTGRES_PORT, POSTGRES_SUPERUSER (default postgres),
POSTGRES_PASSWORD, DAGSTER_POSTGRES_USER, DAGSTER_POSTGRES_PASSWORD, DAGSTER_POSTGRES_DB,
SOURCE_DB_NAME (default shop), SOURCE_DB_READER_ROLE (default ingestion_reader),
SOURCE_DB_READER_PASSWORD, SEED_DAYS (default 0), and the bucket variables of
:mod:`lakehouse.config` with an admin key in ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``.
"""

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import sql

T = TypeVar("T")
WAIT_SECONDS = 120


def log(message: str) -> None:
    print(f"[init] {message}", flush=True)  # noqa: T201


class NotReady(Exception):
    """A service is not accepting connections yet: worth waiting for."""


def _retry(what: str, action: Callable[[], T]) -> T:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            return action()
        except NotReady as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{what}: still not ready after {WAIT_SECONDS} s: {exc}"
                ) from exc
            log(f"{what}: not ready ({exc}); retrying")
            time.sleep(2)


@dataclass(frozen=True)
class PostgresLayout:
    """The roles and databases of the deployment's Postgres cluster."""

    host: str
    port: int
    superuser: str
    superuser_password: str
    dagster_user: str
    dagster_password: str
    dagster_db: str
    source_db: str
    reader_role: str
    reader_password: str

    @classmethod
    def from_env(cls) -> "PostgresLayout":
        def required(name: str) -> str:
            value = os.environ.get(name, "")
            if not value:
                raise ValueError(f"environment variable {name} is required but not set")
            return value

        return cls(
            host=os.environ.get("POSTGRES_HOST", "postgres"),
            port=int(os.environ.get("POSTGRES_PORT", "5432")),
            superuser=os.environ.get("POSTGRES_SUPERUSER") or "postgres",
            superuser_password=required("POSTGRES_PASSWORD"),
            dagster_user=os.environ.get("DAGSTER_POSTGRES_USER") or "dagster",
            dagster_password=required("DAGSTER_POSTGRES_PASSWORD"),
            dagster_db=os.environ.get("DAGSTER_POSTGRES_DB") or "dagster",
            source_db=os.environ.get("SOURCE_DB_NAME") or "shop",
            reader_role=os.environ.get("SOURCE_DB_READER_ROLE") or "ingestion_reader",
            reader_password=required("SOURCE_DB_READER_PASSWORD"),
        )

    def connect(self, user: str, password: str, dbname: str) -> psycopg.Connection[Any]:
        """A connection, or :class:`NotReady` while the server is starting; an authentication
        error is raised as it is (waiting would not fix it)."""
        try:
            return psycopg.connect(
                host=self.host,
                port=self.port,
                user=user,
                password=password,
                dbname=dbname,
                autocommit=True,
                connect_timeout=5,
            )
        except psycopg.OperationalError as exc:
            text = str(exc)
            if "authentication failed" in text or "does not exist" in text:
                raise
            raise NotReady(text.strip().splitlines()[-1] if text.strip() else "no answer") from exc

    def superuser_connection(self, dbname: str) -> psycopg.Connection[Any]:
        return self.connect(self.superuser, self.superuser_password, dbname)


def _is_superuser(conn: psycopg.Connection[Any], role: str) -> bool | None:
    """Whether ``role`` is a superuser, or None if it does not exist."""
    row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    return None if row is None else bool(row[0])


def _migrate_legacy_superuser(layout: PostgresLayout, error: psycopg.OperationalError) -> None:
    """The layout before this one made Dagster's role the cluster superuser (the postgres
    image's POSTGRES_USER). Create the superuser role from POSTGRES_PASSWORD with its rights;
    Dagster's role is demoted afterwards, once the new superuser works."""
    try:
        conn = layout.connect(layout.dagster_user, layout.dagster_password, "postgres")
    except psycopg.OperationalError:
        raise RuntimeError(
            f"cannot connect as the superuser {layout.superuser!r}: {str(error).strip()}. "
            "POSTGRES_PASSWORD must be the password of that role."
        ) from error
    with conn:
        if not _is_superuser(conn, layout.dagster_user):
            raise RuntimeError(
                f"cannot connect as the superuser {layout.superuser!r}: {str(error).strip()}"
            ) from error
        ident = sql.Identifier(layout.superuser)
        if _is_superuser(conn, layout.superuser) is None:
            conn.execute(sql.SQL("CREATE ROLE {} SUPERUSER LOGIN").format(ident))
        conn.execute(
            sql.SQL("ALTER ROLE {} SUPERUSER LOGIN PASSWORD {}").format(
                ident, sql.Literal(layout.superuser_password)
            )
        )
    log(f"migrated: superuser role {layout.superuser} created; {layout.dagster_user} was one")


def _ensure_login_role(conn: psycopg.Connection[Any], role: str, password: str) -> None:
    ident = sql.Identifier(role)
    if _is_superuser(conn, role) is None:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
    # Set every time: a role from an older layout (Dagster's was the cluster superuser) loses
    # rights it should not have, and a rotated password takes effect.
    conn.execute(
        sql.SQL(
            "ALTER ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
            "PASSWORD {}"
        ).format(ident, sql.Literal(password))
    )


def _ensure_database(conn: psycopg.Connection[Any], name: str, owner: str) -> bool:
    """Create ``name`` owned by ``owner`` if missing, or hand it to ``owner``; True if created."""
    row = conn.execute(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,)
    ).fetchone()
    db, role = sql.Identifier(name), sql.Identifier(owner)
    if row is None:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(db, role))
        return True
    if row[0] != owner:
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, role))
    return False


def _connect_only(conn: psycopg.Connection[Any], database: str, *roles: str) -> None:
    """Nobody but the owner, the superusers and ``roles`` may connect to ``database``."""
    db = sql.Identifier(database)
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
    for role in roles:
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, sql.Identifier(role)))


def prepare_postgres(layout: PostgresLayout, seed_days: int = 0) -> int:
    """Roles, databases and grants (see the module docstring); returns demo orders written."""
    from lakehouse.seed import prepare_source_database

    try:
        admin = _retry("postgres", lambda: layout.superuser_connection("postgres"))
    except psycopg.OperationalError as exc:
        _migrate_legacy_superuser(layout, exc)
        admin = _retry("postgres", lambda: layout.superuser_connection("postgres"))
    with admin:
        _ensure_login_role(admin, layout.dagster_user, layout.dagster_password)
        if _ensure_database(admin, layout.dagster_db, layout.dagster_user):
            log(f"database {layout.dagster_db} created, owned by {layout.dagster_user}")
        if _ensure_database(admin, layout.source_db, layout.superuser):
            log(f"database {layout.source_db} created")
        _connect_only(admin, layout.dagster_db)
        _connect_only(admin, "postgres")
    with layout.superuser_connection(layout.source_db) as shop:
        # An older layout created the web shop's schema as Dagster's role: hand it over, or
        # Dagster's role would still own (and could grant itself) the shop's data.
        owners = {
            "SCHEMA": "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s",
            "TABLE": "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass(%s)",
        }
        for kind, name in (("SCHEMA", "source"), ("TABLE", "source.sales")):
            owner = shop.execute(owners[kind], (name,)).fetchone()
            if owner and owner[0] == layout.dagster_user:
                shop.execute(
                    sql.SQL("ALTER {} {} OWNER TO {}").format(
                        sql.SQL(kind),
                        sql.Identifier(*name.split(".")),
                        sql.Identifier(layout.superuser),
                    )
                )
        written = prepare_source_database(
            shop, layout.reader_role, layout.reader_password, seed_days
        )
    with layout.superuser_connection("postgres") as admin:
        _connect_only(admin, layout.source_db, layout.reader_role)
    log(
        f"postgres: {layout.dagster_db} (owner {layout.dagster_user}, no superuser), "
        f"{layout.source_db} (source.sales, read-only role {layout.reader_role})"
    )
    return written


def ensure_bucket() -> str:
    """Create the bucket if it does not exist (HeadBucket first: a key that may not list every
    bucket, as on a shared AWS account, still works). Returns the bucket name."""
    import boto3
    from botocore.exceptions import ClientError, EndpointConnectionError

    from lakehouse.config import S3_BUCKET, S3_ENDPOINT_URL, env_str

    bucket = env_str(S3_BUCKET)
    client = boto3.client(
        "s3",
        endpoint_url=os.environ.get(S3_ENDPOINT_URL, "").strip() or None,
        region_name=os.environ.get("AWS_REGION") or None,
    )

    def head() -> int:
        try:
            client.head_bucket(Bucket=bucket)
            return 200
        except ClientError as exc:
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if status >= 500:
                raise NotReady(f"HTTP {status}") from exc
            return status
        except EndpointConnectionError as exc:
            raise NotReady(str(exc)) from exc

    status = _retry("bucket", head)
    if status == 404:
        client.create_bucket(Bucket=bucket)
        log(f"bucket {bucket} created")
    elif status != 200:
        raise RuntimeError(f"bucket {bucket}: HTTP {status} (is the admin key allowed in it?)")
    return bucket


def main() -> int:
    from lakehouse.config import env_int

    seed_days = env_int("SEED_DAYS", 0)
    layout = PostgresLayout.from_env()
    written = prepare_postgres(layout, seed_days)
    if written:
        log(f"{layout.source_db}: {written} demo orders offered for the last {seed_days} days")
    bucket = ensure_bucket()
    log(f"bucket ready: s3://{bucket}")
    if seed_days:
        from lakehouse.config import object_store_from_env
        from lakehouse.seed import seed_landing, window_ending_yesterday

        keys = seed_landing(object_store_from_env(), window_ending_yesterday(seed_days))
        log(f"landing: {len(keys)} demo store files written (existing files left alone)")
    else:
        log("no demo data (SEED_DAYS=0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
