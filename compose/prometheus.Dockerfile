# Prometheus 2.42 and the Redis and PostgreSQL exporters from Debian's packages, for
# compose/observability.yml: one image, three services with different commands. Built by
# build-images.sh on the same base as the other images (no registry). The config and the
# alert rules are copied in, so the image's inputs hash covers them, and checked here: a broken
# config, rule or rule unit test (promtool) fails the build.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      prometheus prometheus-redis-exporter prometheus-postgres-exporter curl >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY prometheus.yml alerts.yml alerts.test.yml /etc/chaosgate/prometheus/
RUN promtool check config /etc/chaosgate/prometheus/prometheus.yml \
 && promtool check rules /etc/chaosgate/prometheus/alerts.yml \
 && promtool test rules /etc/chaosgate/prometheus/alerts.test.yml
USER prometheus
EXPOSE 9090 9121 9187
# The TSDB goes to /prometheus, a tmpfs in compose/observability.yml: nothing outlives a run.
CMD ["/usr/bin/prometheus", "--config.file=/etc/chaosgate/prometheus/prometheus.yml", \
     "--storage.tsdb.path=/prometheus", "--storage.tsdb.retention.time=2h", \
     "--web.listen-address=:9090"]
