#!/usr/bin/env bash
# Benchmarks chaosgate's load generator against oha and wrk on one local HTTP server.
#
#   bench/loadgen.sh [--duration 10s] [--connections 50] [--rounds 2] [--open-rate 5000]
#                    [--rss-minutes 0] [--rss-rate 2000] [--no-pin] [--skip-closed] [--tls]
#   (--rss-minutes: whole minutes, at least 1 to run the long check)
#
# 1. Closed mode (max rps): chaosgate --closed, oha and wrk, same connections and
#    duration, taking turns for --rounds rounds (so a burst of load from elsewhere on the
#    machine does not hit one tool only); prints each one's best rps and chaosgate's
#    ratio to each, and requests per CPU-second of each tool (steadier under noise).
# 2. Open mode at --open-rate req/s: achieved-rate error and CPU use of chaosgate.
# 3. With --rss-minutes N (N > 0): open mode at --rss-rate for N minutes, RSS at the
#    start and at the end (bounded memory check). Run the long form once, not in loops.
#
# --tls: the same over HTTPS (a self-signed certificate made here; HTTP/1.1 by ALPN, so every
# tool speaks the same protocol; certificates not verified by any tool: -k / --insecure).
#
# With 2+ CPUs the server gets the last CPU and the load tool the others (taskset), so
# every tool competes with the server the same way. Numbers on a shared machine are
# noisy: note the load average printed at the start.
set -euo pipefail

DURATION=10s
CONNECTIONS=50
ROUNDS=2
OPEN_RATE=5000
RSS_MINUTES=0
RSS_RATE=2000
PIN=1
SKIP_CLOSED=0
TLS=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --open-rate) OPEN_RATE="$2"; shift 2 ;;
    --rss-minutes) RSS_MINUTES="$2"; shift 2 ;;
    --rss-rate) RSS_RATE="$2"; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    --skip-closed) SKIP_CLOSED=1; shift ;;
    --tls) TLS=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
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
# Command prefixes rather than shell functions, so that `$!` is the server's own pid.
if [[ $PIN == 1 && $CPUS -ge 2 ]]; then
  SERVER_THREADS=1
  TOOL_THREADS=$((CPUS - 1))
  ON_SERVER=(taskset -c "$((CPUS - 1))")
  ON_TOOL=(taskset -c "0-$((CPUS - 2))")
else
  SERVER_THREADS=$CPUS
  TOOL_THREADS=$CPUS
  ON_SERVER=()
  ON_TOOL=()
fi

WORK="$(mktemp -d)"
SERVER_PID=""
LOAD_PID=""
cleanup() {
  for pid in "$LOAD_PID" "$SERVER_PID"; do
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SERVER_TLS=()
CG_TLS=()
OHA_TLS=()
SCHEME=http
if [[ $TLS == 1 ]]; then
  command -v openssl >/dev/null || { echo "missing openssl" >&2; exit 3; }
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
  SERVER_TLS=("$WORK/cert.pem" "$WORK/key.pem")
  CG_TLS=(--insecure)
  OHA_TLS=(--insecure)
  SCHEME=https
fi
"${ON_SERVER[@]}" "$SERVER" 0 "$SERVER_THREADS" "${SERVER_TLS[@]}" >"$WORK/server.out" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 50); do
  grep -q listening "$WORK/server.out" 2>/dev/null && break
  sleep 0.1
done
ADDR="$(awk '/listening on/ {print $3}' "$WORK/server.out")"
[[ -n "$ADDR" ]] || { echo "the bench server did not start" >&2; exit 3; }
URL="$SCHEME://$ADDR/"
echo "== server $URL (pid $SERVER_PID); cpus $CPUS; pinned: $PIN; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ $SKIP_CLOSED == 0 ]]; then
echo "== closed mode: $CONNECTIONS connections for $DURATION, $ROUNDS rounds"
best() { sort -g | tail -1; }
# CPU seconds (user + sys) a command used, from /usr/bin/time's "%U %S".
cpu_of() { awk '{ print $1 + $2 }' "$1"; }
for round in $(seq 1 "$ROUNDS"); do
  "${ON_TOOL[@]}" /usr/bin/time -f '%U %S' -o "$WORK/cg.time" \
    "$CHAOSGATE" load "$URL" "${CG_TLS[@]}" --closed -c "$CONNECTIONS" -z "$DURATION" --json \
    >"$WORK/chaosgate.json" 2>/dev/null
  jq '.throughput' "$WORK/chaosgate.json" >>"$WORK/chaosgate.rps"
  jq '.scheduled - .ok' "$WORK/chaosgate.json" >>"$WORK/chaosgate.failed"
  echo "$(cpu_of "$WORK/cg.time") $(jq '.responses' "$WORK/chaosgate.json")" >>"$WORK/chaosgate.cpu"
  sleep 1
  "${ON_TOOL[@]}" /usr/bin/time -f '%U %S' -o "$WORK/oha.time" \
    oha "${OHA_TLS[@]}" -c "$CONNECTIONS" -z "$DURATION" --no-tui --output-format json "$URL" \
    >"$WORK/oha.json"
  jq '.summary.requestsPerSec' "$WORK/oha.json" >>"$WORK/oha.rps"
  echo "$(cpu_of "$WORK/oha.time") $(jq '[.statusCodeDistribution[]] | add' "$WORK/oha.json")" >>"$WORK/oha.cpu"
  sleep 1
  "${ON_TOOL[@]}" /usr/bin/time -f '%U %S' -o "$WORK/wrk.time" \
    wrk -t "$TOOL_THREADS" -c "$CONNECTIONS" -d "$DURATION" "$URL" >"$WORK/wrk.txt"
  awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.txt" >>"$WORK/wrk.rps"
  echo "$(cpu_of "$WORK/wrk.time") $(awk '/requests in/ {print $1}' "$WORK/wrk.txt")" >>"$WORK/wrk.cpu"
  sleep 1
  printf '  round %s: chaosgate %.0f, oha %.0f, wrk %.0f req/s\n' "$round" \
    "$(tail -1 "$WORK/chaosgate.rps")" "$(tail -1 "$WORK/oha.rps")" "$(tail -1 "$WORK/wrk.rps")"
