#!/usr/bin/env bash
# A real single-node Kubernetes v1.20 (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet on Docker through dockershim, kube-proxy in iptables mode, dnsmasq for
# Service names), built from Debian bookworm's own `kubernetes` source package. For chaosgate's
# Kubernetes tests on machines that cannot reach a registry (kind's node image cannot be pulled).
#
#   scripts/local-kube.sh build    install what is missing, build the binaries once into the cache
#   scripts/local-kube.sh up       bring a node Ready; prints the kubeconfig path
#   scripts/local-kube.sh down     stop everything `up` started and remove all it left (idempotent)
#   scripts/local-kube.sh status   up or down, the node's condition, the kubeconfig; exit 0 up / 1 down
#
# Environment:
#   CHAOSGATE_KUBE_CACHE  build cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/chaosgate/kube)
#   CHAOSGATE_KUBE_STATE  runtime state: certs, configs, etcd data, logs, PIDs
#                         (default /run/chaosgate-kube)
#   CHAOSGATE_KUBE_READY_TIMEOUT  seconds `up` waits for the node to be Ready (default 120)
#   CHAOSGATE_KUBE_ETCD_PORT      etcd's client port on 127.0.0.1 (default 12379; peer port + 1)
#   CHAOSGATE_KUBE_NODE_NAME      the node's name (default: the host name, lower-cased)
# Exit codes: 0 done (status: up), 1 status: down, 2 failed (up tears down what it started).
# Needs root and a running Docker daemon (docker0 is the node's network). See scripts/kube/README.md.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KUBE_DIR="$SCRIPT_DIR/kube"
# Patches to the upstream tree, applied in this order; their hash is part of the cache key.
PATCHES=("$KUBE_DIR/kubelet-oom-score-adj.patch" "$KUBE_DIR/reflect2-go118.patch")
CACHE_ROOT=${CHAOSGATE_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chaosgate/kube}
STATE=${CHAOSGATE_KUBE_STATE:-/run/chaosgate-kube}
READY_TIMEOUT=${CHAOSGATE_KUBE_READY_TIMEOUT:-120}
GO_BIN=/usr/lib/go-1.19/bin
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
PAUSE_IMAGE=k8s.gcr.io/pause:3.2
SERVICE_CIDR=10.96.0.0/12
API_SERVICE_IP=10.96.0.1
CLUSTER_CIDR_BRIDGE=cgkube-svc0 # port-less bridge the service CIDR is routed to
KUBELET_ROOT=/var/lib/kubelet
NODE_NAME=${CHAOSGATE_KUBE_NODE_NAME:-$(hostname | tr '[:upper:]_' '[:lower:]-')}

