# PostgreSQL 15 from Debian's packages, initialised at build time with a `trading` database.
# Trust authentication: it is reachable only on the stack's own network.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN if [ ! -x /usr/lib/postgresql/15/bin/postgres ]; then \
      apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
      && rm -rf /var/lib/apt/lists/*; \
    fi
ENV PGDATA=/var/lib/postgresql/data \
    PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p "$PGDATA" /run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /run/postgresql \
    && chmod 700 "$PGDATA"
USER postgres
RUN initdb --pgdata="$PGDATA" --username=postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null \
    && printf "listen_addresses = '*'\nunix_socket_directories = '/run/postgresql'\n" >> "$PGDATA/postgresql.conf" \
    && printf "host all all 0.0.0.0/0 trust\nhost all all ::/0 trust\n" >> "$PGDATA/pg_hba.conf" \
    && echo "CREATE DATABASE trading" | postgres --single -D "$PGDATA" postgres >/dev/null
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
# SIGTERM is postgres's "smart" shutdown, which waits for clients (the gateway never leaves);
# SIGINT is the fast shutdown.
STOPSIGNAL SIGINT
CMD ["postgres"]
