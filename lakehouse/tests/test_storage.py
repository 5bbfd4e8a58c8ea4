"""The object-store interface behaves the same on a local folder and on S3 over HTTP."""

import hashlib

import pytest

from lakehouse.storage import ObjectStore


def test_put_get_list_round_trip(any_store: ObjectStore) -> None:
    info = any_store.put("landing/sales/2024-03-01/store_001.csv", b"a,b\n1,2\n")
    any_store.put("landing/sales/2024-03-02/store_001.csv", b"other")
    any_store.put("lake/sales_data/2024-03-01.parquet", b"x")

    assert info.etag == hashlib.md5(b"a,b\n1,2\n").hexdigest()
    assert any_store.get(info.key) == b"a,b\n1,2\n"
    listed = list(any_store.list_objects("landing/sales/2024-03-01/"))
    assert [(o.key, o.etag, o.size) for o in listed] == [(info.key, info.etag, 8)]
    assert [o.key for o in any_store.list_objects("landing/")] == [
        "landing/sales/2024-03-01/store_001.csv",
        "landing/sales/2024-03-02/store_001.csv",
    ]
    assert any_store.exists(info.key)
    assert not any_store.exists("landing/sales/2024-03-01/store_00")


def test_reupload_changes_etag_only_when_content_changes(any_store: ObjectStore) -> None:
    key = "landing/sales/2024-03-01/store_001.csv"
    first = any_store.put(key, b"v1")
    same = any_store.put(key, b"v1")
    changed = any_store.put(key, b"v2")
    assert first.etag == same.etag != changed.etag
    assert [o.etag for o in any_store.list_objects(key)] == [changed.etag]


def test_missing_object_names_its_uri(any_store: ObjectStore) -> None:
    with pytest.raises(KeyError, match=r"landing/nothing\.csv"):
        any_store.get("landing/nothing.csv")


def test_listing_an_absent_prefix_is_empty(any_store: ObjectStore) -> None:
    assert list(any_store.list_objects("landing/sales/1999-01-01/")) == []


def test_local_store_refuses_keys_outside_its_root(local_store: ObjectStore) -> None:
    with pytest.raises(ValueError, match="inside"):
        local_store.put("../escape.csv", b"x")


def test_download_and_put_file_stream_through_local_files(any_store: ObjectStore, tmp_path) -> None:  # type: ignore[no-untyped-def]
    put = any_store.put("landing/sales/2024-03-01/store_001.csv", b"a,b\n1,2\n")
    copy = tmp_path / "copy.csv"
    got = any_store.download(put.key, copy)
    assert copy.read_bytes() == b"a,b\n1,2\n" and got.etag == put.etag
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * (9 * 1024 * 1024))  # above boto3's multipart threshold
    stored = any_store.put_file("lake/big.bin", source)
    assert stored.size == source.stat().st_size
    assert any_store.get("lake/big.bin") == source.read_bytes()
    with pytest.raises(KeyError):
        any_store.download("landing/none.csv", tmp_path / "none")


def test_a_partial_last_segment_lists_only_matching_folders(any_store: ObjectStore) -> None:
    for day in ("2024-03-01", "2024-03-31", "2024-04-01", "2024-03-1x"):
        any_store.put(f"landing/sales/{day}/store_001.csv", b"x")
    march = [o.key for o in any_store.list_objects("landing/sales/2024-03-")]
    assert march == [
        "landing/sales/2024-03-01/store_001.csv",
        "landing/sales/2024-03-1x/store_001.csv",
        "landing/sales/2024-03-31/store_001.csv",
    ]


def test_a_folder_listing_shows_one_level(any_store: ObjectStore) -> None:
    any_store.put("landing/sales/2024-03-01/store_001.csv", b"x")
    any_store.put("landing/sales/2024-W10-5/store_001.csv", b"x")
    any_store.put("landing/sales/README.txt", b"x")
    folders, objects = any_store.list_folder("landing/sales/")
    assert folders == ["landing/sales/2024-03-01/", "landing/sales/2024-W10-5/"]
    assert [o.key for o in objects] == ["landing/sales/README.txt"]
