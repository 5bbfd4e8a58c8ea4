"""Code location ``analytics``: sales summaries built from ``sales_data`` in the lake."""
