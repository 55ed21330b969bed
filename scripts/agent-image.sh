#!/usr/bin/env bash
# Builds the node agent's image: the chaosgate binary on the reference stack's base image, with
# no container registry. A scenario with `stack.kubernetes.agent` runs it as a DaemonSet.
#
#   scripts/agent-image.sh                  the release binary (built if missing)
#   scripts/agent-image.sh --binary PATH    this chaosgate binary instead
#   scripts/agent-image.sh --tag TAG        tag (default chaosgate/agent:<version>)
#
# Prints the tag on stdout. Idempotent: the image carries a hash of its inputs (Dockerfile,
# binary, base image id) and is not rebuilt while they match. The local cluster
# (scripts/local-kube.sh) runs on this Docker, so the image is on its node at once; on kind,
# load it: `kind load docker-image TAG`; elsewhere, push it where the nodes pull from and name
# it in the scenario (`agent: { image: ... }`).
set -euo pipefail

repo_dir="$(cd "$(dirname "$0")/.." && pwd)"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo_dir/Cargo.toml" | head -1)"
tag="chaosgate/agent:${version}"
binary=""
readonly HASH_LABEL="org.chaosgate.inputs-hash"

while [ $# -gt 0 ]; do
  case "$1" in
    --binary|--tag)
      [ $# -ge 2 ] && [ -n "$2" ] || { echo "agent-image: $1 needs a value" >&2; exit 2; }
      if [ "$1" = --binary ]; then binary="$2"; else tag="$2"; fi
      shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "agent-image: unknown argument: $1" >&2; exit 2 ;;
  esac
done

log() { echo "agent-image: $*" >&2; }
die() { echo "agent-image: error: $*" >&2; exit 1; }

unset DOCKER_BUILDKIT
docker info >/dev/null 2>&1 || die "Docker does not answer (is dockerd running?)"

if [ -z "$binary" ]; then
  binary="$repo_dir/target/release/chaosgate"
  if [ ! -x "$binary" ]; then
    log "building the release binary (cargo build --release --bin chaosgate)"
    (cd "$repo_dir" && cargo build --release --quiet -p chaosgate --bin chaosgate)
  fi
fi
[ -x "$binary" ] || die "no chaosgate binary at $binary"

base="$(bash "$repo_dir/compose/build-images.sh" --base-only 2>&1 | sed -n 's/.*base image ready: //p' | tail -1)"
[ -n "$base" ] || die "compose/build-images.sh --base-only named no base image"

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "$repo_dir/deploy/agent/Dockerfile" "$context/Dockerfile"
cp "$binary" "$context/chaosgate"

hash="$( { sha256sum "$context/Dockerfile" "$context/chaosgate" | cut -d' ' -f1;
           docker image inspect -f '{{.Id}}' "$base"; } | sha256sum | cut -c1-16)"
if [ "$(docker image inspect -f "{{index .Config.Labels \"${HASH_LABEL}\"}}" "$tag" 2>/dev/null || true)" = "$hash" ]; then
  log "$tag is up to date"
  echo "$tag"
  exit 0
fi
log "building $tag on $base"
docker build -q --build-arg "BASE=${base}" --label "${HASH_LABEL}=${hash}" -t "$tag" "$context" >/dev/null
echo "$tag"
