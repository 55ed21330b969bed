#!/usr/bin/env bash
# Builds every image the reference trading stack needs, with no container registry.
#
#   compose/build-images.sh              base image (if needed), trading binary, every image
#   compose/build-images.sh --base-only  only make sure the base image exists
#   compose/build-images.sh --no-trading every image but the trading one (no cargo build)
#   compose/build-images.sh --force      rebuild every image even if its inputs match
#
# Environment:
#   CHAOSGATE_BASE_IMAGE   use this image as the base instead of looking for one
#   CHAOSGATE_NO_PULL=1    do not try `docker pull debian:bookworm-slim`
#   CHAOSGATE_APT_MIRROR   Debian mirror for debootstrap (default: read from the host's apt sources)
#   CHAOSGATE_TRADING_BINARY  put this `trading` binary in the trading image instead of building
#                          one with `cargo build --release` (scripts/test.sh passes the one its
#                          test build made, so a cold CI compiles the fixtures' dependencies once)
#
# Idempotent: each image carries a label with a hash of its inputs (Dockerfile, files copied in,
# base image id); an image whose label matches is not rebuilt. The debootstrapped base is tagged
# with a hash of its package list and is made only when that tag is missing.
# Never uses BuildKit: docker-compose v1 and this machine only have the classic builder.
set -euo pipefail

readonly VERSION="0.1.0"
readonly TRADING_TAG="chaosgate/trading:${VERSION}"
readonly POSTGRES_TAG="chaosgate/postgres:15-${VERSION}"
readonly REDIS_TAG="chaosgate/redis:7-${VERSION}"
readonly EDGE_TAG="chaosgate/edge:${VERSION}"
readonly PROMETHEUS_TAG="chaosgate/prometheus:2.42-${VERSION}"
readonly SLIM_TAG="debian:bookworm-slim"
readonly SUITE="bookworm"
readonly BASE_PACKAGES="redis-server,postgresql-15,iproute2,iptables,procps,ca-certificates"
readonly HASH_LABEL="org.chaosgate.inputs-hash"

compose_dir="$(cd "$(dirname "$0")" && pwd)"
repo_dir="$(cd "${compose_dir}/.." && pwd)"
build_dir="${compose_dir}/.build"

base_only=0
no_trading=0
force=0
for arg in "$@"; do
  case "$arg" in
    --base-only) base_only=1 ;;
    --no-trading) no_trading=1 ;;
    --force) force=1 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "build-images: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

unset DOCKER_BUILDKIT
script_start=$(date +%s.%N)
step_start=0

log() { echo "build-images: $*" >&2; }
die() { echo "build-images: error: $*" >&2; exit 1; }
begin() { step_start=$(date +%s.%N); log "$1 ..."; }
done_step() {
  local now
  now=$(date +%s.%N)
  log "$1 ($(awk -v a="$step_start" -v b="$now" 'BEGIN { printf "%.1f s", b - a }'))"
}

ensure_docker() {
  if docker info >/dev/null 2>&1; then
    return
  fi
  command -v dockerd >/dev/null 2>&1 || die "docker does not answer and dockerd is not installed"
  begin "starting dockerd"
  nohup dockerd >/tmp/chaosgate-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      done_step "dockerd is up"
      return
    fi
    sleep 1
  done
  die "dockerd did not come up in 60 s; see /tmp/chaosgate-dockerd.log"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# The mirror that serves the plain suite (not -security/-updates), from the host's apt sources,
# in one-line (.list) or deb822 (.sources) format. Nothing is hard-coded: a machine behind a
# proxy mirror or a snapshot uses what apt already uses.
host_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
        if ($(i + 1) == suite) { print $i; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822: stanzas separated by blank lines; take the URIs of a deb stanza listing the suite.
    awk -v suite="$SUITE" '
      function flush() {
        if (is_deb && has_suite && uris != "") { split(uris, u, " "); print u[1]; found = 1 }
        is_deb = 0; has_suite = 0; uris = ""
      }
      /^[ \t]*$/ { flush(); if (found) exit; next }
      /^#/ { next }
      /^Types:/ { for (i = 2; i <= NF; i++) if ($i == "deb") is_deb = 1 }
      /^URIs:/ { uris = ""; for (i = 2; i <= NF; i++) uris = uris " " $i }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) has_suite = 1 }
      END { if (!found) flush() }' "$f"
  done
}

