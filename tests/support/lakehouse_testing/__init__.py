"""Test support for the whole repository: real local services, never mocks. Development only.

- ``servers``: a PostgreSQL cluster (pgserver), an S3 endpoint (SeaweedFS's ``weed mini``) and a
  webhook receiver, each on loopback; the tests and ``make bench`` start them.
- ``pytest_plugin``: the fixtures that start them once per session, loaded by the root
  ``conftest.py``.

It lives under ``tests/`` and is installed only by ``make install``, so no image holds it
(``tests/images/test_no_test_code.py`` checks that).
"""
