"""Object storage behind one small interface: an S3 bucket, or a local folder standing in for it.

Both code locations see the same key layout (``landing/sales/<day>/<store>.csv`` for stores'
drops, ``lake/...`` for parquet), so assets, sensors and the IO manager never know which backend
they talk to. The backend is chosen by configuration (:mod:`lakehouse.config`).
"""

import hashlib
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import Field, PrivateAttr


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object: its key, its ETag (MD5 of the content for single-part uploads)."""

    key: str
    etag: str
    size: int


class ObjectStore(dg.ConfigurableResource, ABC):
    """A flat key space of immutable blobs, as S3 offers it."""

    @abstractmethod
    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object's content; raises ``KeyError`` naming the key if it does not exist."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> ObjectInfo:
        """Store ``data`` under ``key`` (replacing any previous object atomically)."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def ensure_bucket(self) -> None:
        """Create the bucket (or folder) if it does not exist yet."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """Where the object lives, for people (error messages, metadata) and for polars."""

    def polars_storage_options(self) -> dict[str, str] | None:
        """Options polars' object-store reader needs to read :meth:`uri` directly."""
        return None


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class LocalObjectStore(ObjectStore):
    """A folder standing in for the bucket: key ``a/b.csv`` is the file ``<root>/a/b.csv``.

    The ETag is the MD5 of the content, as S3 computes it for single-part uploads, so a
    re-upload with the same bytes keeps its ETag and a corrected one gets a new one.
    """

    root: str = Field(description="Folder that plays the bucket (created on first write).")

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"object key {key!r} must be relative and stay inside {self.root}")
        return Path(self.root) / key

    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        root = Path(self.root)
        # Walk only the deepest folder the prefix names, so listing one day's prefix does not
        # touch the rest of the history.
        folder_part = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = root / folder_part
        if not start.is_dir():
            return
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.startswith("."):  # in-flight temporary files
                    continue
                key = Path(dirpath, name).relative_to(root).as_posix()
                if key.startswith(prefix):
                    found.append(key)
        for key in sorted(found):
            data = (root / key).read_bytes()
            yield ObjectInfo(key=key, etag=_md5(data), size=len(data))

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise KeyError(f"no object {self.uri(key)}") from None

    def put(self, key: str, data: bytes) -> ObjectInfo:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(prefix=".", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
        return ObjectInfo(key=key, etag=_md5(data), size=len(data))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def ensure_bucket(self) -> None:
        Path(self.root).mkdir(parents=True, exist_ok=True)

    def uri(self, key: str) -> str:
        return str(self._path(key))


class S3ObjectStore(ObjectStore):
    """One S3 bucket, reached through dagster-aws's ``S3Resource`` (any endpoint URL)."""

    bucket: str = Field(description="Bucket holding both the landing area and the lake.")
    s3: S3Resource = Field(description="Connection settings: endpoint URL, region, credentials.")

    # Creating a boto3 client costs ~100 ms; one per resource instance (per run or tick).
    _client_cache: Any = PrivateAttr(default=None)

    def _client(self) -> Any:
        if self._client_cache is None:
            self._client_cache = self.s3.get_client()
        return self._client_cache

    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        paginator = self._client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield ObjectInfo(
                    key=item["Key"], etag=item["ETag"].strip('"'), size=int(item["Size"])
                )

    def get(self, key: str) -> bytes:
        client = self._client()
        try:
            response = client.get_object(Bucket=self.bucket, Key=key)
        except client.exceptions.NoSuchKey:
            raise KeyError(f"no object {self.uri(key)}") from None
        return response["Body"].read()

    def put(self, key: str, data: bytes) -> ObjectInfo:
        response = self._client().put_object(Bucket=self.bucket, Key=key, Body=data)
        return ObjectInfo(key=key, etag=response["ETag"].strip('"'), size=len(data))

    def exists(self, key: str) -> bool:
        response = self._client().list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        return any(item["Key"] == key for item in response.get("Contents", []))

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def ensure_bucket(self) -> None:
        client = self._client()
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if self.bucket not in existing:
            client.create_bucket(Bucket=self.bucket)

    def polars_storage_options(self) -> dict[str, str] | None:
        s3 = self.s3
        options: dict[str, str] = {}
        settings: Mapping[str, str | None] = {
            "aws_endpoint_url": s3.endpoint_url,
            "aws_region": s3.region_name
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1",
            "aws_access_key_id": s3.aws_access_key_id or os.environ.get("AWS_ACCESS_KEY_ID"),
            "aws_secret_access_key": s3.aws_secret_access_key
            or os.environ.get("AWS_SECRET_ACCESS_KEY"),
            "aws_session_token": s3.aws_session_token or os.environ.get("AWS_SESSION_TOKEN"),
        }
        options.update({name: value for name, value in settings.items() if value})
        if s3.endpoint_url and s3.endpoint_url.startswith("http://"):
            options["aws_allow_http"] = "true"
        return options
