#!/usr/bin/env bash
# The test command: images, formatting, lints, then every test (unit, snapshot, and
# integration tests against real containers with real faults), then the Kubernetes tests on
# the local cluster of scripts/local-kube.sh (built once into a cache outside the repository;
# brought up for them and always torn down, unless it was already up).
# CHAOSGATE_SKIP_KUBE=1 leaves the Kubernetes part out (hosts where a 1.20 kubelet cannot run,
# e.g. cgroup-v2-only GitHub runners: .github/workflows/kind.yml covers Kubernetes there).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each stage's end, in seconds since the start: where a slow CI spends its time.
started=$SECONDS
stage() { echo "test.sh: [$((SECONDS - started)) s] $*" >&2; }
bash scripts/ensure-docker.sh

skip_kube=${CHAOSGATE_SKIP_KUBE:-0}
kube_log=$(mktemp /tmp/chaosgate-kube-build.XXXXXX)
# The local Kubernetes build (Go, ~650 s of two cores cold; cached 0.1 s) is needed only at the
# end. Started with the Rust build it slowed it (cold: 1105 s at equal priority, 826 s at nice
# 19, ~600 s without it). It starts once the Rust build is done and the serial tests that time
# themselves without containers have run, in the idle scheduling class: it gets only the CPU
# the Docker tests leave (a run uses about 0.65 of 2 cores) and yields at once when they want it.
start_kube_build() {
  if [[ $skip_kube != 1 && -z ${kube_build:-} ]]; then
    setsid chrt --idle 0 nice -n 19 bash scripts/local-kube.sh build >"$kube_log" 2>&1 &
    kube_build=$!
  fi
}
# The images but the trading one (cold: debootstrap and apt downloads) overlap the compile; the
# trading image takes the `trading` binary the test build makes (below), instead of a release
# build that compiled every dependency of the fixtures a second time (557 s on a cold CI).
images_log=$(mktemp /tmp/chaosgate-images.XXXXXX)
setsid bash compose/build-images.sh --no-trading >"$images_log" 2>&1 &
images_build=$!
# A failure below must not leave the builds running (each is its own process group).
stop_builds() {
  local pid
  for pid in ${kube_build:-} ${images_build:-}; do
    kill -- "-$pid" 2>/dev/null || true
  done
}
trap stop_builds EXIT

# The tiers are test binaries (.config/nextest.toml): the Docker ones (chaosgate's `docker`,
# trading-fixtures' `stack`) are built only with their crate's `docker-tests` feature. Every
# cargo command here builds with all features, so each is built once and linted too.
cargo fmt --all -- --check
# The lints of `cargo clippy --workspace --all-targets --all-features -- -D warnings`, given
# while every target is built for the tests: clippy-driver is the workspace crates' compiler
# (as `cargo clippy` makes it, here with code generation), so the dependencies are compiled once
# instead of once for the lints (check mode) and once for the tests (a cold CI measured 655 s
# for fmt + clippy, then 462 s for the test build). Exported, so every cargo command below
# finds these same artifacts up to date.
export RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
CLIPPY_ARGS="-Dwarnings__CLIPPY_HACKERY__"
if [[ ! -x $RUSTC_WORKSPACE_WRAPPER ]]; then
  echo "test.sh: clippy is not installed for this toolchain: rustup component add clippy" >&2
  exit 1
fi
cargo test --workspace --all-features --all-targets --no-run
stage "formatting, build and lints"
# The fast tier (no container, no Docker needed) first: a broken verdict, parser or report
# fails here in minutes, before the images are built (profile `fast`).
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-features --profile fast "$@"
  stage "fast tier"
fi
if ! wait "$images_build"; then
  cat "$images_log" >&2
  echo "test.sh: building the images failed (log above)" >&2
  exit 1
fi
images_build=
grep -E '^build-images: ' "$images_log" >&2 || true
CHAOSGATE_TRADING_BINARY="${CARGO_TARGET_DIR:-target}/debug/trading" bash compose/build-images.sh
stage "images"
rm -f "$images_log"

# Then the serial tier (test group `serial`: containers, network namespaces, timed load), one
# test at a time; the harness's Kubernetes tests (module run_kube of the `docker` binary) wait
# for the cluster below.
kube_tests='binary_id(chaosgate::docker) and test(/^run_kube::/)'
# The serial tests that start no container and assert timing to the millisecond (rate within
# 1 %, added latency) run first, before anything shares the machine with them.
timed='binary_id(chaosgate-proxy::netns) | binary_id(chaosgate-proxy::toxics) | (package(chaosgate-load) & kind(test))'
# The Docker tests that must have the machine to themselves: timing asserted to tens of
# milliseconds (accuracy, faults firing on time, added latency and delay, bandwidth, alert
# detection), CPU burnt on purpose (resources), a compose process inside the measured window
# (rollout), A/B comparisons of two runs, and the fixtures' own failover timing.
docker_alone='binary_id(trading-fixtures::stack) | (binary_id(chaosgate::docker) & test(/^(run_accuracy|run_lifecycle|run_network_faults|run_network|run_l7|run_alerts|run_resources|run_rollout|run_ab)::/))'
# The Kubernetes tests that must too: alert detection timed in the cluster, CPU burnt in a pod.
kube_alone='binary_id(chaosgate::docker) & test(/^run_kube::(alert_detection|resource_stress)/)'
# The rest are verdicts with wide margins (the good build passes, the bad one fails on the
# SLO it breaks): the Docker ones and the Kubernetes ones run side by side, one test each at
# a time. Two runs at once measured: harness lag p99 8.6 and 6.9 ms, p95 7.8-10.4 ms (alone:
# 1.7-7.6 ms, 5-9 ms), far inside the 50 ms at which a run is inconclusive.
docker_shared="group(serial) and not ($timed) and not ($docker_alone) and not ($kube_tests)"
kube_shared="($kube_tests) and not ($kube_alone)"

