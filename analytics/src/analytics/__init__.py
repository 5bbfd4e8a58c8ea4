"""Code location ``analytics``: sales summaries built from ``sales_data`` in the lake."""

import warnings

import dagster as dg

# Checks here carry a partitions definition so that each day gets its own result (a failed day
# blocks only that day downstream). Dagster 1.13 marks that as a preview and warns on every
# import; the behaviour is covered by this project's tests, so the warning is silenced here once.
warnings.filterwarnings(
    "ignore",
    message="Specifying a partitions_def on an AssetCheckSpec",
    category=dg.PreviewWarning,
)
