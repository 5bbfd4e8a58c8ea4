#!/usr/bin/env bash
# Builds the product's images from the repository root, one per code location of
# deploy/locations.toml and one for Dagster's own processes:
#   lakehouse/<location>:<LOCATION_TAG>   that location's code server and run worker
#   lakehouse/dagster:<DAGSTER_TAG>       webserver, daemon and sentinel
# Tag scheme: each image's default tag is the short hash of the last commit that changed what
# goes into it (its location folder plus lakehouse/ for the locations; deploy/dagster/ for the
# Dagster image), with "-dirty" when those files have uncommitted changes. A location can so be
# rolled forward or back on its own: INGESTION_TAG=<older hash> docker compose up -d ingestion.
#
# Environment: PYTHON_IMAGE (default: the compose file's pin, see pins.sh; offline
# lakehouse-local/python:3.11-slim-bookworm),
# IMAGE_PREFIX (default lakehouse), NO_CACHE=1, ONLY="ingestion dagster" (a subset).
set -euo pipefail
cd "$(dirname "$0")/../.."
prefix=${IMAGE_PREFIX:-lakehouse}
python_image=${PYTHON_IMAGE:-$(deploy/images/pins.sh | sed -n 's/^PYTHON_IMAGE=//p')}
cache=(); [ "${NO_CACHE:-0}" = 1 ] && cache=(--no-cache)

set -a
eval "$(deploy/images/tags.sh)"
set +a

build() {  # build <name> <dockerfile> <tag>
  echo "== $prefix/$1:$3 (FROM $python_image)"
  docker build "${cache[@]}" --build-arg PYTHON_IMAGE="$python_image" \
    -f "$2" -t "$prefix/$1:$3" .
}
locations=$(python3 deploy/locations.py names)
for name in ${ONLY:-$locations dagster}; do
  if [ "$name" = dagster ]; then
    dockerfile=deploy/dagster/Dockerfile
  elif grep -qx "$name" <<< "$locations"; then
    dockerfile=$name/Dockerfile
  else
    echo "unknown image $name (not dagster, not in deploy/locations.toml)" >&2; exit 2
  fi
  var="${name^^}_TAG"
  build "$name" "$dockerfile" "${!var}"
done
# The tags, and the image names for the tests (build/images.env: INGESTION_IMAGE=...).
mkdir -p build
: > build/images.env
for name in $locations dagster; do
  var="${name^^}_TAG"
  echo "$var=${!var}"
  echo "${name^^}_IMAGE=$prefix/$name:${!var}" >> build/images.env
done
