#!/usr/bin/env bash
# Smoke test of scripts/local-kube.sh on this machine: build (cached) → up → a Deployment of two
# chaosgate/trading marketdata replicas behind a NodePort Service → curl it on 127.0.0.1 (both
# pods must answer) → a pod resolves and calls the Service by name → delete a pod and time its
# replacement Ready → down, always (trap) → prove nothing is left: iptables (KUBE-* chains and
# rules), k8s_ containers, mounts, processes, the service-CIDR route and bridge, sysctls.
#
#   scripts/kube/smoke.sh          exit 0 all good, 1 a check failed, 2 could not run
# Needs root, Docker and the image chaosgate/trading:0.1.0 (compose/build-images.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=smoke
# shellcheck source=SCRIPTDIR/lib.sh
source "$HERE/lib.sh"
IMAGE=${CHAOSGATE_SMOKE_IMAGE:-chaosgate/trading:0.1.0}
NS=chaosgate-smoke
STATE=${CHAOSGATE_KUBE_STATE:-/run/chaosgate-kube}
SNAP=$(mktemp -d)
failed=0

require_root
require_images "$IMAGE"

# What the host looks like; taken before up and after down. Other helpers' Docker projects come
# and go meanwhile, so only what Kubernetes could have made is compared.
snapshot() {
  local d="$SNAP/$1"
  mkdir -p "$d"
  { iptables-save && ip6tables-save; } 2>/dev/null | sed -E 's/\[[0-9]+:[0-9]+\]//; /^#/d' |
    grep -E 'KUBE|10\.96\.|cgkube' | sort >"$d/iptables" || true
  docker ps -a --format '{{.Names}}' | grep '^k8s_' | sort >"$d/containers" || true
  awk '{ print $5 }' /proc/self/mountinfo | grep -E 'kubelet|kubepods|/var/log/pods|chaosgate-kube' |
    sort >"$d/mounts" || true
  # read-only look at process names: nothing is signalled here
  ps -eo pid=,comm=,args= | awk '$2 ~ /^(etcd|kube-apiserver|kube-controller|kube-scheduler|kubelet|kube-proxy|dnsmasq)$/' |
    sort >"$d/procs" || true
  pgrep -a -f 'local-kube.sh _' | grep -v pgrep | sort >"$d/loops" || true
  { ip route show; ip link show; } | grep -E '10\.96\.|cgkube' >"$d/net" || true
  ls -d /var/log/pods /var/log/containers /var/lib/dockershim /var/lib/chaosgate-kube \
    "$STATE" /sys/fs/cgroup/*/kubepods >"$d/paths" 2>/dev/null || true
  sysctl vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops \
    net.ipv4.conf.all.route_localnet >"$d/sysctl" 2>/dev/null || true
}

# shellcheck disable=SC2317 # run by the EXIT trap
teardown() {
  local rc=$?
  set +e
  kube_down
  snapshot after
  local f
  for f in iptables containers mounts procs loops net paths sysctl; do
    if ! diff -u "$SNAP/before/$f" "$SNAP/after/$f" >"$SNAP/$f.diff"; then
      fail "left behind after down ($f):"
      cat "$SNAP/$f.diff" >&2
    fi
  done
  [[ $failed -eq 0 ]] && say "nothing left behind (iptables, k8s_ containers, mounts, processes, route, bridge, paths, sysctls)"
  rm -rf "$SNAP"
  if [[ $rc -ne 0 && $rc -ne 1 ]]; then exit "$rc"; fi
  exit_verdict
}

t=$(now)
bash "$LK" build
say "build: $(since "$t") s"
bash "$LK" down >/dev/null 2>&1 || true # leftovers of an earlier, killed run
snapshot before
trap teardown EXIT

kube_up
kubectl get nodes -o wide 2>/dev/null
rss=$(for f in "$STATE"/pids/*; do ps -o rss= -p "$(<"$f")"; done | awk '{ s += $1 } END { printf "%.0f", s / 1024 }')
say "RSS of the cluster's processes: $rss MiB"
# the API server encodes maps with json-iterator for ?pretty and YAML: faulted before the reflect2 patch
if kubectl get --raw "/api/v1/nodes?pretty=true" >/dev/null 2>&1 && curl -sf --max-time 5 \
  --cacert "$STATE/pki/ca.crt" --cert "$STATE/pki/admin.crt" \
  --key "$STATE/pki/admin.key" https://127.0.0.1:6443/api/v1/nodes >/dev/null; then
  say "API server answers pretty-printed lists (curl's user agent too)"
else
  fail "API server did not answer a pretty-printed list"
fi

t=$(now)
kubectl apply -f - >/dev/null 2>&1 <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $NS
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: marketdata
  namespace: $NS
spec:
  replicas: 2
  selector:
    matchLabels: {app: marketdata}
  template:
    metadata:
      labels: {app: marketdata}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: marketdata
        image: $IMAGE
        imagePullPolicy: Never
        args: ["marketdata"]
        env:
        - name: MARKETDATA_REPLICA
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        ports:
        - containerPort: 8081
        readinessProbe:
          httpGet: {path: /health, port: 8081}
          periodSeconds: 1
          failureThreshold: 1
---
apiVersion: v1
kind: Service
metadata:
  name: marketdata
  namespace: $NS
spec:
  type: NodePort
  selector: {app: marketdata}
  ports:
  - port: 8081
    targetPort: 8081
EOF
kubectl -n "$NS" rollout status deployment/marketdata --timeout=120s >/dev/null 2>&1 || {
  fail "the Deployment did not become Available"
  kubectl -n "$NS" get pods -o wide >&2
  exit 1
}
say "Deployment of 2 replicas Available $(since "$t") s after apply"

port=$(kubectl -n "$NS" get service marketdata -o jsonpath='{.spec.ports[0].nodePort}' 2>/dev/null)
declare -A answered=()
pods=$(kubectl -n "$NS" get pods -o jsonpath='{.items[*].metadata.name}' 2>/dev/null)
# kube-proxy programs the second endpoint a moment after the Deployment reads Available
t=$(now)
tries=0
while [[ ${#answered[@]} -lt 2 && $tries -lt 150 ]]; do
  body=$(curl -sf --max-time 2 "http://127.0.0.1:$port/quote?symbol=CGATE" || true)
  for p in $pods; do
    [[ $body == *"\"replica\":\"$p\""* ]] && answered[$p]=1
  done
  tries=$((tries + 1))
  sleep 0.1
done
if [[ ${#answered[@]} -eq 2 ]]; then
  say "NodePort 127.0.0.1:$port: both pods answered within $tries requests ($(since "$t") s after Available)"
else
  fail "NodePort 127.0.0.1:$port: ${#answered[@]} of 2 pods answered in $tries requests (last body: ${body:-none})"
fi

# a pod calls its own Service by name: cluster DNS (dnsmasq), ClusterIP, hairpin when it is itself
pod=$(kubectl -n "$NS" get pods -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
ok=0
for _ in $(seq 1 8); do
  kubectl -n "$NS" exec "$pod" -- trading probe --timeout 1s http://marketdata:8081/health >/dev/null 2>&1 &&
    ok=$((ok + 1))
done
if [[ $ok -eq 8 ]]; then
  say "pod $pod reached http://marketdata:8081 by name 8/8 times (DNS, ClusterIP, hairpin)"
else
  fail "pod $pod reached http://marketdata:8081 by name $ok/8 times"
fi

# from the pod's network namespace (its k8s_POD_ sandbox), the API through the kubernetes
# Service's ClusterIP with the pod's service-account token: what an in-cluster agent needs
token=$(kubectl -n "$NS" exec "$pod" -- cat /var/run/secrets/kubernetes.io/serviceaccount/token 2>/dev/null || true)
spid=$(docker inspect -f '{{.State.Pid}}' "$(docker ps -q --filter "name=^/k8s_POD_${pod}_" | head -1)" 2>/dev/null || true)
kind=$(nsenter -t "${spid:-0}" -n curl -s --max-time 3 --cacert "$STATE/pki/ca.crt" \
  -H "Authorization: Bearer $token" https://10.96.0.1/api 2>/dev/null | jq -r .kind 2>/dev/null || true)
if [[ $kind == APIVersions ]]; then
  say "pod network namespace → https://10.96.0.1 with the pod's service-account token: answered"
else
  fail "the API was not reachable from the pod's network namespace with its token (got: ${kind:-nothing})"
fi

# delete a pod; time until a replacement is Ready (2 Ready pods, none of them the deleted one)
victim=$pod
t=$(now)
kubectl -n "$NS" delete pod "$victim" --wait=false >/dev/null 2>&1
if wait_pods_ready "$NS" "" 2 "$victim"; then
  say "kubectl delete pod → replacement Ready in $(since "$t") s"
else
  fail "no replacement pod Ready 60 s after deleting $victim"
fi
body=$(first_body "http://127.0.0.1:$port/quote?symbol=CGATE")
[[ -n $body ]] || fail "NodePort did not answer within 5 s after the pod replacement"
exit "$failed"
