"""Object storage behind one small interface: an S3 bucket, or a local folder standing in for it.

Both code locations see the same key layout (``landing/sales/<day>/<store>.csv`` for stores'
drops, ``lake/...`` for parquet), so assets, sensors and the IO manager never know which backend
they talk to. The backend is chosen by configuration (:mod:`lakehouse.config`).
"""

import hashlib
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
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
    def list_folder(self, prefix: str) -> tuple[list[str], list[ObjectInfo]]:
        """One level under ``prefix`` (which ends in '/'): the sub-folder prefixes, each ending
        in '/', and the objects directly in it (S3: a listing with delimiter '/')."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object's content; raises ``KeyError`` naming the key if it does not exist."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> ObjectInfo:
        """Store ``data`` under ``key`` (replacing any previous object atomically)."""

    @abstractmethod
    def download(self, key: str, destination: Path) -> ObjectInfo:
        """Copy the object to a local file without holding it in memory; returns what was read
        (its ETag is that of the bytes copied, even if the object changes meanwhile)."""

    @abstractmethod
    def put_file(self, key: str, source: Path) -> ObjectInfo:
        """Store a local file under ``key`` without reading it into memory."""

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


def _md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# ETags of local files by (path, size, mtime): listing the landing folder on every sensor tick
# must not re-read every file of the history. Bounded; a miss only costs one read.
_ETAG_CACHE: dict[tuple[str, int, int], str] = {}
_ETAG_CACHE_LIMIT = 500_000


def _local_etag(path: Path, stat: os.stat_result) -> str:
    cache_key = (str(path), stat.st_size, stat.st_mtime_ns)
    etag = _ETAG_CACHE.get(cache_key)
    if etag is None:
        if len(_ETAG_CACHE) >= _ETAG_CACHE_LIMIT:
            _ETAG_CACHE.clear()
        etag = _ETAG_CACHE[cache_key] = _md5_file(path)
    return etag


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
        # Walk only what the prefix can match (the deepest folder it names, and there only the
        # entries starting with its last part), so listing one day or one month does not touch
        # the rest of the history.
        folder_part, _, partial = prefix.rpartition("/")
        start = root / folder_part
        if not start.is_dir():
            return
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(start):
            top = dirpath == str(start)
            dirnames[:] = [
                d for d in dirnames if not d.startswith(".") and (not top or d.startswith(partial))
            ]
            for name in filenames:
                if name.startswith("."):  # in-flight temporary files
                    continue
                key = Path(dirpath, name).relative_to(root).as_posix()
                if key.startswith(prefix):
                    found.append(key)
        for key in sorted(found):
            path = root / key
            try:
                stat = path.stat()
                yield ObjectInfo(key=key, etag=_local_etag(path, stat), size=stat.st_size)
            except FileNotFoundError:  # deleted while listing, as S3 may show it or not
                continue

    def list_folder(self, prefix: str) -> tuple[list[str], list[ObjectInfo]]:
        folder = Path(self.root) / prefix.rstrip("/")
        if not folder.is_dir():
            return [], []
        folders, objects = [], []
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                folders.append(f"{prefix}{entry.name}/")
            else:
                stat = entry.stat()
                path = Path(entry.path)
                objects.append(
                    ObjectInfo(f"{prefix}{entry.name}", _local_etag(path, stat), stat.st_size)
                )
        return folders, objects

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

    def download(self, key: str, destination: Path) -> ObjectInfo:
        path = self._path(key)
        try:
            shutil.copyfile(path, destination)
        except FileNotFoundError:
            raise KeyError(f"no object {self.uri(key)}") from None
        return ObjectInfo(key=key, etag=_md5_file(destination), size=destination.stat().st_size)

    def put_file(self, key: str, source: Path) -> ObjectInfo:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".", dir=path.parent)
        os.close(fd)
        shutil.copyfile(source, tmp)
        os.replace(tmp, path)
        return ObjectInfo(key=key, etag=_md5_file(path), size=path.stat().st_size)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def ensure_bucket(self) -> None:
        Path(self.root).mkdir(parents=True, exist_ok=True)

    def uri(self, key: str) -> str:
        return str(self._path(key))


class S3Connection(dg.ConfigurableResource):
    """Where and as whom S3 is reached; unset credentials mean boto3's default chain.

    Plain boto3, not dagster-aws's ``S3Resource``: importing ``dagster_aws`` takes about 2 s
    (it loads its components), and every run worker paid that before its first step
    (BENCHMARKS.md, P1).
    """

    endpoint_url: str | None = Field(default=None, description="Any S3 endpoint; unset: AWS.")
    region_name: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    max_attempts: int = Field(default=5, description="boto3 attempts per call (standard mode).")

    def get_client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region_name,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
            config=Config(retries={"max_attempts": self.max_attempts, "mode": "standard"}),
        )


class S3ObjectStore(ObjectStore):
    """One S3 bucket (any endpoint URL)."""

    bucket: str = Field(description="Bucket holding both the landing area and the lake.")
    s3: S3Connection = Field(description="Connection settings: endpoint URL, region, credentials.")

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

    def list_folder(self, prefix: str) -> tuple[list[str], list[ObjectInfo]]:
        paginator = self._client().get_paginator("list_objects_v2")
        folders: list[str] = []
        objects: list[ObjectInfo] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            folders.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
            objects.extend(
                ObjectInfo(key=i["Key"], etag=i["ETag"].strip('"'), size=int(i["Size"]))
                for i in page.get("Contents", [])
            )
        return folders, objects

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

    def download(self, key: str, destination: Path) -> ObjectInfo:
        client = self._client()
        try:
            response = client.get_object(Bucket=self.bucket, Key=key)
        except client.exceptions.NoSuchKey:
            raise KeyError(f"no object {self.uri(key)}") from None
        with destination.open("wb") as handle:
            shutil.copyfileobj(response["Body"], handle, 1 << 20)
        return ObjectInfo(
            key=key, etag=response["ETag"].strip('"'), size=destination.stat().st_size
        )

    def put_file(self, key: str, source: Path) -> ObjectInfo:
        # Multipart above boto3's threshold: a large lake object never sits in memory whole.
        self._client().upload_file(str(source), self.bucket, key)
        head = self._client().head_object(Bucket=self.bucket, Key=key)
        return ObjectInfo(key=key, etag=head["ETag"].strip('"'), size=int(head["ContentLength"]))

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
