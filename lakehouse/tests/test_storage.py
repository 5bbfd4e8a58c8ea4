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
