#!/usr/bin/env bash
# Restore both databases from a backup.sh directory. Stops what writes to them first (daemon,
# webserver, code servers), restores, then starts them again.
#   deploy/compose/restore.sh backups/2026-11-26
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:?usage: restore.sh <directory>}
compose=${COMPOSE:-docker compose}
for db in dagster shop; do [ -s "$dir/$db.dump" ] || { echo "missing $dir/$db.dump" >&2; exit 1; }; done
$compose stop daemon webserver ingestion analytics
for db in dagster shop; do
  $compose exec -T postgres sh -c "pg_restore -U \"\$POSTGRES_USER\" -d $db --clean --if-exists --no-owner" < "$dir/$db.dump"
  echo "restored $db"
done
$compose up -d --no-build --wait daemon webserver ingestion analytics
