# An S3-compatible server for CI and air-gapped use: moto in server mode. Build from the
# repository root (it reads deploy/certs/ in the builder stage only, like the product images).
ARG PYTHON_IMAGE=lakehouse-local/python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
COPY deploy/certs/ /tmp/certs/
RUN set -eu; \
    cat /etc/ssl/certs/ca-certificates.crt > /tmp/ca-bundle.crt 2>/dev/null || true; \
    for f in /tmp/certs/*.crt /tmp/certs/*.pem; do if [ -f "$f" ]; then cat "$f" >> /tmp/ca-bundle.crt; fi; done; \
    python -m venv /opt/venv
ENV PIP_CERT=/tmp/ca-bundle.crt SSL_CERT_FILE=/tmp/ca-bundle.crt PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN /opt/venv/bin/pip install --quiet "moto[server,s3]==5.2.5"

FROM ${PYTHON_IMAGE}
RUN useradd --create-home --uid 10001 --user-group moto
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
USER 10001
EXPOSE 9000
CMD ["moto_server", "-H", "0.0.0.0", "-p", "9000"]
