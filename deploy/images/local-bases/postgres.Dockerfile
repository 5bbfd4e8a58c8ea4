# Stand-in for the official postgres:<version>-bookworm from a debootstrapped Debian 12, at the
# same PostgreSQL release (PG_VERSION, e.g. 15.20: Debian's 15.20-0+deb12u1 from
# bookworm-security; the official image takes the same upstream release from the PGDG
# repository). The build fails when Debian no longer carries that release: then bump the pin in
# docker-compose.yml. Same contract as the official image for this project: POSTGRES_USER,
# POSTGRES_PASSWORD, POSTGRES_DB, /docker-entrypoint-initdb.d, PGDATA, trust on the local socket.
ARG DEBIAN_IMAGE=lakehouse-local/debian:bookworm
FROM ${DEBIAN_IMAGE}
ARG PG_VERSION
RUN case "$PG_VERSION" in 15.*) ;; *) echo "PG_VERSION=$PG_VERSION: this stand-in is PostgreSQL 15" >&2; exit 1 ;; esac \
    && apt-get update \
    && apt-get install -y --no-install-recommends \
        "postgresql-15=${PG_VERSION}-*" "postgresql-client-15=${PG_VERSION}-*" \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /docker-entrypoint-initdb.d /var/run/postgresql \
    && chown postgres:postgres /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["docker-entrypoint.sh"]
EXPOSE 5432
CMD ["postgres"]
