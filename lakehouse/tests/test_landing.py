"""The landing contract's key layout: a store's daily file, or a stray with its reason."""

from datetime import date

import pytest

from lakehouse.landing import LandingPath, Stray, classify_key, landing_key, parse_day


def test_a_store_file_maps_to_its_day_and_store() -> None:
    key = landing_key(date(2024, 3, 8), "store_042")
    assert key == "landing/sales/2024-03-08/store_042.csv"
    assert classify_key(key) == LandingPath(key, date(2024, 3, 8), "store_042")


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("landing/sales/2024-03-08/", "folder marker"),
        ("landing/sales/", "folder marker"),
        ("landing/sales/2024-03-08/README.txt", "not a <store_id>.csv file"),
        ("landing/sales/2024-03-08/X.CSV", "not a <store_id>.csv file"),
        ("landing/sales/2024-03-08/store 1.csv", "not a store id"),
        ("landing/sales/2024-03-08/.csv", "not a store id"),
        ("landing/sales/2024-03-08/sub/store_001.csv", "not of the form"),
        ("landing/sales/README.txt", "not of the form"),
        ("landing/sales/2024-W10-5/store_001.csv", "'2024-W10-5' is not a day"),
        ("landing/sales/2024-3-8/store_001.csv", "is not a day"),
        ("landing/sales/20240308/store_001.csv", "is not a day"),
        ("landing/sales/2024-02-30/store_001.csv", "is not a day"),
        ("landing/other/2024-03-08/store_001.csv", "not under landing/sales/"),
    ],
)
def test_everything_else_is_a_stray_with_a_reason(key: str, reason: str) -> None:
    found = classify_key(key)
    assert isinstance(found, Stray) and found.key == key
    assert reason in found.reason


def test_days_are_strict_iso_dates() -> None:
    # Python's own parser reads ISO week dates ("2024-W10-5" is 2024-03-08); the contract does not.
    assert date.fromisoformat("2024-W10-5") == date(2024, 3, 8)
    assert parse_day("2024-W10-5") is None
    assert parse_day("2024-03-08") == date(2024, 3, 8)
