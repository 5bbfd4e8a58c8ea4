#!/usr/bin/env bash
# Back up both databases of the compose deployment: Dagster's (runs, events, schedules, cursors)
# and the web shop's `shop`. Writes <dir>/dagster.dump and <dir>/shop.dump (pg_dump custom format).
#   deploy/compose/backup.sh backups/2026-11-26
# Uses the running postgres service; the bucket (lake, landing, compute logs) is backed up with
# the S3 server's own tools (e.g. bucket replication or `aws s3 sync`).
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:?usage: backup.sh <directory>}
compose=${COMPOSE:-docker compose}
mkdir -p "$dir"
for db in dagster shop; do
  $compose exec -T postgres sh -c "pg_dump -U \"\$POSTGRES_USER\" -Fc $db" > "$dir/$db.dump"
  echo "$dir/$db.dump: $(wc -c < "$dir/$db.dump") bytes"
done
