#!/usr/bin/env bash
# Builds the product's three images from the repository root:
#   lakehouse/ingestion:<INGESTION_TAG>   ingestion's code server and run worker
#   lakehouse/analytics:<ANALYTICS_TAG>   analytics' code server and run worker
#   lakehouse/dagster:<DAGSTER_TAG>       webserver and daemon
# Tag scheme: each image's default tag is the short hash of the last commit that changed what
# goes into it (its location folder plus lakehouse/ for the locations; deploy/dagster/ for the
# Dagster image), with "-dirty" when those files have uncommitted changes. A location can so be
# rolled forward or back on its own: INGESTION_TAG=<older hash> docker compose up -d ingestion.
#
# Environment: PYTHON_IMAGE (default: the compose file's pin, see pins.sh; offline
# lakehouse-local/python:3.11-slim-bookworm),
# IMAGE_PREFIX (default lakehouse), NO_CACHE=1, ONLY="ingestion analytics dagster" (a subset).
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
for name in ${ONLY:-ingestion analytics dagster}; do
  case "$name" in
    ingestion) build ingestion ingestion/Dockerfile "$INGESTION_TAG" ;;
    analytics) build analytics analytics/Dockerfile "$ANALYTICS_TAG" ;;
    dagster) build dagster deploy/dagster/Dockerfile "$DAGSTER_TAG" ;;
    *) echo "unknown image $name" >&2; exit 2 ;;
  esac
done
printf 'INGESTION_TAG=%s\nANALYTICS_TAG=%s\nDAGSTER_TAG=%s\n' \
  "$INGESTION_TAG" "$ANALYTICS_TAG" "$DAGSTER_TAG"
mkdir -p build
printf 'INGESTION_IMAGE=%s\nANALYTICS_IMAGE=%s\nDAGSTER_IMAGE=%s\n' \
  "$prefix/ingestion:$INGESTION_TAG" "$prefix/analytics:$ANALYTICS_TAG" \
  "$prefix/dagster:$DAGSTER_TAG" > build/images.env
