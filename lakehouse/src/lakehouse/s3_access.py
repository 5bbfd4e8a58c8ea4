"""Who may do what in the bucket: one S3 key per purpose, each scoped to the prefixes it needs.

This module is the one home of the S3 access policy. It renders it for SeaweedFS (the identity
file the compose deployment's S3 server loads) and for AWS IAM (policies for users who bring
their own bucket), and the tests read it to know what must be allowed and what must be denied.

    stores        write landing/ and nothing else: not even list or read it (each store's
                  upload tool; one store cannot read another's files)
    <location>    one key per code location, with the prefixes its entry in
                  deploy/locations.toml names: ingestion reads landing/ (stores' files), reads
                  and writes lake/sales_data/; analytics reads lake/sales_data/, reads and writes
                  its own lake/sales_summary/ and lake/sales_monthly_rollup/; a location made by
                  `make location` reads lake/sales_summary/ and its own lake/<name>/
    compute_logs  reads and writes dagster/compute-logs/ (every Dagster process: runs upload
                  their stdout/stderr there, the webserver shows them)
    admin         everything: creating the bucket, backups and restores; never given to a
                  Dagster process

Every key but the stores' may list the bucket: listing names objects, never their content.

    python -m lakehouse.s3_access aws-policy <bucket> <identity>   # IAM policy JSON
    python -m lakehouse.s3_access seaweedfs <bucket> <file>        # identity file, keys from env

The keys come from ``S3_<IDENTITY>_ACCESS_KEY_ID`` / ``S3_<IDENTITY>_SECRET_ACCESS_KEY``
(``.env`` of the compose deployment). Stdlib only: it runs before anything else is installed.
"""

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse import locations

LANDING = "landing/"
# Must equal compute_logs.config.prefix in dagster.yaml (a test holds them equal).
COMPUTE_LOGS = "dagster/compute-logs/"


@dataclass(frozen=True)
class Grant:
    """What one key may do: list the bucket (``list_bucket``), read objects under ``read``
    prefixes, write (put, overwrite, delete) under ``write`` prefixes; ``admin`` may do
    anything."""

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    list_bucket: bool = True
    admin: bool = False

    def may_read(self, key: str) -> bool:
        return self.admin or key.startswith(self.read)

    def may_write(self, key: str) -> bool:
        return self.admin or key.startswith(self.write)


def _policy() -> dict[str, Grant]:
    """The stores' and the platform's keys, and one per code location with the prefixes its
    entry in deploy/locations.toml names (s3_read, s3_write)."""
    return {
        "stores": Grant(write=(LANDING,), list_bucket=False),
        **{
            location.name: Grant(read=location.s3_read, write=location.s3_write)
            for location in locations.load().values()
        },
        "compute_logs": Grant(read=(COMPUTE_LOGS,), write=(COMPUTE_LOGS,)),
        "admin": Grant(admin=True),
    }


def __getattr__(name: str) -> Mapping[str, Grant]:
    """``POLICY`` (identity -> grant), read from the list when asked for: importing this module
    for a constant (``COMPUTE_LOGS``) works where the list is not, as in a location's image."""
    if name == "POLICY":
        return _policy()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str


def credential_variables(identity: str) -> tuple[str, str]:
    """The ``.env`` variables holding an identity's key: ``S3_<IDENTITY>_ACCESS_KEY_ID`` and
    ``S3_<IDENTITY>_SECRET_ACCESS_KEY``."""
    name = identity.upper()
    return f"S3_{name}_ACCESS_KEY_ID", f"S3_{name}_SECRET_ACCESS_KEY"


def credentials_from_env(environ: Mapping[str, str] = os.environ) -> dict[str, Credentials]:
    """Every identity's key from the environment; a missing or empty variable is an error that
    names it (an S3 server must never start with a key nobody chose)."""
    found: dict[str, Credentials] = {}
    missing: list[str] = []
    for identity in _policy():
        key_var, secret_var = credential_variables(identity)
        key, secret = environ.get(key_var, "").strip(), environ.get(secret_var, "").strip()
        missing += [var for var, value in ((key_var, key), (secret_var, secret)) if not value]
        found[identity] = Credentials(key, secret)
    if missing:
        raise ValueError(f"S3 credentials not set: {', '.join(missing)}")
    keys = [c.access_key_id for c in found.values()]
    if len(set(keys)) != len(keys):
        raise ValueError("two S3 identities share an access key id: each needs its own")
    return found


