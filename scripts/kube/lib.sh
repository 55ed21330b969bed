# shellcheck shell=bash
# Shell helpers shared by deploy/kubernetes/check.sh and scripts/kube/smoke.sh: logging with the
# caller's tag, timing, the preconditions both check, up/down of the local cluster with their
# times, and the polls both make (pods Ready, Service endpoints, a first answer from a URL).
# Sourced, never run:
#
#   LOG_TAG=check
#   source "$HERE/../../scripts/kube/lib.sh"
#
# Written for callers under `set -euo pipefail`. Globals: LK (scripts/local-kube.sh), failed
# (set to 1 by `fail`; the caller starts it at 0), KUBECONFIG (exported by `kube_up`).

LK="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/local-kube.sh"

# A line on stderr: "[TAG HH:MM:SS] message".
say() { printf '[%s %s] %s\n' "${LOG_TAG:-kube}" "$(date -u +%H:%M:%S)" "$*" >&2; }
# A failed check: logged, and the run goes on (the verdict is taken at the end, `exit_verdict`).
fail() {
  say "FAIL: $*"
  failed=1
}
now() { date +%s.%N; }
# Seconds since a `now` value, two decimals.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# Exit 2 (could not run) unless root.
require_root() {
  [[ $(id -u) -eq 0 ]] || {
    say "must run as root"
    exit 2
  }
}
# Exit 2 (could not run) unless every image is in Docker's store (nothing can be pulled here).
require_images() {
  local image
  for image in "$@"; do
    docker image inspect "$image" >/dev/null 2>&1 || {
      say "no image $image: run compose/build-images.sh"
      exit 2
    }
  done
}

# `local-kube.sh up`, timed; exports KUBECONFIG.
kube_up() {
  local t
  t=$(now)
  KUBECONFIG=$(bash "$LK" up)
  export KUBECONFIG
  say "up: $(since "$t") s (kubeconfig $KUBECONFIG)"
}
# `local-kube.sh down`, timed (for teardown traps: its failure is not fatal to the caller).
kube_down() {
  local t
  t=$(now)
  bash "$LK" down
  say "down: $(since "$t") s"
}

# The number of pods in namespace $1 matching selector $2 (empty: all) that are Ready and not
# being deleted, leaving out the pod named $3 if given. Pods of this 1.20 kubelet stay
# Terminating in the API for 10-70 s after their containers stopped, so `kubectl wait` (which
# waits on them too) is no use after a deletion.
ready_pods() {
  kubectl -n "$1" get pods ${2:+-l "$2"} -o json 2>/dev/null | jq -r --arg v "${3:-}" '[.items[] |
    select(.metadata.name != $v and .metadata.deletionTimestamp == null) |
    select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length'
}
# Waits until `ready_pods $1 $2 $4` >= $3, polling every 0.1 s, at most $5 polls (default 600,
# about 60 s plus the kubectl calls). Returns 1 on timeout.
wait_pods_ready() {
  local ready
  for _ in $(seq 1 "${5:-600}"); do
    ready=$(ready_pods "$1" "$2" "${4:-}")
    [[ $ready -ge $3 ]] && return 0
    sleep 0.1
  done
  return 1
}

# Prints the number of ready addresses of Service $2 in namespace $1 once it is $3, or the last
# count after 150 polls (~15 s): kube-proxy programs endpoints a moment after a Deployment reads
# Available.
wait_endpoints() {
  local n=0
  for _ in $(seq 1 150); do
    n=$(kubectl -n "$1" get endpoints "$2" -o json | jq '[.subsets[]?.addresses[]?] | length')
    [[ $n -eq $3 ]] && break
    sleep 0.1
  done
  printf '%s\n' "$n"
}

# Prints the first non-empty body of a successful GET of $1 (curl -f, 2 s each), tried every
# 0.1 s, at most $2 times (default 50); nothing if none came.
first_body() {
  local body=""
  for _ in $(seq 1 "${2:-50}"); do
    body=$(curl -sf --max-time 2 "$1" || true)
    [[ -n $body ]] && break
    sleep 0.1
  done
  printf '%s' "$body"
}

# The end of a teardown trap: exit 1 if a check failed, else 0, saying which.
exit_verdict() {
  if [[ ${failed:-0} -ne 0 ]]; then
    say "${LOG_TAG:-kube}: FAILED"
    exit 1
  fi
  say "${LOG_TAG:-kube}: passed"
  exit 0
}
