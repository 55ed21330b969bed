#!/usr/bin/env bash
# Round trip of the reference stack on the local Kubernetes (scripts/local-kube.sh):
# up → a fresh namespace → apply deploy/kubernetes/*.yaml in order → wait for every Deployment
# Available and every pod Ready (timed) → GET /quote and POST+GET /orders through the gateway's
# NodePort on 127.0.0.1 → delete marketdata-a's pod under a request loop (quotes must keep
# flowing: failover) → delete a gateway pod under a request loop (errors counted) → delete the
# namespace → down, always (trap).
#
#   deploy/kubernetes/check.sh      exit 0 all good, 1 a check failed, 2 could not run
#
# Needs root, Docker, kubectl and the images of compose/build-images.sh. Refuses to run (exit 2)
# when the local cluster is already up: it belongs to someone else and `down` would end it.
# CHAOSGATE_CHECK_MAX_ERRORS (default 0): gateway-pod-delete errors tolerated.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LK="$HERE/../../scripts/local-kube.sh"
NS=chaosgate-check-$$-$(date +%s)
MAX_ERRORS=${CHAOSGATE_CHECK_MAX_ERRORS:-0}
WORK=$(mktemp -d)
failed=0
started=0

say() { printf '[check %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
fail() {
  say "FAIL: $*"
  failed=1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

[[ $(id -u) -eq 0 ]] || {
  say "must run as root"
  exit 2
}
for image in chaosgate/trading:0.1.0 chaosgate/postgres:15-0.1.0 chaosgate/redis:7-0.1.0; do
  docker image inspect "$image" >/dev/null 2>&1 || {
    say "no image $image: run compose/build-images.sh"
    exit 2
  }
done
if bash "$LK" status >/dev/null 2>&1; then
  say "the local cluster is already up (someone else's): not touching it"
  exit 2
fi

# shellcheck disable=SC2317 # run by the EXIT trap
teardown() {
  local rc=$? t
  set +e
  # the request loops, if a failure left one running
  jobs -p | xargs -r kill 2>/dev/null
  wait 2>/dev/null
  if [[ $started -eq 1 ]]; then
    t=$(now)
    kubectl delete namespace "$NS" --wait=true --timeout=90s >/dev/null 2>&1 ||
      fail "namespace $NS not deleted within 90 s"
    say "namespace deleted in $(since "$t") s"
  fi
  t=$(now)
  bash "$LK" down
  say "down: $(since "$t") s"
  if docker ps -a --format '{{.Names}}' | grep -q '^k8s_'; then
    fail "k8s_ containers left after down"
  fi
  rm -rf "$WORK"
  if [[ $rc -ne 0 && $rc -ne 1 ]]; then exit "$rc"; fi
  if [[ $failed -ne 0 ]]; then
    say "check: FAILED"
    exit 1
  fi
  say "check: passed"
  exit 0
}
trap teardown EXIT

bash "$LK" build >/dev/null
t=$(now)
KUBECONFIG=$(bash "$LK" up)
export KUBECONFIG
say "up: $(since "$t") s"

kubectl create namespace "$NS" >/dev/null
started=1
t=$(now)
kubectl -n "$NS" apply -f "$HERE" >/dev/null
if ! kubectl -n "$NS" wait --for=condition=Available deployment --all --timeout=180s >/dev/null; then
  fail "not every Deployment Available within 180 s"
  kubectl -n "$NS" get pods -o wide >&2
  exit 1
fi
available=$(since "$t")
kubectl -n "$NS" wait --for=condition=Ready pod --all --timeout=60s >/dev/null ||
  fail "not every pod Ready"
say "all Deployments Available $available s after apply, all pods Ready $(since "$t") s"
kubectl -n "$NS" get pods -o wide >&2

port=$(kubectl -n "$NS" get service gateway-nodeport -o jsonpath='{.spec.ports[0].nodePort}')
base=http://127.0.0.1:$port
# kube-proxy programs the endpoints a moment after Available: wait for both gateway endpoints
for _ in $(seq 1 150); do
  n=$(kubectl -n "$NS" get endpoints gateway-nodeport -o json |
    jq '[.subsets[]?.addresses[]?] | length')
  [[ $n -eq 2 ]] && break
  sleep 0.1
done
[[ $n -eq 2 ]] || fail "gateway-nodeport has $n ready endpoints, not 2"
body=""
for _ in $(seq 1 50); do
  body=$(curl -sf --max-time 2 "$base/quote?symbol=BTCUSD" || true)
  [[ -n $body ]] && break
  sleep 0.1
done
if [[ $(jq -r .symbol <<<"${body:-null}" 2>/dev/null) == BTCUSD ]]; then
  say "GET $base/quote?symbol=BTCUSD → $body"
else
  fail "no quote from $base (last body: ${body:-none})"
fi

id=check-$$-$RANDOM
order="{\"id\":\"$id\",\"symbol\":\"BTCUSD\",\"qty\":3,\"side\":\"buy\"}"
code=$(curl -s -o "$WORK/order" -w '%{http_code}' --max-time 5 -H 'content-type: application/json' \
  -d "$order" "$base/orders" || true)
[[ $code == 201 ]] && say "POST /orders → 201 $(<"$WORK/order")" || fail "POST /orders → $code $(cat "$WORK/order" 2>/dev/null)"
code=$(curl -s -o "$WORK/order" -w '%{http_code}' --max-time 5 -H 'content-type: application/json' \
  -d "$order" "$base/orders" || true)
[[ $code == 200 ]] && say "POST /orders again (same id) → 200" || fail "repeated POST /orders → $code"
code=$(curl -s -o "$WORK/order" -w '%{http_code}' --max-time 5 "$base/orders/$id" || true)
[[ $code == 200 ]] && say "GET /orders/$id → 200" || fail "GET /orders/$id → $code"

# Sequential requests for $2 seconds into file $1: one line per request, "<code> <body>".
loop() {
  local out=$1 until
  until=$(awk -v a="$(now)" -v d="$2" 'BEGIN { printf "%.3f", a + d }')
  while awk -v u="$until" -v n="$(now)" 'BEGIN { exit !(n < u) }'; do
    rm -f "$out.body"
    curl -s -o "$out.body" -w '%{http_code}' --max-time 2 "$base/quote?symbol=BTCUSD" >"$out.code" 2>/dev/null || true
    printf '%s %s\n' "$(<"$out.code")" "$(tr -d '\n' <"$out.body" 2>/dev/null)" >>"$out"
  done
}
summary() {
  local total ok sources
  total=$(wc -l <"$1")
  ok=$(grep -c '^200 ' "$1" || true)
  sources=$(grep '^200 ' "$1" | grep -o '"source":"[^"]*"' | sort | uniq -c | awk '{ printf "%s%s×%s", s, $1, $2; s = ", " }')
  printf '%s requests, %s not 200 (%s); 200 answers by source: %s' "$total" "$((total - ok))" \
    "$(grep -v '^200 ' "$1" | cut -d' ' -f1 | sort | uniq -c | awk '{ printf "%s%s×%s", s, $1, $2; s = " " }')" "$sources"
}

# marketdata-a's pod deleted: the gateway must fail over to marketdata-b, every quote a 200
victim=$(kubectl -n "$NS" get pods -l app.kubernetes.io/name=marketdata-a -o jsonpath='{.items[0].metadata.name}')
loop "$WORK/md" 12 &
sleep 2
t=$(now)
kubectl -n "$NS" delete pod "$victim" --wait=false >/dev/null
kubectl -n "$NS" wait --for=condition=Available deployment/marketdata-a --timeout=60s >/dev/null
for _ in $(seq 1 300); do
  ready=$(kubectl -n "$NS" get pods -l app.kubernetes.io/name=marketdata-a -o json | jq -r --arg v "$victim" \
    '[.items[] | select(.metadata.name != $v) | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length')
  [[ $ready -ge 1 ]] && break
  sleep 0.1
done
say "marketdata-a pod deleted: replacement Ready in $(since "$t") s"
wait
say "marketdata-a delete under load: $(summary "$WORK/md")"
md_bad=$(grep -vc '^200 ' "$WORK/md" || true)
[[ $md_bad -eq 0 ]] || fail "$md_bad quotes failed while marketdata-a was replaced (failover)"
grep -q '"source":"marketdata-b"' "$WORK/md" || fail "no quote came from marketdata-b during the failover"

# a gateway pod deleted: the Service must route around it (preStop sleep, graceful drain)
for _ in $(seq 1 150); do
  n=$(kubectl -n "$NS" get endpoints gateway-nodeport -o json | jq '[.subsets[]?.addresses[]?] | length')
  [[ $n -eq 2 ]] && break
  sleep 0.1
done
victim=$(kubectl -n "$NS" get pods -l app.kubernetes.io/name=gateway -o jsonpath='{.items[0].metadata.name}')
loop "$WORK/gw" 14 &
sleep 2
t=$(now)
kubectl -n "$NS" delete pod "$victim" --wait=false >/dev/null
for _ in $(seq 1 300); do
  ready=$(kubectl -n "$NS" get pods -l app.kubernetes.io/name=gateway -o json | jq -r --arg v "$victim" \
    '[.items[] | select(.metadata.name != $v and .metadata.deletionTimestamp == null) |
      select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length')
  [[ $ready -ge 2 ]] && break
  sleep 0.1
done
say "gateway pod deleted: replacement Ready in $(since "$t") s"
wait
say "gateway pod delete under load: $(summary "$WORK/gw")"
gw_bad=$(grep -vc '^200 ' "$WORK/gw" || true)
[[ $gw_bad -le $MAX_ERRORS ]] || fail "$gw_bad requests failed while a gateway pod was deleted (tolerated: $MAX_ERRORS)"
exit "$failed"