def seaweedfs_actions(bucket: str, grant: Grant) -> list[str]:
    """SeaweedFS identity actions (``Read:<bucket>/<prefix>*``, ``List:<bucket>``...)."""
    if grant.admin:
        return ["Admin", "Read", "Write", "List", "Tagging"]
    actions = [f"List:{bucket}"] if grant.list_bucket else []
    actions += [f"Read:{bucket}/{prefix}*" for prefix in grant.read]
    actions += [f"Write:{bucket}/{prefix}*" for prefix in grant.write]
    return actions


def seaweedfs_config(bucket: str, credentials: Mapping[str, Credentials]) -> dict[str, Any]:
    """The identity file SeaweedFS's S3 gateway loads (``-s3.config``). Identities not listed
    do not exist, so unsigned (anonymous) requests are refused."""
    return {
        "identities": [
            {
                "name": identity,
                "credentials": [
                    {
                        "accessKey": credentials[identity].access_key_id,
                        "secretKey": credentials[identity].secret_access_key,
                    }
                ],
                "actions": seaweedfs_actions(bucket, grant),
            }
            for identity, grant in _policy().items()
        ]
    }


def aws_iam_policy(bucket: str, identity: str) -> dict[str, Any]:
    """The same grant as an AWS IAM policy document, for a bucket on AWS S3."""
    grant = _policy()[identity]
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if grant.admin:
        statements: list[dict[str, Any]] = [
            {
                "Sid": "Admin",
                "Effect": "Allow",
                "Action": ["s3:*"],
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
            }
        ]
    else:
        statements = []
        if grant.list_bucket:
            statements.append(
                {
                    "Sid": "List",
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket"],
                    "Resource": [bucket_arn],
                }
            )
        if grant.read:
            statements.append(
                {
                    "Sid": "Read",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject"],
                    "Resource": [f"{bucket_arn}/{p}*" for p in grant.read],
                }
            )
        if grant.write:
            statements.append(
                {
                    "Sid": "Write",
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:DeleteObject"],
                    "Resource": [f"{bucket_arn}/{p}*" for p in grant.write],
                }
            )
    return {"Version": "2012-10-17", "Statement": statements}


# SeaweedFS's S3 gateway serves an IAM-cache gRPC API on its gRPC port (all interfaces, like the
# S3 port). Without this key any peer on the network can add itself an admin identity there
# (measured on 4.48); with it, those calls need a token signed with the key.
SEAWEEDFS_SIGNING_KEY = "SEAWEEDFS_JWT_SIGNING_KEY"


def write_seaweedfs_config(bucket: str, path: Path) -> None:
    """Write the identity file with the keys from the environment, replacing it atomically.
    Refuses when ``SEAWEEDFS_JWT_SIGNING_KEY`` is unset (see above): the server it configures
    would not enforce these identities on its gRPC port.

    World-readable on purpose: the file lives in a volume mounted only into the S3 server
    (which must hold these keys anyway) and into the one-shot that writes it, and the server's
    user id differs between image builds.
    """
    if len(os.environ.get(SEAWEEDFS_SIGNING_KEY, "").strip()) < 16:
        raise ValueError(f"{SEAWEEDFS_SIGNING_KEY} must be set (16 characters or more)")
    config = seaweedfs_config(bucket, credentials_from_env())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(config, indent=1))
    tmp.chmod(0o444)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    aws = sub.add_parser("aws-policy", help="print the IAM policy of an identity")
    aws.add_argument("bucket")
    aws.add_argument("identity", choices=sorted(_policy()))
    weed = sub.add_parser("seaweedfs", help="write SeaweedFS's identity file (keys from env)")
    weed.add_argument("bucket")
    weed.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    if args.command == "aws-policy":
        print(json.dumps(aws_iam_policy(args.bucket, args.identity), indent=2))  # noqa: T201
        return 0
    try:
        write_seaweedfs_config(args.bucket, args.path)
    except ValueError as exc:
        print(f"[s3-identities] {exc}", file=sys.stderr)  # noqa: T201
        return 2
    names = ", ".join(_policy())
    print(f"[s3-identities] {args.path}: {names} for bucket {args.bucket}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
