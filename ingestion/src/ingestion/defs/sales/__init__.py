"""The sales domain of ingestion: sources, the landed ``sales_data``, its checks and triggers."""
