# The edge: HAProxy from Debian's packages in front of the gateway replicas (compose/edge.yml).
# Built by build-images.sh on the same base as the other images; haproxy is installed here so
# the base's package list (and with it every other image's inputs) stays unchanged.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY haproxy.cfg /etc/haproxy/haproxy.cfg
# The server certificate and key (HTTPS on 8443 and 8444) and the CA that signs client
# certificates (8444), made by build-images.sh in compose/tls/.
COPY --chown=haproxy:haproxy edge.pem ca.pem /etc/haproxy/tls/
COPY edge-health edge-controller edge-entrypoint /usr/local/bin/
USER haproxy
# The endpoint controller in the background, HAProxy in the foreground as PID 1.
ENTRYPOINT ["/usr/local/bin/edge-entrypoint"]
