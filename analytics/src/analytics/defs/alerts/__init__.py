"""Freshness alerting for analytics' assets."""
