import dagster as dg

# The same daily partitions as ingestion's sales_data (UTC days from 2024-01-01), declared here
# rather than imported: a location never imports another. tests/test_contract.py holds the two
# definitions equal.
daily_partitions = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")

# Calendar months; end_offset=1 keeps the current month as a partition (month to date), so the
# rollup follows the days as they land instead of waiting for the month to end.
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date="2024-01-01", timezone="UTC", end_offset=1
)
