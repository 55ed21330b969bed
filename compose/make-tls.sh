#!/usr/bin/env bash
# The reference stack's TLS, made once and kept in compose/tls/ (not in git): a CA, the edge's
# server certificate for `edge`, `localhost` and 127.0.0.1 (https://edge:8443; :8444 also asks
# for a client certificate) and a client certificate the CA signed. Scenarios trust the CA with
# `tls: { ca: ../compose/tls/ca.pem }`; mutual TLS adds `cert: client.pem, key: client.key`.
#
#   compose/make-tls.sh      make them unless all four files are there (exit 0 either way)
#
# compose/build-images.sh runs it (the edge image serves edge.pem); so do the tests that
# validate the bundled scenarios, which name these files (no Docker needed). Several callers at
# once are serialised by a lock, so the four files always come from one CA. Needs openssl.
set -euo pipefail

dir="$(cd "$(dirname "$0")" && pwd)/tls"
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ -s "$dir/ca.pem" ] && [ -s "$dir/edge.pem" ] && [ -s "$dir/client.pem" ] \
    && [ -s "$dir/client.key" ]; then
  exit 0
fi
command -v openssl >/dev/null || {
  echo "make-tls: error: openssl makes the stack's TLS certificates: apt-get install openssl" >&2
  exit 1
}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { cat "$tmp/log" >&2; echo "make-tls: error: openssl: $*" >&2; exit 1; }
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$tmp/ca.key" -out "$tmp/ca.pem" -days 3650 \
  -subj "/CN=chaosgate reference stack CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$tmp/log" || fail "the CA"
for name in edge client; do
  if [ "$name" = edge ]; then
    ext="extendedKeyUsage=serverAuth
subjectAltName=DNS:edge,DNS:localhost,IP:127.0.0.1"
  else
    ext="extendedKeyUsage=clientAuth
subjectAltName=DNS:chaosgate-client"
  fi
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n%s\n' "$ext" >"$tmp/$name.ext"
  openssl req -new "${ec[@]}" -keyout "$tmp/$name.key" -out "$tmp/$name.csr" \
    -subj "/CN=$name" 2>>"$tmp/log" \
    && openssl x509 -req -in "$tmp/$name.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
      -CAcreateserial -days 825 -extfile "$tmp/$name.ext" -out "$tmp/$name.pem" 2>>"$tmp/log" \
    || fail "the $name certificate"
done
# HAProxy reads the certificate and its key from one file.
cat "$tmp/edge.pem" "$tmp/edge.key" >"$dir/edge.pem"
cp "$tmp/ca.pem" "$tmp/client.pem" "$tmp/client.key" "$dir/"
echo "make-tls: CA, edge and client certificates in $dir" >&2
