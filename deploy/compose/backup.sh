#!/usr/bin/env bash
# Back up what a user of the compose deployment would lose with its volumes, while it runs:
#   roles.sql       every role and its password hash (pg_dumpall --roles-only)
#   dagster.dump    Dagster's database: runs, events, schedules, sensor cursors (pg_dump -Fc)
#   bucket/         every object of the bucket (landing/, lake/, dagster/compute-logs/) and a
#                   manifest with sizes and MD5s, copied through the S3 API with the admin key
#   shop.dump       the web shop's database, only with --with-shop (the shop owns it; restoring
#                   it rolls back its orders)
#   backup.json     what is in it, and when each part was taken
#
#   deploy/compose/backup.sh backups/$(date +%F) [--with-shop]
#
# Recovery point: Dagster's database as of the start of its dump; the bucket as listed when its
# copy starts, which is after the dump, so every materialization the database records has its
# object in the backup (objects are written before their materialization is recorded). Files
# landed after the listing are not in the backup. The directory holds credentials (password
# hashes, the shop's data): it is created mode 700; keep it like that.
source "$(dirname "$0")/lib.sh"
dir=${1:?usage: backup.sh <directory> [--with-shop]}
with_shop=0
for arg in "${@:2}"; do
  case "$arg" in
    --with-shop) with_shop=1 ;;
    *) echo "unknown option $arg (usage: backup.sh <directory> [--with-shop])" >&2; exit 2 ;;
  esac
done
if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
  echo "$dir is not empty: back up into a new directory" >&2
  exit 2
fi
mkdir -p "$dir/bucket"
chmod 700 "$dir"
dir=$(cd "$dir" && pwd)
use_deployed_tags
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

started=$(now)
pg pg_dumpall -U postgres --roles-only > "$dir/roles.sql"
echo "roles.sql: $(grep -c '^CREATE ROLE' "$dir/roles.sql") roles"
dagster_dump=$(now)
pg pg_dump -U postgres -Fc dagster > "$dir/dagster.dump"
echo "dagster.dump: $(wc -c < "$dir/dagster.dump") bytes"
shop_dump=null
if [ "$with_shop" = 1 ]; then
  shop_dump="\"$(now)\""
  pg pg_dump -U postgres -Fc shop > "$dir/shop.dump"
  echo "shop.dump: $(wc -c < "$dir/shop.dump") bytes"
fi
bucket_tool "$dir/bucket" backup /backup
cat > "$dir/backup.json" <<JSON
{
  "started": "$started",
  "dagster_dump_started": "$dagster_dump",
  "shop_dump_started": $shop_dump,
  "bucket": "bucket/manifest.json (listing_started is the bucket's recovery point)",
  "finished": "$(now)",
  "images": {"ingestion": "$INGESTION_TAG", "analytics": "$ANALYTICS_TAG", "dagster": "$DAGSTER_TAG"}
}
JSON
echo "backup complete: $dir"
