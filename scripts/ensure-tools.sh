#!/usr/bin/env bash
# Installs the Debian tools the deployment tests run (tests/infra): nginx, Prometheus (with
# promtool) and docker-compose v1 (offline validation of docker-compose.yml). Each only when
# missing; apt-get does not start nginx or Prometheus as services here (the tests start private
# instances). Idempotent: nothing happens when all are present.
set -euo pipefail
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# the package lists may be stale on a fresh machine: refresh once if the install fails
$sudo apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}" >/dev/null \
  || { $sudo apt-get -o DPkg::Lock::Timeout=300 update >/dev/null && $sudo apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}" >/dev/null; }
# Debian's packages enable their services; on machines with systemd, keep them from holding the
# ports the tests or the compose stack use.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  for s in nginx prometheus; do $sudo systemctl disable --now "$s" >/dev/null 2>&1 || true; done
fi