debootstrap_base() {
  local tag="$1" mirror rootfs
  mirror="${CHAOSGATE_APT_MIRROR:-$(host_mirror | head -n 1)}"
  [ -n "$mirror" ] || die "no Debian mirror for '${SUITE}' in the host's apt sources; set CHAOSGATE_APT_MIRROR"
  if ! command -v debootstrap >/dev/null 2>&1; then
    begin "installing debootstrap"
    # The same lock as scripts/local-kube.sh's apt-get (scripts/test.sh runs both at once).
    flock -w 900 /var/lock/chaosgate-apt.lock apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive flock -w 900 /var/lock/chaosgate-apt.lock \
      apt-get -o DPkg::Lock::Timeout=600 install -y -qq debootstrap >/dev/null
    done_step "installed debootstrap"
  fi
  mkdir -p "$build_dir"
  rootfs="$(mktemp -d "${build_dir}/rootfs.XXXXXX")"
  # Removing the tree also runs when debootstrap fails halfway.
  trap 'rm -rf --one-file-system "'"$rootfs"'"' EXIT
  begin "debootstrap ${SUITE} (minbase + ${BASE_PACKAGES}) from ${mirror}"
  if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$rootfs" "$mirror" \
      >"${build_dir}/debootstrap.log" 2>&1; then
    tail -n 20 "${build_dir}/debootstrap.log" >&2
    die "debootstrap failed; full log in ${build_dir}/debootstrap.log"
  fi
  done_step "debootstrap done"
  # Package caches are dead weight in every image built on this base.
  rm -rf "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/lib/apt/lists/* || true
  begin "docker import as ${tag}"
  tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    - "$tag" >/dev/null
  done_step "imported ${tag}"
  rm -rf --one-file-system "$rootfs"
  trap - EXIT
}

# Prints the base image reference to build on.
resolve_base() {
  if [ -n "${CHAOSGATE_BASE_IMAGE:-}" ]; then
    image_exists "$CHAOSGATE_BASE_IMAGE" || die "CHAOSGATE_BASE_IMAGE=${CHAOSGATE_BASE_IMAGE} is not present locally"
    log "base: ${CHAOSGATE_BASE_IMAGE} (from CHAOSGATE_BASE_IMAGE)"
    echo "$CHAOSGATE_BASE_IMAGE"
    return
  fi
  if image_exists "$SLIM_TAG"; then
    log "base: ${SLIM_TAG} (present locally)"
    echo "$SLIM_TAG"
    return
  fi
  local n tag
  n="$(printf '%s %s %s\n' minbase "$SUITE" "$BASE_PACKAGES" | sha256sum | cut -c1-12)"
  tag="chaosgate/base:${SUITE}-${n}"
  if image_exists "$tag"; then
    log "base: ${tag} (present)"
    echo "$tag"
    return
  fi
  if [ "${CHAOSGATE_NO_PULL:-0}" != "1" ]; then
    begin "trying docker pull ${SLIM_TAG}"
    if timeout 120 docker pull -q "$SLIM_TAG" >/dev/null 2>&1; then
      done_step "pulled ${SLIM_TAG}"
      echo "$SLIM_TAG"
      return
    fi
    done_step "no registry reachable, making the base with debootstrap"
  fi
  debootstrap_base "$tag"
  echo "$tag"
}

