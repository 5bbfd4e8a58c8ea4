"""Code location ``ingestion``: lands online orders and stores' CSV drops into the lake."""
