#!/usr/bin/env bash
# Makes the development TLS material nginx needs (never committed: infra/nginx/certs/ is ignored):
#   server.crt / server.key           the listeners' certificate (localhost, nginx, 127.0.0.1), signed by ca.crt
#   ca.crt                            the development CA to trust on the client side (curl --cacert)
#   processor-ca.crt                  the CA whose client certificates the JIT route accepts (mutual TLS)
#   processor-client.crt / .key       a processor client certificate signed by it
# Usage: scripts/dev-certs.sh [dir] (default infra/nginx/certs). Existing files are kept unless
# FORCE=1, so it is safe to run on every start. Production mounts real certificates instead.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-infra/nginx/certs}
mkdir -p "$dir"
if [ -s "$dir/server.crt" ] && [ -s "$dir/processor-client.crt" ] && [ "${FORCE:-0}" != 1 ]; then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
key () { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca () { # name subject
  key "$tmp/$1.key"
  openssl req -x509 -new -key "$tmp/$1.key" -subj "/CN=$2" -days 825 -sha256 \
    -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign -out "$tmp/$1.crt"
}
leaf () { # name subject ca extensions
  key "$tmp/$1.key"
  openssl req -new -key "$tmp/$1.key" -subj "/CN=$2" -out "$tmp/$1.csr"
  printf '%s\n' "$4" > "$tmp/$1.ext"
  openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/$3.crt" -CAkey "$tmp/$3.key" -CAcreateserial -days 825 -sha256 \
    -extfile "$tmp/$1.ext" -out "$tmp/$1.crt" 2>/dev/null
}
ca ca 'jit-funding development CA'
leaf server localhost ca 'subjectAltName=DNS:localhost,DNS:nginx,IP:127.0.0.1,IP:::1
extendedKeyUsage=serverAuth'
ca processor-ca 'jit-funding development processor CA'
leaf processor-client 'processor (development)' processor-ca 'extendedKeyUsage=clientAuth'
install -m 644 "$tmp/ca.crt" "$tmp/server.crt" "$tmp/processor-ca.crt" "$tmp/processor-client.crt" "$dir/"
# readable by nginx's workers in a container (the key is a development key, never a real one)
install -m 644 "$tmp/server.key" "$tmp/processor-client.key" "$dir/"
echo "development certificates in $dir"
