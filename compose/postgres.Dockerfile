# PostgreSQL 15 from Debian's packages, initialised at build time with a `trading` database.
# Trust authentication: it is reachable only on the stack's own network.
# Few instructions on purpose: with the classic builder on fuse-overlayfs each one costs seconds.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN set -e; \
    if [ ! -x /usr/lib/postgresql/15/bin/postgres ]; then \
      apt-get update; \
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    data=/var/lib/postgresql/data; bin=/usr/lib/postgresql/15/bin; \
    mkdir -p "$data" /run/postgresql; \
    chown -R postgres:postgres /var/lib/postgresql /run/postgresql; \
    chmod 700 "$data"; \
    runuser -u postgres -- "$bin/initdb" --pgdata="$data" --username=postgres --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 --no-sync >/dev/null; \
    printf "listen_addresses = '*'\nunix_socket_directories = '/run/postgresql'\n" >> "$data/postgresql.conf"; \
    printf "host all all 0.0.0.0/0 trust\nhost all all ::/0 trust\n" >> "$data/pg_hba.conf"; \
    echo "CREATE DATABASE trading" | runuser -u postgres -- "$bin/postgres" --single -D "$data" postgres >/dev/null
USER postgres
# SIGTERM is postgres's "smart" shutdown, which waits for clients to leave (the gateway never
# does); SIGINT is the fast shutdown.
STOPSIGNAL SIGINT
CMD ["/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/data"]
