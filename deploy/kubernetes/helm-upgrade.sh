#!/usr/bin/env bash
# Installs or upgrades the release with Dagster's chart at the pinned Dagster's release, this
# directory's values.yaml, and this checkout's images, tagged as `make up` and
# deploy/images/build.sh tag them (deploy/images/tags.sh: the short hash of the last commit that
# changed an image's inputs; a variable already set wins, so INGESTION_TAG=<older hash> rolls one
# location back). Needs `helm repo add dagster https://dagster-io.github.io/helm` once.
#
# Environment: IMAGE_PREFIX (default lakehouse: the registry path your nodes pull from),
# <LOCATION>_TAG (INGESTION_TAG, ...) / DAGSTER_TAG, RELEASE and NAMESPACE (default lakehouse both),
# HELM (default helm). Extra arguments go to helm, e.g. --dry-run or
# --set postgresql.postgresqlHost=db.internal.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The chart's version is Dagster's (deploy/dagster/requirements.in pins dagster==1.13.27).
CHART_VERSION=1.13.27
eval "$(deploy/images/tags.sh)"
prefix=${IMAGE_PREFIX:-lakehouse}
args=(upgrade --install "${RELEASE:-lakehouse}" dagster/dagster --version "$CHART_VERSION"
  --namespace "${NAMESPACE:-lakehouse}" -f deploy/kubernetes/values.yaml)
# values.yaml lists the locations in deploy/locations.toml's order (tests/kubernetes holds it),
# so deployments[i] is the i-th location. --set-string: a tag that happens to be all digits
# stays a string.
pairs=("dagsterWebserver.image=$prefix/dagster:$DAGSTER_TAG"
  "dagsterDaemon.image=$prefix/dagster:$DAGSTER_TAG")
index=0
for name in $(python3 deploy/locations.py names); do
  var="${name^^}_TAG"
  pairs+=("dagster-user-deployments.deployments[$index].image=$prefix/$name:${!var}")
  index=$((index + 1))
done
for pair in "${pairs[@]}"; do
  key=${pair%%=*}
  image=${pair#*=}
  args+=(--set-string "$key.repository=${image%:*}" --set-string "$key.tag=${image##*:}")
done
exec "${HELM:-helm}" "${args[@]}" "$@"