started_kube=0
kube_tests_pid=
# Torn down on any exit, Ctrl-C and SIGTERM included (`exit` runs the EXIT trap); set before
# `up` so that a signal during it leaves nothing either (`down` is idempotent).
cleanup() {
  stop_builds
  if [[ -n $kube_tests_pid ]]; then kill -- "-$kube_tests_pid" 2>/dev/null || true; fi
  if [[ $started_kube == 1 ]]; then bash scripts/local-kube.sh down >&2 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits for the Kubernetes build and brings the local cluster up (or uses the one already up);
# exports what the Kubernetes tests read.
kube_ready() {
  start_kube_build
  if ! wait "$kube_build"; then
    cat "$kube_log" >&2
    echo "test.sh: building the local Kubernetes failed (log above)" >&2
    exit 1
  fi
  kube_build=
  rm -f "$kube_log"
  stage "Kubernetes build"
  if kubeconfig=$(bash scripts/local-kube.sh status 2>/dev/null | sed -n 's/^kubeconfig: //p') && [[ -n $kubeconfig ]]; then
    echo "test.sh: using the local Kubernetes that is already up" >&2
  else
    started_kube=1
    kubeconfig=$(bash scripts/local-kube.sh up)
  fi
  export KUBECONFIG=$kubeconfig CHAOSGATE_KUBE_TESTS=1
  stage "Kubernetes up"
}

status=0
if cargo nextest --version >/dev/null 2>&1; then
  nextest() { cargo nextest run --workspace --all-features --no-fail-fast "$@"; }
  nextest -E "group(serial) and ($timed)" "$@" || status=$?
  stage "serial tier: without containers (status $status)"
  start_kube_build
  nextest -E "group(serial) and ($docker_alone)" "$@" || status=$?
  stage "serial tier: Docker tests alone (status $status)"
  if [[ $skip_kube == 1 ]]; then
    nextest -E "$docker_shared" "$@" || status=$?
    stage "serial tier: the other Docker tests (status $status)"
    echo "test.sh: CHAOSGATE_SKIP_KUBE=1: the Kubernetes tests were not run" >&2
    rm -f "$kube_log"
    exit "$status"
  fi
  kube_ready
  kube_out=$(mktemp /tmp/chaosgate-kube-tests.XXXXXX)
  setsid bash -c 'cargo nextest run --workspace --all-features --no-fail-fast "$@" >"$0" 2>&1; echo $? >>"$0.status"' \
    "$kube_out" -E "$kube_shared" "$@" &
  kube_tests_pid=$!
  nextest -E "$docker_shared" "$@" || status=$?
  stage "serial tier: the other Docker tests, beside the Kubernetes ones (status $status)"
  wait "$kube_tests_pid" || true
  kube_tests_pid=
  cat "$kube_out" >&2
  kube_status=$(cat "$kube_out.status" 2>/dev/null || echo 1)
  rm -f "$kube_out" "$kube_out.status"
  if [[ $kube_status != 0 ]]; then status=$kube_status; fi
  stage "Kubernetes tests beside the Docker ones (status $kube_status)"
  nextest -E "$kube_alone" "$@" || status=$?
  stage "Kubernetes tests alone (status $status)"
  exit "$status"
fi

# Without nextest, the same tiers by test target: the fast ones in parallel threads, then the
# serial ones one test at a time (libtest would run them in parallel threads). Every
# integration-test target is in one of the lists below: a new one must be placed in a tier,
# never left out silently.
unplaced=$(cargo metadata --format-version 1 --no-deps | python3 -c '
import json, sys
known = {"integration", "in_process", "docker", "stack", "netns", "toxics",
         "open_model", "closed_model", "errors"}
for p in json.load(sys.stdin)["packages"]:
    for t in p["targets"]:
        if "test" in t["kind"] and t["name"] not in known:
            print(p["name"] + "::" + t["name"])')
if [[ -n $unplaced ]]; then
  echo "test.sh: test targets in neither tier (add them to scripts/test.sh): $unplaced" >&2
  exit 1
fi
cargo test --workspace --all-features --no-fail-fast --lib --bins \
  --test integration --test in_process "$@" || status=$?
stage "fast tier (status $status)"
RUST_TEST_THREADS=1 cargo test --workspace --all-features --no-fail-fast \
  --test docker --test stack --test netns --test toxics \
  --test open_model --test closed_model --test errors "$@" || status=$?
stage "serial tier (status $status)"
if [[ $skip_kube == 1 ]]; then
  echo "test.sh: CHAOSGATE_SKIP_KUBE=1: the Kubernetes tests were not run" >&2
  rm -f "$kube_log"
  exit "$status"
fi
kube_ready
RUST_TEST_THREADS=1 cargo test -p chaosgate --features docker-tests --no-fail-fast --test docker run_kube:: "$@" || status=$?
stage "Kubernetes tests (status $status)"
exit "$status"
