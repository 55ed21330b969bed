# Redis 7 from Debian's packages, as a cache: no persistence, bounded memory.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN if ! command -v redis-server >/dev/null 2>&1; then \
      apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
      && rm -rf /var/lib/apt/lists/*; \
    fi
COPY redis.conf /etc/chaosgate/redis.conf
USER redis
CMD ["redis-server", "/etc/chaosgate/redis.conf"]
