#!/usr/bin/env bash
# Restore a backup.sh directory into the running compose deployment:
#
#   deploy/compose/restore.sh backups/2026-11-26 [--force] [--with-shop]
#
# 1. Checks the backup (every file, every object's MD5) and the target: a target that already
#    has runs or objects (or, with --with-shop, orders) is refused unless --force. Nothing has
#    been touched when it refuses.
# 2. Stops every writer: the daemon, both webservers, both code servers, and this deployment's run
#    containers (label dagster/run_id, on the deployment's network).
# 3. Roles (the superuser's own entry is skipped: it keeps .env's password), Dagster's database
#    (dropped and recreated, so it equals the backup), the shop's only with --with-shop, then
#    every object of the bucket (a restore never deletes objects the backup does not have).
# 4. Starts everything again with SEED_DAYS=0: init re-applies roles, passwords and grants from
#    .env and writes no demo data; migrate upgrades a backup from an older Dagster.
# On any error after step 2 it stops, prints the reason and leaves the writers stopped: fix the
# cause and run it again (with --force), or `make up` to start the stack as it is.
#
# On a new machine: `make env` (or the old .env), `make up` (an empty deployment), then restore.
source "$(dirname "$0")/lib.sh"
dir=${1:?usage: restore.sh <directory> [--force] [--with-shop]}
force=0
with_shop=0
for arg in "${@:2}"; do
  case "$arg" in
    --force) force=1 ;;
    --with-shop) with_shop=1 ;;
    *) echo "unknown option $arg (usage: restore.sh <directory> [--force] [--with-shop])" >&2; exit 2 ;;
  esac
done
dir=$(cd "$dir" && pwd)
parts=(roles.sql dagster.dump bucket/manifest.json)
[ "$with_shop" = 1 ] && parts+=(shop.dump)
for part in "${parts[@]}"; do
  [ -s "$dir/$part" ] || { echo "not a complete backup: $dir/$part is missing" >&2; exit 2; }
done
use_deployed_tags
network=$(deployment_network)

echo "== checking the target"
count_rows() {  # count_rows <database> <table>: rows, or 0 when the table does not exist
  local exists
  exists=$(pg psql -U postgres -d "$1" -tAc "SELECT to_regclass('$2') IS NOT NULL")
  if [ "$exists" = t ]; then pg psql -U postgres -d "$1" -tAc "SELECT count(*) FROM $2"; else echo 0; fi
}
runs=$(count_rows dagster public.runs)
objects=$(bucket_tool "$dir/bucket" count | tail -n 1)
orders=0
[ "$with_shop" = 1 ] && orders=$(count_rows shop source.sales)
if [ "$runs$objects$orders" != 000 ] && [ "$force" != 1 ]; then
  echo "refusing to restore over a deployment with data ($runs runs in Dagster's database," \
    "$objects objects in the bucket$([ "$with_shop" = 1 ] && echo ", $orders orders in shop"))." >&2
  echo "Nothing was changed. Run again with --force to replace them with the backup." >&2
  exit 3
fi

step="stopping the writers"
set -o errtrace
trap 'echo "restore FAILED while $step. The writers (daemon, webservers, code servers) are" \
  "stopped; fix the cause and run restore again (with --force), or start the stack as it is" \
  "with make up." >&2' ERR
echo "== $step"
"${compose[@]}" stop daemon webserver webserver-viewer ingestion analytics
runs_live=$(docker ps -q --filter label=dagster/run_id --filter "network=$network")
if [ -n "$runs_live" ]; then
  echo "stopping run containers: $(echo "$runs_live" | wc -l)"
  # shellcheck disable=SC2086
  docker stop -t 30 $runs_live >/dev/null
fi

step="restoring roles"
echo "== $step"
# CREATE ROLE fails for a role that exists: make it conditional; skip the superuser's lines.
sed -E \
  -e '/^(CREATE|ALTER) ROLE "?postgres"?[ ;]/d' \
  -e 's/^CREATE ROLE (.+);$/DO $restore$ BEGIN CREATE ROLE \1; EXCEPTION WHEN duplicate_object THEN NULL; END $restore$;/' \
  "$dir/roles.sql" | pg psql -q -v ON_ERROR_STOP=1 -U postgres -d postgres >/dev/null

restore_db() {  # restore_db <name> <owner> <dump>
  pg psql -q -v ON_ERROR_STOP=1 -U postgres -d postgres \
    -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" -c "CREATE DATABASE \"$1\" OWNER \"$2\""
  pg pg_restore -U postgres -d "$1" --exit-on-error < "$3"
}
step="restoring Dagster's database"
echo "== $step"
restore_db dagster "${DAGSTER_POSTGRES_USER:-dagster}" "$dir/dagster.dump"
if [ "$with_shop" = 1 ]; then
  step="restoring the shop's database"
  echo "== $step"
  restore_db shop postgres "$dir/shop.dump"
fi

step="restoring the bucket"
echo "== $step"
bucket_tool "$dir/bucket" restore /backup --force

step="starting the deployment again"
echo "== $step"
SEED_DAYS=0 "${compose[@]}" up -d --no-build --wait
trap - ERR
echo "restore complete from $dir; the deployment is running"
