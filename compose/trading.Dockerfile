# The trading binary (gateway, marketdata, probe). Built on the host by build-images.sh and
# copied in; the base defaults to Debian's slim image and is a debootstrapped one here.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
COPY trading /usr/local/bin/trading
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/trading"]