done
CG_RPS=$(best <"$WORK/chaosgate.rps")
OHA_RPS=$(best <"$WORK/oha.rps")
WRK_RPS=$(best <"$WORK/wrk.rps")
CG_FAILED=$(awk '{ n += $1 } END { print n }' "$WORK/chaosgate.failed")

printf '  best of %s:\n' "$ROUNDS"
printf '  %-10s %12.0f req/s  (%s requests not 2xx)\n' chaosgate "$CG_RPS" "$CG_FAILED"
printf '  %-10s %12.0f req/s\n' oha "$OHA_RPS"
printf '  %-10s %12.0f req/s\n' wrk "$WRK_RPS"
awk -v c="$CG_RPS" -v o="$OHA_RPS" -v w="$WRK_RPS" \
  'BEGIN { printf "  chaosgate/oha = %.2fx (target >= 1.0)   chaosgate/wrk = %.2fx (target >= 0.8)\n", c/o, c/w }'
# Requests per second of CPU each tool spent, over all rounds: the tool's own efficiency,
# much steadier than max rps on a shared machine (where a round's rps swings by 20 %).
per_cpu() { awk '{ cpu += $1; n += $2 } END { if (cpu > 0) printf "%.0f", n / cpu; else print 0 }' "$1"; }
CG_EFF=$(per_cpu "$WORK/chaosgate.cpu")
OHA_EFF=$(per_cpu "$WORK/oha.cpu")
WRK_EFF=$(per_cpu "$WORK/wrk.cpu")
printf '  requests per CPU-second (user + sys, all rounds): chaosgate %s, oha %s, wrk %s\n' \
  "$CG_EFF" "$OHA_EFF" "$WRK_EFF"
awk -v c="$CG_EFF" -v o="$OHA_EFF" -v w="$WRK_EFF" \
  'BEGIN { if (o > 0 && w > 0) printf "  per CPU: chaosgate/oha = %.2fx   chaosgate/wrk = %.2fx\n", c/o, c/w }'
fi

echo "== open mode: $OPEN_RATE req/s for $DURATION"
"${ON_TOOL[@]}" /usr/bin/time -v -o "$WORK/open.time" \
  "$CHAOSGATE" load "$URL" "${CG_TLS[@]}" --rate "$OPEN_RATE/s" -z "$DURATION" --json \
  >"$WORK/open.json" 2>/dev/null
jq -r --argjson rate "$OPEN_RATE" '
  "  achieved \(.achieved_rate | . * 10 | round / 10) req/s: error \(((.achieved_rate - $rate) / $rate * 100) | . * 1000 | round / 1000) %",
  "  \(.ok) ok of \(.scheduled) scheduled; latency p50 \(.latency.p50_us) us, p99 \(.latency.p99_us) us, max \(.latency.max_us) us",
  "  service time p50 \(.service_latency.p50_us) us, p99 \(.service_latency.p99_us) us",
  "  errors: \(.error_counts | to_entries | map(select(.value > 0) | "\(.key) \(.value)") | join(", ") | if . == "" then "none" else . end)"' "$WORK/open.json"
awk -F': ' '
  /User time/ {u=$2} /System time/ {s=$2} /Elapsed \(wall clock\)/ {e=$2} /Maximum resident/ {r=$2}
  END {
    n = split(e, p, ":"); secs = 0; for (i = 1; i <= n; i++) secs = secs * 60 + p[i];
    printf "  CPU: user %.2f s + sys %.2f s over %.2f s wall = %.1f %% of one core; max RSS %d KiB\n", u, s, secs, 100 * (u + s) / secs, r
  }' "$WORK/open.time"

if [[ "$RSS_MINUTES" =~ ^[1-9][0-9]*$ ]]; then
  echo "== long run: $RSS_RATE req/s for $RSS_MINUTES min (RSS at start and end)"
  "${ON_TOOL[@]}" "$CHAOSGATE" load "$URL" --rate "$RSS_RATE/s" -z "${RSS_MINUTES}m" --json >"$WORK/long.json" &
  LOAD_PID=$!
  rss() { awk '/VmRSS/ {print $2}' "/proc/$LOAD_PID/status" 2>/dev/null || echo 0; }
  # A sample every minute (the first after 10 s, the last 5 s before the end), to tell a
  # plateau from a leak.
  sleep 10
  RSS_START=$(rss)
  SAMPLES="$RSS_START"
  for _ in $(seq 2 "$RSS_MINUTES"); do
    sleep 60
    SAMPLES="$SAMPLES $(rss)"
  done
  sleep 45
  RSS_END=$(rss)
  SAMPLES="$SAMPLES $RSS_END"
  wait "$LOAD_PID" || true
  LOAD_PID=""
  echo "  RSS (KiB) each minute: $SAMPLES"
  echo "  RSS after 10 s: ${RSS_START} KiB; RSS 5 s before the end: ${RSS_END} KiB"
  jq -r '"  achieved \(.achieved_rate) req/s, \(.ok) ok of \(.scheduled), p99 \(.latency.p99_us) us, series of \(.series | length) s",
    "  errors: \(.error_counts | to_entries | map(select(.value > 0) | "\(.key) \(.value)") | join(", ") | if . == "" then "none" else . end)"' "$WORK/long.json"
fi
