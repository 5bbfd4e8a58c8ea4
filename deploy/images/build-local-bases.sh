#!/usr/bin/env bash
# Builds local stand-ins for the official base images, with no container registry:
#   <prefix>/debian:bookworm     debootstrap --variant=minbase bookworm, then docker import
#   <prefix>/python:3.11-slim    Debian 12's Python 3.11        (stands in for python:3.11-slim)
#   <prefix>/postgres:15         Debian 12's PostgreSQL 15     (stands in for postgres:15)
#   <prefix>/moto:5              moto's S3 server              (stands in for MinIO)
# Then build the product with PYTHON_IMAGE=<prefix>/python:3.11-slim (deploy/images/build.sh).
#
# Needs root (debootstrap), docker, and debootstrap. apt's default mirror is used; pip inside the
# builds needs a CA bundle in deploy/certs/ where TLS is intercepted (see deploy/certs/README.md).
# Environment: LOCAL_BASE_PREFIX (default lakehouse-local), FORCE=1 to redo the debootstrap,
# NO_CACHE=1 to build without the layer cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
prefix=${LOCAL_BASE_PREFIX:-lakehouse-local}
cache=(); [ "${NO_CACHE:-0}" = 1 ] && cache=(--no-cache)

if [ "${FORCE:-0}" = 1 ] || ! docker image inspect "$prefix/debian:bookworm" >/dev/null 2>&1; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  echo "== debootstrap bookworm (minbase) into $root"
  debootstrap --variant=minbase bookworm "$root" >/dev/null
  tar -C "$root" -c . | docker import - "$prefix/debian:bookworm"
fi

docker build "${cache[@]}" -t "$prefix/python:3.11-slim" \
  --build-arg DEBIAN_IMAGE="$prefix/debian:bookworm" \
  -f deploy/images/local-bases/python.Dockerfile deploy/images/local-bases
docker build "${cache[@]}" -t "$prefix/postgres:15" \
  --build-arg DEBIAN_IMAGE="$prefix/debian:bookworm" \
  -f deploy/images/local-bases/postgres.Dockerfile deploy/images/local-bases
docker build "${cache[@]}" -t "$prefix/moto:5" \
  --build-arg PYTHON_IMAGE="$prefix/python:3.11-slim" \
  -f deploy/images/local-bases/moto.Dockerfile .
docker image ls "$prefix/*"
