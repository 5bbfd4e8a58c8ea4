"""Operational alerts that watch every code location (declared here, owned by the platform)."""
