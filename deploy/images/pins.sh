#!/usr/bin/env bash
# Prints the images docker-compose.yml names by default (the one home of every pin), as
#   PYTHON_IMAGE=...  POSTGRES_IMAGE=...  S3_IMAGE=...  PROXY_IMAGE=...
# so the offline stand-ins are built at the same releases (build-local-bases.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
for name in PYTHON_IMAGE POSTGRES_IMAGE S3_IMAGE PROXY_IMAGE; do
  values=$(sed -n "s/.*\${$name:-\([^}]*\)}.*/\1/p" docker-compose.yml | sort -u)
  if [ "$(printf '%s\n' "$values" | grep -c .)" != 1 ]; then
    echo "docker-compose.yml must name exactly one default for $name, found: ${values:-none}" >&2
    exit 1
  fi
  echo "$name=$values"
done
