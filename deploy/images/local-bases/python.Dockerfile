# Stand-in for python:3.11-slim, built from a debootstrapped Debian 12 (no registry needed).
# Same contract as the official image for our Dockerfiles: `python` on PATH with venv, and
# useradd. Debian 12's Python is 3.11.
ARG DEBIAN_IMAGE=lakehouse-local/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates passwd \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s /usr/bin/python3 /usr/local/bin/python
ENV LANG=C.UTF-8
CMD ["python3"]
