"""The S3 access policy, enforced by a real SeaweedFS of the pinned release: every identity, every
prefix, read and write, allowed exactly where lakehouse.s3_access says and denied elsewhere."""

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lakehouse import s3_access
from lakehouse_testing.servers import S3Identity, S3Server

pytestmark = pytest.mark.component

BUCKET = "sales-lake"
PREFIXES = (
    "landing/sales/2026-11-10/",
    "lake/sales_data/",
    "lake/sales_summary/",
    "lake/sales_monthly_rollup/",
    "dagster/compute-logs/",
    "elsewhere/",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[S3Server, dict[str, Any]]]:
    identities = {
        name: S3Identity(
            name,
            f"LH{secrets.token_hex(9).upper()}",
            secrets.token_hex(20),
            tuple(s3_access.seaweedfs_actions(BUCKET, grant)),
        )
        for name, grant in s3_access.POLICY.items()
        if name != "admin"  # S3Server always adds its own admin identity
    }
    server = S3Server(Path(tmp_path_factory.mktemp("s3-policy")), tuple(identities.values()))
    server.start()
    server.client().create_bucket(Bucket=BUCKET)
    clients = {name: server.client(identity) for name, identity in identities.items()}
    clients["admin"] = server.client()
    yield server, clients
    server.stop()


def _allowed(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
        return True
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "AccessDenied", exc.response["Error"]
        return False


@pytest.mark.parametrize("identity", list(s3_access.POLICY))
def test_each_key_reaches_exactly_its_prefixes(
    server: tuple[S3Server, dict[str, Any]], identity: str
) -> None:
    _, clients = server
    grant = s3_access.POLICY[identity]
    client, admin = clients[identity], clients["admin"]
    for prefix in PREFIXES:
        key = f"{prefix}probe-{uuid.uuid4().hex[:8]}"
        admin.put_object(Bucket=BUCKET, Key=key, Body=b"seed")
        read = _allowed(client.get_object, Bucket=BUCKET, Key=key)
        written = _allowed(client.put_object, Bucket=BUCKET, Key=key, Body=b"changed")
        deleted = _allowed(client.delete_object, Bucket=BUCKET, Key=key)
        assert read == grant.may_read(key), (identity, key, "read")
        assert written == grant.may_write(key), (identity, key, "write")
        assert deleted == grant.may_write(key), (identity, key, "delete")
    listed = _allowed(client.list_objects_v2, Bucket=BUCKET, MaxKeys=1)
    assert listed == (grant.admin or grant.list_bucket), identity


def test_no_key_at_all_and_a_wrong_secret_are_refused(
    server: tuple[S3Server, dict[str, Any]],
) -> None:
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    s3, _ = server
    anonymous = boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED),
    )
    assert not _allowed(anonymous.list_objects_v2, Bucket=BUCKET)
    assert not _allowed(anonymous.put_object, Bucket=BUCKET, Key="landing/x", Body=b"x")
    forged = S3Identity("forged", "LHFORGED0000000000", "not-the-secret", ())
    with pytest.raises(ClientError) as raised:
        s3.client(forged).list_objects_v2(Bucket=BUCKET)
    assert raised.value.response["Error"]["Code"] in {"InvalidAccessKeyId", "AccessDenied"}