log() { printf '[local-kube %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
  log "error: $*"
  exit 2
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root (it runs a kubelet and edits iptables)"; }

# ---------------------------------------------------------------------------------------- build

# apt packages: name -> a file (or a command in PATH) that proves it is installed, so nothing is
# installed twice. kubernetes-client is Debian's kubectl 1.20; any kubectl in PATH will do.
declare -A APT_PROVIDES=(
  [golang-1.19-go]=$GO_BIN/go
  [rsync]=/usr/bin/rsync
  [jq]=/usr/bin/jq
  [etcd-server]=/usr/bin/etcd
  [conntrack]=/usr/sbin/conntrack
  [iptables]=/usr/sbin/iptables
  [dnsmasq-base]=/usr/sbin/dnsmasq
  [socat]=/usr/bin/socat
  [openssl]=/usr/bin/openssl
  [gcc]=/usr/bin/gcc
  [libc6-dev]=/usr/lib/x86_64-linux-gnu/libc.a
  [make]=/usr/bin/make
  [patch]=/usr/bin/patch
  [dpkg-dev]=/usr/bin/dpkg-source
  [curl]=curl
  [iproute2]=ip
  [kubernetes-client]=kubectl
)

# compose/build-images.sh may run apt-get at the same time (scripts/test.sh runs both in
# parallel): every apt-get here and there takes the same lock and waits for dpkg's.
apt_get() { flock -w 900 /var/lock/chaosgate-apt.lock apt-get -o DPkg::Lock::Timeout=600 "$@"; }

apt_updated=0
apt_update() {
  if [[ $apt_updated -eq 0 ]]; then
    log "apt-get update"
    apt_get update -qq
    apt_updated=1
  fi
}

install_packages() {
  local missing=() p
  for p in "${!APT_PROVIDES[@]}"; do
    [[ -e ${APT_PROVIDES[$p]} ]] || command -v "${APT_PROVIDES[$p]}" >/dev/null || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "installing ${missing[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# deb-src entries for bookworm, mirroring the machine's own deb822 source list.
ensure_deb_src() {
  if grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    if apt-cache showsrc kubernetes >/dev/null 2>&1 && [[ -n $(apt-cache showsrc kubernetes 2>/dev/null) ]]; then
      return 0
    fi
  fi
  local src=/etc/apt/sources.list.d/debian.sources
  [[ -f $src ]] || die "no $src to derive deb-src entries from; add deb-src for bookworm by hand"
  log "adding deb-src entries (/etc/apt/sources.list.d/chaosgate-debsrc.sources)"
  sed -n 's/^Types:.*\bdeb\b.*$/Types: deb-src/;/^\(Types\|URIs\|Suites\|Components\|Signed-By\):/p;/^$/p' "$src" \
    >/etc/apt/sources.list.d/chaosgate-debsrc.sources
  apt_updated=0
  apt_update
}

# Downloads Debian's kubernetes source package (once) and prints the .dsc path.
fetch_source() {
  local dl="$CACHE_ROOT/dl" dsc
  mkdir -p "$dl"
  dsc=$(ls "$dl"/kubernetes_*.dsc 2>/dev/null | sort -V | tail -1 || true)
  if [[ -z $dsc ]] || ! ls "$dl"/kubernetes_*.orig.tar.* >/dev/null 2>&1; then
    ensure_deb_src
    log "apt-get source --download-only kubernetes"
    (cd "$dl" && apt-get source --download-only kubernetes >/dev/null 2>&1) ||
      die "apt-get source --download-only kubernetes failed"
    dsc=$(ls "$dl"/kubernetes_*.dsc | sort -V | tail -1)
  fi
  echo "$dsc"
}

source_version() { awk '/^Version:/ { print $2; exit }' "$1"; }
patch_hash() { cat "${PATCHES[@]}" | sha256sum | cut -c1-12; }

# The build directory for the cached source: <source-version>-<patch-hash>.
build_dir_for() { echo "$CACHE_ROOT/$(source_version "$1" | tr ':~' '__')-$(patch_hash)"; }

# The newest complete build in the cache (for up), or nothing.
find_build() {
  local dsc
  dsc=$(ls "$CACHE_ROOT"/dl/kubernetes_*.dsc 2>/dev/null | sort -V | tail -1 || true)
  [[ -n $dsc ]] || return 1
  local b
  b=$(build_dir_for "$dsc")
  [[ -f $b/complete ]] || return 1
  echo "$b"
}

check_patch_applied() {
  local tree=$1
  grep -qE '^\s*defaultSandboxOOMAdj int = 0$' "$tree/pkg/kubelet/dockershim/docker_sandbox.go" &&
    grep -qE '^\s*guaranteedOOMScoreAdj int = 0$' "$tree/pkg/kubelet/qos/policy.go" &&
    grep -qF 'func mapiterinit(rtype unsafe.Pointer, m unsafe.Pointer, it *hiter)' \
      "$tree/vendor/github.com/modern-go/reflect2/unsafe_link.go"
}

build_pause_image() {
  local b=$1 t
  if ! docker image inspect "$PAUSE_IMAGE" >/dev/null 2>&1; then
    t=$(now)
    if [[ ! -x $b/pause/pause ]]; then
      mkdir -p "$b/pause"
      gcc -static -Os -Wall -Werror -DVERSION=v3.2-chaosgate \
        -o "$b/pause/pause" "$b/src/build/pause/linux/pause.c"
      strip "$b/pause/pause"
    fi
    tar -C "$b/pause" -c pause |
      docker import -c 'ENTRYPOINT ["/pause"]' -m 'pause.c of Kubernetes 1.20.2, gcc -static' - "$PAUSE_IMAGE" >/dev/null
    log "pause image $PAUSE_IMAGE imported ($(since "$t") s)"
  fi
}

cmd_build() {
  need_root
  local t0 t dsc b tree upstream p
  t0=$(now)
  install_packages
  dsc=$(fetch_source)
  b=$(build_dir_for "$dsc")
  if [[ -f $b/complete ]]; then
    for x in "${BINARIES[@]}"; do [[ -x $b/bin/$x ]] || rm -f "$b/complete"; done
  fi
  if [[ -f $b/complete ]]; then
    build_pause_image "$b"
    log "build: cached in $b ($(since "$t0") s)"
    return 0
  fi
  mkdir -p "$b"
  tree="$b/src"
  # 1. unpack the upstream tree (with vendor/) and apply the kubelet patch
  if [[ ! -f $b/unpacked ]]; then
    t=$(now)
    rm -rf "$tree" "$b/unpack"
    mkdir -p "$b/unpack"
    tar -C "$b/unpack" -xzf "$(ls "$CACHE_ROOT"/dl/kubernetes_*.orig.tar.gz | sort -V | tail -1)"
    mv "$b/unpack"/kubernetes-* "$tree"
    rmdir "$b/unpack"
    for p in "${PATCHES[@]}"; do
      patch -d "$tree" -p1 --forward --quiet <"$p" || die "$(basename "$p") did not apply"
    done
    check_patch_applied "$tree" || die "the patches did not apply (${PATCHES[*]})"
    touch "$b/unpacked"
    log "unpacked and patched ($(since "$t") s)"
  fi
  check_patch_applied "$tree" || die "the patches are not in $tree (remove $b)"
  upstream=$(basename "$(tar -tzf "$(ls "$CACHE_ROOT"/dl/kubernetes_*.orig.tar.gz | sort -V | tail -1)" | head -1)")
  upstream=v${upstream#kubernetes-}
  export PATH="$GO_BIN:$PATH" GOCACHE="$CACHE_ROOT/go-build" GOFLAGS='' GOTOOLCHAIN=local
  # 2. generated files (openapi, bindata) the tarball lacks
  if [[ ! -f $b/generated ]]; then
    t=$(now)
    log "make generated_files (about a minute)"
    (cd "$tree" && make generated_files >"$b/generated.log" 2>&1) ||
      die "make generated_files failed; see $b/generated.log"
    touch "$b/generated"
    log "generated files ($(since "$t") s)"
  fi
  # 3. GOPATH-mode builds, as 1.20's own hack/ scripts do (module mode fails with Go 1.19)
  local gopath="$b/gopath" missing=() x pkgs=()
  mkdir -p "$gopath/src/k8s.io" "$b/bin"
  ln -sfn "$tree" "$gopath/src/k8s.io/kubernetes"
  for x in "${BINARIES[@]}"; do [[ -x $b/bin/$x ]] || missing+=("$x"); done
  if [[ ${#missing[@]} -gt 0 ]]; then
    t=$(now)
    local major minor ld="" key val
    major=${upstream#v}
    major=${major%%.*}
    minor=$(echo "$upstream" | cut -d. -f2)
    for kv in "gitVersion=$upstream" "gitMajor=$major" "gitMinor=$minor" "gitTreeState=archive" \
      "gitCommit=debian-$(source_version "$dsc")" "buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; do
      key=${kv%%=*}
      val=${kv#*=}
      ld+=" -X k8s.io/kubernetes/vendor/k8s.io/component-base/version.$key=$val"
      ld+=" -X k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version.$key=$val"
    done
    for x in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$x"); done
    log "go build ${missing[*]} (GOPATH mode; cold about 6 min on 2 free cores)"
    (cd "$gopath/src/k8s.io/kubernetes" &&
      GOPATH="$gopath" GO111MODULE=off CGO_ENABLED=0 \
        go build -trimpath -ldflags "-s -w$ld" -o "$b/bin/" "${pkgs[@]}" >"$b/go-build.log" 2>&1) ||
      die "go build failed; see $b/go-build.log"
    log "binaries built ($(since "$t") s): $(du -sh "$b/bin" | cut -f1)"
  fi
  "$b/bin/kubelet" --version >/dev/null || die "the built kubelet does not run"
  # 4. the pause image (pod sandboxes): images cannot be pulled here
  build_pause_image "$b"
  touch "$b/complete"
  # builds under an older key (another source version or patch set) are dead weight now
  local old
  for old in "$CACHE_ROOT"/*-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]; do
    [[ -d $old && $old != "$b" ]] || continue
    log "removing the outdated build $old"
    rm -rf "$old"
  done
  log "build: done in $b ($(since "$t0") s); $("$b/bin/kube-apiserver" --version)"
}

# ------------------------------------------------------------------------------------------- up

# Sysctls the kubelet and kube-proxy change on the host; saved by `up`, restored by `down`.
SAVED_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.conf.all.route_localnet)
ETCD_CLIENT_PORT=${CHAOSGATE_KUBE_ETCD_PORT:-12379}
ETCD_PEER_PORT=$((ETCD_CLIENT_PORT + 1))
API_PORT=6443

docker0_ip() { ip -4 -o addr show dev docker0 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }'; }
docker0_cidr() { ip -4 -o route show dev docker0 proto kernel scope link 2>/dev/null | awk '{ print $1; exit }'; }

# One certificate signed by the state's CA. $1 name, $2 subject, $3 extendedKeyUsage, $4 SANs.
gen_cert() {
  local pki="$STATE/pki" name=$1 subj=$2 eku=$3 san=${4:-}
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$name.key" 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -n $san ]] && echo "subjectAltName=$san"
  } >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 30 -sha256 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}

gen_pki() {
  local pki="$STATE/pki" ip=$1
  mkdir -p "$pki"
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=chaosgate-local-kube-ca" -days 30 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$pki/ca.crt" 2>/dev/null
  gen_cert apiserver "/CN=kube-apiserver" serverAuth \
    "IP:127.0.0.1,IP:$API_SERVICE_IP,IP:$ip,DNS:localhost,DNS:$NODE_NAME,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  gen_cert kubelet "/CN=$NODE_NAME" serverAuth "IP:$ip,IP:127.0.0.1,DNS:$NODE_NAME,DNS:localhost"
  gen_cert admin "/O=system:masters/CN=chaosgate-admin" clientAuth
  gen_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  gen_cert controller-manager "/CN=system:kube-controller-manager" clientAuth
  gen_cert scheduler "/CN=system:kube-scheduler" clientAuth
  gen_cert node "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
  gen_cert kube-proxy "/CN=system:kube-proxy" clientAuth
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key" 2>/dev/null
  openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  chmod 600 "$pki"/*.key
}

# $1 file, $2 client cert name in pki/, $3 server URL
write_kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: chaosgate-local
  cluster:
    certificate-authority: $STATE/pki/ca.crt
    server: $3
users:
- name: $2
  user:
    client-certificate: $STATE/pki/$2.crt
    client-key: $STATE/pki/$2.key
contexts:
- name: chaosgate-local
  context:
    cluster: chaosgate-local
    user: $2
    namespace: default
current-context: chaosgate-local
EOF
}

# Starts a long-running component in its own session, records its PID in pids/$1.
start() {
  local name=$1
  shift
  setsid "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name"
}

# True if the PID recorded for $1 is alive and still runs what we started (never a reused PID).
pid_ours() {
  local f="$STATE/pids/$1" pid cmd
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  case $1 in
  etcd) [[ $cmd == /usr/bin/etcd\ *--data-dir\ $STATE/* ]] ;;
  dnsmasq) [[ $cmd == /usr/sbin/dnsmasq\ *$STATE/* ]] ;;
  hairpin-loop | dns-loop) [[ $cmd == bash\ *local-kube.sh\ _$1\ $STATE* ]] ;;
  *) [[ $cmd == */bin/$1\ * ]] && [[ $cmd == *$STATE/* ]] ;;
  esac
}

api() { # GET $1 from the API server as admin
  curl -sf --max-time 2 -A chaosgate-local-kube --cacert "$STATE/pki/ca.crt" --cert "$STATE/pki/admin.crt" \
    --key "$STATE/pki/admin.key" "https://127.0.0.1:$API_PORT$1"
}

wait_for() { # $1 what, $2 timeout s, rest: command
  local what=$1 deadline
  deadline=$(($(date +%s) + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [[ $(date +%s) -ge $deadline ]]; then
      log "timed out waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

component_alive_or_die() {
  local c
  for c in "$@"; do
    pid_ours "$c" || {
      tail -n 20 "$STATE/logs/$c.log" >&2 || true
      die "$c exited; log: $STATE/logs/$c.log"
    }
  done
}

node_ready_with_fresh_lease() { # $1: epoch the kubelet was started
  local ready renew
  ready=$(api "/api/v1/nodes/$NODE_NAME" | jq -r '.status.conditions[] | select(.type == "Ready") | .status') || return 1
  [[ $ready == True ]] || return 1
  renew=$(api "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$NODE_NAME" |
    jq -r '.spec.renewTime | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601') || return 1
  [[ $renew -ge ${1%.*} ]]
}

up_failed() {
  local rc=$?
  trap - EXIT
  [[ $rc -eq 0 ]] && return 0
  log "up failed: tearing down; the logs will be in $CACHE_ROOT/last-logs"
  cmd_down || true
  exit "$rc"
}

# The kubelet reclaims disk under pressure by deleting every image no running container uses,
# whatever imageGC says, and local images cannot be pulled back: refuse to start on a nearly
# full disk rather than lose the stack's images mid-run (seen at 94 % used).
readonly MIN_FREE_PERCENT=10
check_free_disk() {
  local root line avail pct
  root=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null) || root=/var/lib/docker
  [[ -d $root ]] || root=/
  line=$(df -P -k "$root" | awk 'NR == 2 { print $4, $5 }')
  avail=${line% *}
  pct=${line#* }
  pct=${pct%\%}
  if ((100 - pct < MIN_FREE_PERCENT)); then
    die "only $((avail / 1048576)) GiB ($((100 - pct)) %) free under $root: below $MIN_FREE_PERCENT % the kubelet's disk-pressure eviction deletes unused local images, which cannot be pulled back; free some space (docker image prune, cargo clean) and retry"
  fi
}

cmd_up() {
  need_root
  local t0 b ip cidr t_kubelet s d
  t0=$(now)
  if cmd_status >/dev/null 2>&1; then
    log "already up"
    echo "$STATE/kubeconfig"
    return 0
  fi
  [[ -e $STATE ]] && {
    log "leftovers of an earlier run in $STATE: cleaning them first"
    cmd_down
  }
  b=$(find_build) || die "no build in $CACHE_ROOT: run '$0 build' first"
  check_free_disk
  docker image inspect "$PAUSE_IMAGE" >/dev/null 2>&1 || build_pause_image "$b"
  ip=$(docker0_ip)
  cidr=$(docker0_cidr)
  [[ -n $ip && -n $cidr ]] || die "no docker0 address: is Docker running?"
  # `up` gives a Ready node or leaves nothing (the logs are kept in <cache>/last-logs)
  trap up_failed EXIT
  mkdir -p "$STATE"/{pids,logs,config,dns} "$KUBELET_ROOT"
  chmod 700 "$STATE"
  echo "$b" >"$STATE/build"
  # what exists before up, so down removes only what up made
  for s in "${SAVED_SYSCTLS[@]}"; do
    sysctl -n "$s" >"$STATE/sysctl.$s" 2>/dev/null || rm -f "$STATE/sysctl.$s"
  done
  local cmd
  for cmd in iptables ip6tables; do
    "$cmd-save" 2>/dev/null | sed -n 's/^\*//p' >"$STATE/tables.$cmd" || true
  done
  # kubelet/dockershim paths it hard-codes: record which exist so down removes only what it made
  for d in /var/log/pods /var/log/containers /var/lib/dockershim; do
    [[ -e $d ]] || echo "$d" >>"$STATE/created-paths"
  done

  gen_pki "$ip"
  local url="https://127.0.0.1:$API_PORT"
  write_kubeconfig "$STATE/kubeconfig" admin "$url"
  write_kubeconfig "$STATE/config/controller-manager.kubeconfig" controller-manager "$url"
  write_kubeconfig "$STATE/config/scheduler.kubeconfig" scheduler "$url"
  write_kubeconfig "$STATE/config/kubelet.kubeconfig" node "$url"
  write_kubeconfig "$STATE/config/kube-proxy.kubeconfig" kube-proxy "$url"
  # the templates under scripts/kube/ with this run's values
  local f
  for f in kubelet-config.yaml kube-proxy-config.yaml; do
    sed -e "s|@STATE@|$STATE|g" -e "s|@NODE_IP@|$ip|g" -e "s|@NODE_NAME@|$NODE_NAME|g" \
      -e "s|@POD_CIDR@|$cidr|g" "$KUBE_DIR/$f" >"$STATE/config/$f"
  done
  log "certs and configs ($(since "$t0") s)"

  # service CIDR: routed to a port-less bridge, so an un-DNAT-ed ClusterIP is dropped here
  local r
  r=$(ip route show "$SERVICE_CIDR" 2>/dev/null)
  [[ -z $r || $r == *"dev $CLUSTER_CIDR_BRIDGE "* ]] || die "the host already routes $SERVICE_CIDR ($r)"
  ip link show "$CLUSTER_CIDR_BRIDGE" >/dev/null 2>&1 || ip link add "$CLUSTER_CIDR_BRIDGE" type bridge
  ip link set "$CLUSTER_CIDR_BRIDGE" up
  ip route replace "$SERVICE_CIDR" dev "$CLUSTER_CIDR_BRIDGE"

  start etcd /usr/bin/etcd --name chaosgate-local --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "chaosgate-local=http://127.0.0.1:$ETCD_PEER_PORT" \
    --listen-metrics-urls "" --log-level warn --quota-backend-bytes 1073741824
  local pki="$STATE/pki"
  start kube-apiserver "$b/bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --bind-address 0.0.0.0 --secure-port "$API_PORT" --insecure-port 0 --advertise-address "$ip" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --anonymous-auth=false \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$pki/ca.crt" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --allow-privileged=true \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --profiling=false --event-ttl 1h --v 1
  wait_for "etcd" 20 curl -sf --max-time 1 "http://127.0.0.1:$ETCD_CLIENT_PORT/health" ||
    component_alive_or_die etcd
  wait_for "the API server" 60 api /readyz || component_alive_or_die etcd kube-apiserver
  wait_for "the API server" 5 api /readyz
  log "API server ready ($(since "$t0") s)"
  # after /readyz (RBAC bootstrap done): started earlier they exit on a forbidden configmap read
  start kube-controller-manager "$b/bin/kube-controller-manager" \
    --kubeconfig "$STATE/config/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE/config/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$STATE/config/controller-manager.kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --port 0 \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --use-service-account-credentials=true \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --controllers '*,-nodeipam,-cloud-node-lifecycle' --v 1
  start kube-scheduler "$b/bin/kube-scheduler" \
    --kubeconfig "$STATE/config/scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE/config/scheduler.kubeconfig" \
    --authorization-kubeconfig "$STATE/config/scheduler.kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --port 0 --v 1

  t_kubelet=$(now)
  start kubelet "$b/bin/kubelet" \
    --config "$STATE/config/kubelet-config.yaml" \
    --kubeconfig "$STATE/config/kubelet.kubeconfig" \
    --root-dir "$KUBELET_ROOT" --cert-dir "$STATE/pki" \
    --container-runtime docker --docker-endpoint unix:///var/run/docker.sock \
    --pod-infra-container-image "$PAUSE_IMAGE" \
    --node-ip "$ip" --hostname-override "$NODE_NAME" --v 1
  start kube-proxy "$b/bin/kube-proxy" --config "$STATE/config/kube-proxy-config.yaml" --v 1

  # cluster DNS for Services (CoreDNS is not in Debian): dnsmasq + a watcher rewriting its hosts
  : >"$STATE/dns/hosts"
  start dnsmasq /usr/sbin/dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
    --listen-address "$ip" --bind-interfaces --port 53 --user=root --local=/cluster.local/ \
    --domain-needed --addn-hosts "$STATE/dns/hosts" --pid-file="$STATE/dns/dnsmasq.pid" --log-facility=-
  start dns-loop bash "$SCRIPT_DIR/local-kube.sh" _dns-loop "$STATE"
  start hairpin-loop bash "$SCRIPT_DIR/local-kube.sh" _hairpin-loop "$STATE"

  if ! wait_for "the node to be Ready with a lease from this kubelet" "$READY_TIMEOUT" \
    node_ready_with_fresh_lease "$t_kubelet"; then
    component_alive_or_die etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy dnsmasq
    die "the node did not become Ready in ${READY_TIMEOUT}s"
  fi
  # pods can be created in the default namespace only once its ServiceAccount exists
  wait_for "the default ServiceAccount" 30 api /api/v1/namespaces/default/serviceaccounts/default
  component_alive_or_die etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy dnsmasq dns-loop hairpin-loop
  trap - EXIT
  log "node $NODE_NAME Ready (up in $(since "$t0") s); kubeconfig:"
  echo "$STATE/kubeconfig"
}

# Rewrites the dnsmasq hosts file on every Endpoints event (a Service's creation makes one;
# so does a pod becoming Ready or going away); SIGHUPs dnsmasq. A Service with a ClusterIP
# gets that address; a headless one (clusterIP: None) one A record per address of its
# Endpoints, as CoreDNS answers (Prometheus finds the gateway pods this way).
loop_dns() {
  set +eo pipefail # a loop must outlive any one failed kubectl or a vanished dnsmasq
  local hosts="$STATE/dns/hosts" new services endpoints
  export KUBECONFIG="$STATE/kubeconfig"
  regen() {
    services=$(kubectl get services -A -o json 2>/dev/null) || return 0
    endpoints=$(kubectl get endpoints -A -o json 2>/dev/null) || return 0
    new=$(printf '%s\n%s\n' "$services" "$endpoints" | jq -rs '
      .[0].items as $svcs
      | [$svcs[] | select(.spec.clusterIP == "None") | .metadata.namespace + "/" + .metadata.name] as $headless
      | ($svcs[] | select(.spec.clusterIP != null and .spec.clusterIP != "None" and .spec.clusterIP != "")
          | "\(.spec.clusterIP) \(.metadata.name).\(.metadata.namespace).svc.cluster.local"),
        (.[1].items[] | select((.metadata.namespace + "/" + .metadata.name) as $k | any($headless[]; . == $k))
          | .metadata as $m | (.subsets // [])[] | (.addresses // [])[]
          | "\(.ip) \($m.name).\($m.namespace).svc.cluster.local")' | sort) || return 0
    if [[ $new != "$(cat "$hosts")" ]]; then
      printf '%s\n' "$new" >"$hosts.tmp" && mv "$hosts.tmp" "$hosts"
      [[ -f $STATE/pids/dnsmasq ]] && pid_ours dnsmasq && kill -HUP "$(<"$STATE/pids/dnsmasq")"
    fi
  }
  while true; do
    regen
    # one line per Endpoints event; the watch ends now and then (server timeout): list again
    kubectl get endpoints -A --watch-only -o name 2>/dev/null | while read -r _; do regen; done
    sleep 1
  done
}

# Sets hairpin_mode on the docker0 ports of pod sandboxes (no CNI does it), so a pod can reach
# itself through its own Service.
loop_hairpin() {
  set +eo pipefail # sandboxes vanish between the listing and nsenter: never exit on that
  declare -A tries=()
  local port idx pid lnk pending peers p
  while true; do
    pending=()
    for port in /sys/class/net/docker0/brif/*; do
      [[ -e $port/hairpin_mode && $(<"$port/hairpin_mode") == 0 ]] || continue
      lnk=$(basename "$port")
      idx=$(<"/sys/class/net/$lnk/ifindex") || continue
      # another project's container gets 20 looks, then is left alone
      [[ ${tries[$idx]:-0} -lt 20 ]] && pending+=("$idx:$port")
    done
    if [[ ${#pending[@]} -gt 0 ]]; then
      # host-side ifindexes of the pod sandboxes' eth0 peers ("eth0@if<N>" in their netns)
      peers=" "
      for pid in $(docker ps -q --filter name=^/k8s_POD_ | xargs -r docker inspect -f '{{.State.Pid}}' 2>/dev/null); do
        peers+="$(nsenter -t "$pid" -n ip -o link show dev eth0 2>/dev/null |
          sed -n 's/^[0-9]*: eth0@if\([0-9]*\):.*/\1/p') "
      done
      for p in "${pending[@]}"; do
        idx=${p%%:*}
        if [[ $peers == *" $idx "* ]]; then
          echo 1 >"${p#*:}/hairpin_mode" || true
        else
          tries[$idx]=$((${tries[$idx]:-0} + 1))
        fi
      done
    fi
    sleep 1
  done
}

# ----------------------------------------------------------------------------------------- down

COMPONENTS=(hairpin-loop dns-loop kube-proxy kubelet kube-scheduler kube-controller-manager
  dnsmasq kube-apiserver etcd)

# True while a PID runs (a zombie has exited: whoever adopted it reaps it in its own time).
running() {
  local st
  st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z ]]
}

# SIGTERM to a set of components, SIGKILL to those still there after 6 s (state is wiped anyway).
stop_set() {
  local c pid pids=() i alive
  for c in "$@"; do
    if pid_ours "$c"; then
      pid=$(<"$STATE/pids/$c")
      # the loops run children (kubectl, docker, sleep) in their own session: signal the group
      case $c in
      *-loop) kill -TERM -- "-$pid" 2>/dev/null || true ;;
      *) kill -TERM "$pid" 2>/dev/null || true ;;
      esac
      pids+=("$c:$pid")
    fi
  done
  for ((i = 0; i < 30; i++)); do
    alive=0
    for c in "${pids[@]}"; do running "${c#*:}" && alive=1; done
    [[ $alive -eq 0 ]] && break
    sleep 0.2
  done
  for c in "${pids[@]}"; do
    if pid_ours "${c%%:*}"; then
      log "${c%%:*} ignored SIGTERM: SIGKILL"
      case $c in
      *-loop:*) kill -KILL -- "-${c#*:}" 2>/dev/null || true ;;
      *) kill -KILL "${c#*:}" 2>/dev/null || true ;;
      esac
    fi
  done
}

# etcd last: an API server whose etcd is gone hangs in its graceful shutdown
stop_components() {
  stop_set hairpin-loop dns-loop kube-proxy kubelet kube-scheduler kube-controller-manager dnsmasq kube-apiserver
  stop_set etcd
}

# Deletes every rule that jumps to a KUBE-* chain from another chain, then the KUBE-* chains.
# Docker's chains and other projects' rules are left alone.
remove_kube_iptables() {
  local cmd t rule chain
  for cmd in iptables ip6tables; do
    command -v "$cmd-save" >/dev/null || continue
    for t in filter nat mangle raw; do
      "$cmd-save" -t "$t" >/dev/null 2>&1 || continue
      exec 3>&2 2>/dev/null # iptables-nft warns about legacy tables on every save
      while read -r rule; do
        eval "$cmd -w -t $t -D ${rule#-A }" 2>/dev/null || true
      done < <("$cmd-save" -t "$t" | grep -E '^-A ' | grep -vE '^-A KUBE-' | grep -E ' -[jg] KUBE-')
      for chain in $("$cmd-save" -t "$t" | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p'); do
        "$cmd" -w -t "$t" -F "$chain" 2>/dev/null || true
      done
      for chain in $("$cmd-save" -t "$t" | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p'); do
        "$cmd" -w -t "$t" -X "$chain" 2>/dev/null || true
      done
      exec 2>&3 3>&-
      # a table the kubelet's canary chains brought into being, now empty: remove it again
      if [[ -f $STATE/tables.$cmd ]] && ! grep -qx "$t" "$STATE/tables.$cmd" &&
        command -v nft >/dev/null && ! "$cmd-save" -t "$t" 2>/dev/null | grep -q '^-A' &&
        ! "$cmd-save" -t "$t" 2>/dev/null | grep -E '^:' | grep -qvE '^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) '; then
        nft delete table "$([[ $cmd == iptables ]] && echo ip || echo ip6)" "$t" 2>/dev/null || true
      fi
    done
  done
}

cmd_down() {
  need_root
  local t0 m d s
  t0=$(now)
  [[ -d $STATE ]] && stop_components && log "processes stopped ($(since "$t0") s)"
  # pods are plain Docker containers named k8s_<container>_<pod>_<ns>_<uid>_<n>; nothing else
  local ids
  ids=$(docker ps -aq --filter 'name=^/k8s_' 2>/dev/null || true)
  if [[ -n $ids ]]; then
    # shellcheck disable=SC2086
    docker rm -f -v $ids >/dev/null
  fi
  # the kubelet bind-mounts its root onto itself and mounts volumes (tmpfs secrets) under it
  while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
  done < <(awk -v r="$KUBELET_ROOT" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  rm -rf "$KUBELET_ROOT"
  rmdir "$(dirname "$KUBELET_ROOT")" 2>/dev/null || true
  if [[ -f $STATE/created-paths ]]; then
    while read -r d; do rm -rf "$d"; done <"$STATE/created-paths"
  else
    # no record (state lost): these are the kubelet's and dockershim's own, hard-coded paths
    for d in /var/log/pods /var/log/containers /var/lib/dockershim; do
      [[ -e $d ]] && rm -rf "$d"
    done
  fi
  # QoS cgroups the kubelet made (cgroupfs driver), deepest first; empty once pods are gone
  for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  remove_kube_iptables
  ip route del "$SERVICE_CIDR" dev "$CLUSTER_CIDR_BRIDGE" 2>/dev/null || true
  ip link del "$CLUSTER_CIDR_BRIDGE" 2>/dev/null || true
  for s in "${SAVED_SYSCTLS[@]}"; do
    [[ -f $STATE/sysctl.$s ]] && sysctl -qw "$s=$(<"$STATE/sysctl.$s")" 2>/dev/null || true
  done
  if [[ -d $STATE/logs ]]; then # the last run's logs, for a post-mortem
    rm -rf "$CACHE_ROOT/last-logs"
    mkdir -p "$CACHE_ROOT"
    mv "$STATE/logs" "$CACHE_ROOT/last-logs" 2>/dev/null || true
  fi
  rm -rf "$STATE"
  log "down ($(since "$t0") s)"
}

# --------------------------------------------------------------------------------------- status

cmd_status() {
  local c down=0
  if [[ ! -d $STATE/pids ]]; then
    echo "down"
    return 1
  fi
  for c in "${COMPONENTS[@]}"; do
    if ! pid_ours "$c"; then
      echo "$c: not running"
      down=1
    fi
  done
  if [[ $down -eq 0 ]] && api /readyz >/dev/null 2>&1; then
    local cond
    cond=$(api "/api/v1/nodes/$NODE_NAME" | jq -r '.status.conditions[] | select(.type == "Ready") |
      "Ready=\(.status) (\(.reason), since \(.lastTransitionTime))"' 2>/dev/null || echo "not registered")
    echo "up: node $NODE_NAME $cond"
    echo "kubeconfig: $STATE/kubeconfig"
    [[ $cond == Ready=True* ]] || return 1
    return 0
  fi
  echo "down"
  return 1
}

# ------------------------------------------------------------------------------------------ main

usage() {
  sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}

case ${1:-} in
build) cmd_build ;;
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
_dns-loop) STATE=$2 loop_dns ;;
_hairpin-loop) STATE=$2 loop_hairpin ;;
*) usage ;;
esac
