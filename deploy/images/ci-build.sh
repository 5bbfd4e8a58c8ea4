#!/usr/bin/env bash
# CI (and air-gapped) image build on this kind of machine: no registry, TLS re-signed by a proxy.
#  1. the host's CA bundle goes to deploy/certs/ for the builder stages (git-ignored, removed
#     again at the end), plus a throwaway canary certificate that the image tests look for in
#     the final images;
#  2. local stand-ins for the images the compose file pins (build-local-bases.sh), rebuilt from
#     scratch; their names go to build/stand-ins.env for the compose tests;
#  3. the product's images on top of them, without the layer cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
host_bundle=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
cp "$host_bundle" deploy/certs/host-ca.crt
trap 'rm -f deploy/certs/host-ca.crt' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=lakehouse-build-canary" \
  -keyout /dev/null -out deploy/certs/zz-build-canary.crt 2>/dev/null

FORCE=1 NO_CACHE=1 deploy/images/build-local-bases.sh
PYTHON_IMAGE=${LOCAL_BASE_PREFIX:-lakehouse-local}/python:3.11-slim-bookworm NO_CACHE=1 \
  deploy/images/build.sh
