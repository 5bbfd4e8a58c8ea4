"""Shared library of the sales lakehouse: storage, the lake IO manager, configuration, demo data.

Both code locations depend on it; it holds no Dagster definitions of its own.
"""
