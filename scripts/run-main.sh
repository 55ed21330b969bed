#!/usr/bin/env bash
# The main job: build what is needed, then run the bundled replica-crash scenario against the
# bundled reference stack. Extra arguments go to `chaosgate run` (e.g. --seed 7 --keep).
# Exits with chaosgate's exit code (0 pass, 1 SLO breached, 2 bad input, 3 infrastructure,
# 4 inconclusive).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-docker.sh
bash compose/build-images.sh
cargo build --release -p chaosgate
exec target/release/chaosgate run scenarios/replica-crash.yaml "$@"
