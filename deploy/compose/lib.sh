# Shared by backup.sh and restore.sh (sourced, not run). Both talk to the deployment through
# `docker compose` (COMPOSE overrides it, e.g. "docker compose --env-file other.env"), from the
# repository root, with the .env the deployment was started with.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
read -r -a compose <<< "${COMPOSE:-docker compose}"
if ! "${compose[@]}" version >/dev/null 2>&1; then
  echo "'${compose[*]}' does not work here: run \`make compose-plugin\` (or set COMPOSE)" >&2
  exit 1
fi

# The tags of the images the deployment runs (its containers, running or stopped), so one-off
# containers and the restart after a restore use exactly those; tags.sh when there are none.
use_deployed_tags() {
  local service var id image
  eval "$(deploy/images/tags.sh)"
  for service in $(python3 deploy/locations.py names) daemon; do
    var="${service^^}_TAG"
    [ "$service" = daemon ] && var=DAGSTER_TAG
    id=$("${compose[@]}" ps -a -q "$service" 2>/dev/null | head -n 1)
    if [ -n "$id" ]; then
      image=$(docker inspect -f '{{.Config.Image}}' "$id")
      printf -v "$var" '%s' "${image##*:}"
    fi
    export "${var?}"
  done
}

# psql/pg_dump inside the postgres service, as the cluster superuser (trusted local socket).
pg() { "${compose[@]}" exec -T postgres "$@"; }

# The bucket tool (lakehouse.bucket_backup) in the ingestion image on the deployment's network,
# with init's environment (the admin key) and <host dir> mounted at /backup, as the calling user
# so the files it writes are the caller's.
bucket_tool() {
  local dir=$1; shift
  "${compose[@]}" run --rm --no-deps -T --user "$(id -u):$(id -g)" -v "$dir:/backup" \
    init python -m lakehouse.bucket_backup "$@"
}

# The compose network, which run containers of this deployment join (DAGSTER_RUN_NETWORK).
deployment_network() {
  local id
  id=$("${compose[@]}" ps -a -q postgres | head -n 1)
  [ -n "$id" ] || { echo "no postgres container: is the deployment up (make up)?" >&2; return 1; }
  docker inspect -f '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{"\n"}}{{end}}' "$id" \
    | head -n 1
}
