#!/usr/bin/env bash
# Installs what Keelson and its tests need on Debian/Ubuntu: nats-server,
# kubectl, for the proxy iptables, iproute2 and conntrack, and Chromium for the
# dashboard's browser test; then Docker and the offline images
# (scripts/setup-docker.sh). Safe to run again. Without root
# (or apt) it prints the exact fix.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)
has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
has iptables-restore || need+=(iptables)
has ip || need+=(iproute2)
has conntrack || need+=(conntrack)
has chromium || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
  echo "setup: nats-server, kubectl, iptables, iproute2, conntrack and chromium are present"
elif [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: missing ${need[*]}. Install with: sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
  exit 1
else
  echo "setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

bash scripts/setup-docker.sh
echo "setup: done"
