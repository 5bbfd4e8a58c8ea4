#!/bin/bash
# First start of the postgres service: the web shop's operational database lives beside
# Dagster's own. Its table and the read-only role are created by the `init` service.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -c 'CREATE DATABASE shop'
