#!/usr/bin/env bash
# Benchmarks chaosgate's load generator against oha and wrk on one local HTTP server.
#
#   bench/loadgen.sh [--duration 10s] [--connections 50] [--open-rate 5000]
#                    [--rss-minutes 0] [--rss-rate 2000] [--no-pin]
#
# 1. Closed mode (max rps): chaosgate --closed, oha and wrk, same connections and
#    duration, one after the other; prints each one's rps and chaosgate's ratio to each.
# 2. Open mode at --open-rate req/s: achieved-rate error and CPU use of chaosgate.
# 3. With --rss-minutes N (N > 0): open mode at --rss-rate for N minutes, RSS at the
#    start and at the end (bounded memory check). Run the long form once, not in loops.
#
# With 2+ CPUs the server gets the last CPU and the load tool the others (taskset), so
# every tool competes with the server the same way. Numbers on a shared machine are
# noisy: note the load average printed at the start.
set -euo pipefail

DURATION=10s
CONNECTIONS=50
OPEN_RATE=5000
RSS_MINUTES=0
RSS_RATE=2000
PIN=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --open-rate) OPEN_RATE="$2"; shift 2 ;;
    --rss-minutes) RSS_MINUTES="$2"; shift 2 ;;
    --rss-rate) RSS_RATE="$2"; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
for tool in wrk jq taskset /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 3; }
done
if ! command -v oha >/dev/null; then
  echo "oha not found: installing it (cargo install oha)" >&2
  cargo install oha --locked
fi

echo "== building (release)"
cargo build --release -q -p chaosgate --bin chaosgate
cargo build --release -q -p chaosgate-load --example bench_server
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)"
CHAOSGATE="$TARGET_DIR/release/chaosgate"
SERVER="$TARGET_DIR/release/examples/bench_server"

CPUS=$(nproc)
if [[ $PIN == 1 && $CPUS -ge 2 ]]; then
  SERVER_CPUS="$((CPUS - 1))"
  TOOL_CPUS="0-$((CPUS - 2))"
  SERVER_THREADS=1
  TOOL_THREADS=$((CPUS - 1))
  on_server() { taskset -c "$SERVER_CPUS" "$@"; }
  on_tool() { taskset -c "$TOOL_CPUS" "$@"; }
else
  SERVER_THREADS=$CPUS
  TOOL_THREADS=$CPUS
  on_server() { "$@"; }
  on_tool() { "$@"; }
fi

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

on_server "$SERVER" 0 "$SERVER_THREADS" >"$WORK/server.out" &
SERVER_PID=$!
for _ in $(seq 1 50); do
  grep -q listening "$WORK/server.out" 2>/dev/null && break
  sleep 0.1
done
ADDR="$(awk '/listening on/ {print $3}' "$WORK/server.out")"
[[ -n "$ADDR" ]] || { echo "the bench server did not start" >&2; exit 3; }
URL="http://$ADDR/"
echo "== server $URL (pid $SERVER_PID); cpus $CPUS; pinned: $PIN; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== closed mode: $CONNECTIONS connections for $DURATION"
on_tool "$CHAOSGATE" load "$URL" --closed -c "$CONNECTIONS" -z "$DURATION" --json >"$WORK/chaosgate.json"
CG_RPS=$(jq '.throughput' "$WORK/chaosgate.json")
CG_ERR=$(jq '.scheduled - .ok' "$WORK/chaosgate.json")
sleep 1
on_tool oha -c "$CONNECTIONS" -z "$DURATION" --no-tui --output-format json "$URL" >"$WORK/oha.json"
OHA_RPS=$(jq '.summary.requestsPerSec' "$WORK/oha.json")
sleep 1
on_tool wrk -t "$TOOL_THREADS" -c "$CONNECTIONS" -d "$DURATION" "$URL" >"$WORK/wrk.txt"
WRK_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.txt")

printf '  %-10s %12.0f req/s  (%s not 2xx)\n' chaosgate "$CG_RPS" "$CG_ERR"
printf '  %-10s %12.0f req/s\n' oha "$OHA_RPS"
printf '  %-10s %12.0f req/s\n' wrk "$WRK_RPS"
awk -v c="$CG_RPS" -v o="$OHA_RPS" -v w="$WRK_RPS" \
  'BEGIN { printf "  chaosgate/oha = %.2fx (target >= 1.0)   chaosgate/wrk = %.2fx (target >= 0.8)\n", c/o, c/w }'

echo "== open mode: $OPEN_RATE req/s for $DURATION"
on_tool /usr/bin/time -v -o "$WORK/open.time" \
  "$CHAOSGATE" load "$URL" --rate "$OPEN_RATE/s" -z "$DURATION" --json >"$WORK/open.json"
jq -r --argjson rate "$OPEN_RATE" '
  "  achieved \(.achieved_rate | . * 10 | round / 10) req/s: error \(((.achieved_rate - $rate) / $rate * 100) | . * 1000 | round / 1000) %",
  "  \(.ok) ok of \(.scheduled) scheduled; latency p50 \(.latency.p50_us) us, p99 \(.latency.p99_us) us, max \(.latency.max_us) us",
  "  service time p50 \(.service_latency.p50_us) us, p99 \(.service_latency.p99_us) us"' "$WORK/open.json"
awk -F': ' '
  /User time/ {u=$2} /System time/ {s=$2} /Elapsed \(wall clock\)/ {e=$2} /Maximum resident/ {r=$2}
  END {
    n = split(e, p, ":"); secs = 0; for (i = 1; i <= n; i++) secs = secs * 60 + p[i];
    printf "  CPU: user %.2f s + sys %.2f s over %.2f s wall = %.1f %% of one core; max RSS %d KiB\n", u, s, secs, 100 * (u + s) / secs, r
  }' "$WORK/open.time"

if [[ "$RSS_MINUTES" != 0 ]]; then
  echo "== long run: $RSS_RATE req/s for $RSS_MINUTES min (RSS at start and end)"
  on_tool "$CHAOSGATE" load "$URL" --rate "$RSS_RATE/s" -z "${RSS_MINUTES}m" --json >"$WORK/long.json" &
  LOAD_PID=$!
  rss() { awk '/VmRSS/ {print $2}' "/proc/$LOAD_PID/status" 2>/dev/null || echo 0; }
  sleep 10
  RSS_START=$(rss)
  TOTAL_S=$((RSS_MINUTES * 60))
  sleep $((TOTAL_S - 15))
  RSS_END=$(rss)
  wait "$LOAD_PID" || true
  echo "  RSS after 10 s: ${RSS_START} KiB; RSS 5 s before the end: ${RSS_END} KiB"
  jq -r '"  achieved \(.achieved_rate) req/s, \(.ok) ok of \(.scheduled), p99 \(.latency.p99_us) us, series of \(.series | length) s"' "$WORK/long.json"
fi
