import dagster as dg

# One partition per UTC day. The day in a landing file's path is its partition. Analytics
# declares the same definition on its side of the boundary; tests/test_contract.py holds both
# to it.
daily_partitions = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")
