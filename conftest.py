"""Fixtures shared by every test tier: real local services, started once per session."""

pytest_plugins = ["lakehouse_testing.pytest_plugin"]
