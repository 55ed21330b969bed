#!/usr/bin/env bash
# The test command: images, formatting, lints, then every test (unit, snapshot, and
# integration tests against real containers with real faults).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-docker.sh
bash compose/build-images.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