# Builds one image from a context directory unless an image with the same inputs exists.
build_image() {
  local tag="$1" dockerfile="$2" context="$3" base="$4" base_id hash existing previous_id
  base_id="$(docker image inspect -f '{{.Id}}' "$base")"
  hash="$( { echo "$base_id"; cat "$dockerfile"; (cd "$context" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); } | sha256sum | cut -c1-64)"
  existing="$(docker image inspect -f "{{ index .Config.Labels \"${HASH_LABEL}\" }}" "$tag" 2>/dev/null || true)"
  if [ "$force" = 0 ] && [ "$existing" = "$hash" ]; then
    log "${tag}: up to date (inputs ${hash:0:12})"
    return
  fi
  previous_id="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
  begin "docker build ${tag}"
  if ! docker build -q --build-arg "BASE=${base}" --label "${HASH_LABEL}=${hash}" \
      -f "$dockerfile" -t "$tag" "$context" >"${build_dir}/build-${tag//[\/:]/_}.log" 2>&1; then
    cat "${build_dir}/build-${tag//[\/:]/_}.log" >&2
    die "docker build ${tag} failed"
  fi
  done_step "built ${tag} (inputs ${hash:0:12})"
  # The image the tag pointed to before is now untagged: remove it (fails harmlessly when a
  # container still uses it).
  if [ -n "$previous_id" ] && [ "$previous_id" != "$(docker image inspect -f '{{.Id}}' "$tag")" ]; then
    docker rmi "$previous_id" >/dev/null 2>&1 || true
  fi
}

# A context holding only what the Dockerfile copies keeps the classic builder from sending
# the whole repository (and target/) to the daemon.
stage_context() {
  local name="$1"
  shift
  local dir="${build_dir}/context-${name}"
  rm -rf "$dir"
  mkdir -p "$dir"
  local f
  for f in "$@"; do
    cp -p "$f" "$dir/"
  done
  echo "$dir"
}

# The edge's TLS (compose/make-tls.sh: a CA, the edge's certificate, a client certificate in
# compose/tls/, made once).
make_tls() {
  begin "TLS certificates for the edge (compose/tls/)"
  bash "${compose_dir}/make-tls.sh" || die "compose/make-tls.sh failed (above)"
  done_step "CA, edge and client certificates in compose/tls/"
}

ensure_docker
mkdir -p "$build_dir"
make_tls
base="$(resolve_base)"
if [ "$base_only" = 1 ]; then
  log "base image ready: ${base}"
  exit 0
fi

if [ "$no_trading" = 0 ]; then
  if [ -n "${CHAOSGATE_TRADING_BINARY:-}" ]; then
    binary="$CHAOSGATE_TRADING_BINARY"
    [ -x "$binary" ] || die "CHAOSGATE_TRADING_BINARY=${binary} is not an executable file"
    log "trading binary: ${binary} (CHAOSGATE_TRADING_BINARY)"
  else
    begin "cargo build --release -p trading-fixtures"
    (cd "$repo_dir" && cargo build --release --quiet -p trading-fixtures)
    done_step "trading binary built"
    target_dir="${CARGO_TARGET_DIR:-${repo_dir}/target}"
    binary="${target_dir}/release/trading"
    [ -x "$binary" ] || die "expected the trading binary at ${binary}"
  fi
  build_image "$TRADING_TAG" "${compose_dir}/trading.Dockerfile" \
    "$(stage_context trading "$binary")" "$base"
fi
build_image "$POSTGRES_TAG" "${compose_dir}/postgres.Dockerfile" \
  "$(stage_context postgres)" "$base"
build_image "$REDIS_TAG" "${compose_dir}/redis.Dockerfile" \
  "$(stage_context redis "${compose_dir}/redis.conf")" "$base"
# The edge (compose/edge.yml): HAProxy apt-installed over the base when the image is built.
build_image "$EDGE_TAG" "${compose_dir}/edge.Dockerfile" \
  "$(stage_context edge "${compose_dir}/haproxy.cfg" "${compose_dir}/edge-health" \
  "${compose_dir}/edge-controller" "${compose_dir}/edge-entrypoint" \
  "${compose_dir}/tls/edge.pem" "${compose_dir}/tls/ca.pem")" "$base"
# Prometheus and its exporters (compose/observability.yml), with the config and alert rules
# of compose/prometheus/ checked by promtool during the build.
build_image "$PROMETHEUS_TAG" "${compose_dir}/prometheus.Dockerfile" \
  "$(stage_context prometheus "${compose_dir}/prometheus/prometheus.yml" \
  "${compose_dir}/prometheus/alerts.yml" "${compose_dir}/prometheus/alerts.test.yml")" "$base"

trading_tag="${TRADING_TAG} "
[ "$no_trading" = 1 ] && trading_tag=""
log "images ready: ${trading_tag}${POSTGRES_TAG} ${REDIS_TAG} ${EDGE_TAG} ${PROMETHEUS_TAG} (base ${base}), total $(awk -v a="$script_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }')"
