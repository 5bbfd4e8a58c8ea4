"""Copy the whole bucket (landing, lake, compute logs) to a folder and back, through the S3 API.

    python -m lakehouse.bucket_backup backup <dir>             # objects + manifest.json
    python -m lakehouse.bucket_backup restore <dir> [--force]  # puts every object back
    python -m lakehouse.bucket_backup count                    # objects holding data

Works against any S3 server, so the same backup restores into SeaweedFS, AWS or anything else.
Needs a key that may read and write the whole bucket (the deployment's admin key, in
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``) and the bucket variables of
:mod:`lakehouse.config`. ``deploy/compose/backup.sh`` and ``restore.sh`` run it in the ingestion
image on the deployment's network.

What a backup holds: every object listed when the copy starts, with its key, size and MD5 in
``manifest.json``. Objects written while the copy runs may or may not be in it; an object that
changes during the copy is saved as it was when it was read (its MD5 is of the saved bytes).
A restore never deletes: objects in the bucket that the backup does not have are left alone.
"""

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

MANIFEST = "manifest.json"
OBJECTS = "objects"


def log(message: str) -> None:
    print(f"[bucket] {message}", flush=True)  # noqa: T201


def _client() -> tuple[Any, str]:
    import boto3

    bucket = os.environ.get("LAKEHOUSE_S3_BUCKET", "").strip()
    if not bucket:
        raise SystemExit("LAKEHOUSE_S3_BUCKET is not set")
    client = boto3.client(
        "s3",
        endpoint_url=os.environ.get("LAKEHOUSE_S3_ENDPOINT_URL", "").strip() or None,
        region_name=os.environ.get("AWS_REGION") or None,
    )
    return client, bucket


def _keys(client: Any, bucket: str) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        yield from page.get("Contents", [])


def _local_path(root: Path, key: str) -> Path:
    """Where an object's bytes live in the backup; refuses keys that would leave ``root``."""
    parts = PurePosixPath(key).parts
    if not parts or key.startswith("/") or ".." in parts or key.endswith("/"):
        raise ValueError(f"object key {key!r} cannot be stored as a file")
    return root / OBJECTS / Path(*parts)


def backup(root: Path) -> dict[str, Any]:
    client, bucket = _client()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    entries: list[dict[str, Any]] = []
    total = 0
    for item in _keys(client, bucket):
        key = item["Key"]
        data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        path = _local_path(root, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        entries.append(
            {
                "key": key,
                "size": len(data),
                "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
            }
        )
        total += len(data)
    manifest = {
        "bucket": bucket,
        "listing_started": started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "objects": entries,
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1))
    log(f"s3://{bucket}: {len(entries)} objects, {total} bytes -> {root}")
    return manifest


def _read_manifest(root: Path) -> list[dict[str, Any]]:
    """The manifest's entries, each checked against its file (size and MD5) before anything is
    written to the bucket: a damaged backup fails here, not halfway through a restore."""
    try:
        entries: list[dict[str, Any]] = json.loads((root / MANIFEST).read_text())["objects"]
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"{root / MANIFEST}: not a bucket backup ({exc})") from None
    for entry in entries:
        path = _local_path(root, entry["key"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SystemExit(f"backup damaged: {entry['key']}: {exc}") from None
        digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if len(data) != entry["size"] or digest != entry["md5"]:
            raise SystemExit(f"backup damaged: {entry['key']}: size or MD5 differs from manifest")
    return entries


def count() -> int:
    """Objects that hold data: everything but compute logs, which a new deployment writes by
    itself within seconds (its sensors' tick logs) and which are no one's data to lose."""
    from lakehouse.s3_access import COMPUTE_LOGS

    client, bucket = _client()
    return sum(1 for item in _keys(client, bucket) if not item["Key"].startswith(COMPUTE_LOGS))


def restore(root: Path, force: bool) -> int:
    """Put every object of the backup into the bucket (created if missing). Refuses a bucket
    that already holds objects unless ``force``; returns the number of objects put."""
    entries = _read_manifest(root)
    client, bucket = _client()
    try:
        client.head_bucket(Bucket=bucket)
    except Exception:
        client.create_bucket(Bucket=bucket)
    existing = {item["Key"]: item for item in _keys(client, bucket)}
    if count() and not force:
        log(f"refusing: s3://{bucket} holds data ({len(existing)} objects); use --force")
        return -1
    started = time.monotonic()
    for entry in entries:
        data = _local_path(root, entry["key"]).read_bytes()
        response = client.put_object(Bucket=bucket, Key=entry["key"], Body=data)
        if response["ETag"].strip('"') != entry["md5"]:
            raise SystemExit(f"s3://{bucket}/{entry['key']}: stored ETag differs from the backup")
    extra = len(set(existing) - {e["key"] for e in entries})
    log(
        f"s3://{bucket}: {len(entries)} objects restored in {time.monotonic() - started:.1f} s"
        + (f"; {extra} objects not in the backup left as they are" if extra else "")
    )
    return len(entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("backup").add_argument("dir", type=Path)
    restore_parser = sub.add_parser("restore")
    restore_parser.add_argument("dir", type=Path)
    restore_parser.add_argument("--force", action="store_true")
    sub.add_parser("count")
    args = parser.parse_args(argv)
    if args.command == "backup":
        args.dir.mkdir(parents=True, exist_ok=True)
        backup(args.dir)
    elif args.command == "count":
        print(count())  # noqa: T201
    elif restore(args.dir, args.force) < 0:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
