"""Fixtures shared by every test tier: real local services, started once per session."""

pytest_plugins = ["lakehouse.pytest_plugin"]
