#!/usr/bin/env bash
# Prints the default image tags (see build.sh): for each image, the short hash of the last commit
# that changed its inputs, with -dirty when those files have uncommitted changes. A variable that
# is already set wins, so `INGESTION_TAG=abc1234 make up` pins one location.
set -euo pipefail
cd "$(dirname "$0")/../.."
tag_for() {
  local hash
  hash=$(git log -1 --format=%h -- "$@" 2>/dev/null || true)
  [ -n "$hash" ] || hash=dev
  if [ -n "$(git status --porcelain -- "$@" 2>/dev/null)" ]; then hash="$hash-dirty"; fi
  echo "$hash"
}
# <NAME>_TAG for each code location of deploy/locations.toml.
for name in $(python3 deploy/locations.py names); do
  var="${name^^}_TAG"
  echo "$var=${!var:-$(tag_for "$name" lakehouse)}"
done
echo "DAGSTER_TAG=${DAGSTER_TAG:-$(tag_for deploy/dagster)}"
