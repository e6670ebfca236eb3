#!/usr/bin/env bash
# Docker for Keelson's docker runtime, its tests and the compose cluster: installs
# the engine (docker.io), docker-compose, and busybox-static and haproxy (the
# sources of two offline images) from Debian when missing, starts the engine
# when `docker info` fails, and builds the offline base images
# (scripts/build-images.sh; keelson:dev is `build-images.sh keelson`). Safe to
# run again. Without root it changes nothing and prints the fix; Docker is
# optional (the process runtime needs none of it), so that is a warning, not a
# failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
started=$(date +%s)

is_root() { [ "$(id -u)" = 0 ]; }

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v busybox >/dev/null 2>&1 || need+=(busybox-static)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)

if [ ${#need[@]} -gt 0 ]; then
  if ! is_root || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-docker: missing ${need[*]}. Install with: sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
    echo "setup-docker: skipping Docker (Keelson falls back to the process runtime)" >&2
    exit 0
  fi
  echo "setup-docker: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # An index from an earlier step of the same run is fresh enough.
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -60 2>/dev/null | head -1)" ]; then
    apt-get update -qq
  fi
  apt-get install -y -qq "${need[@]}" >/dev/null
  # Only the binary is wanted (for the haproxy image), not a host service.
  if [[ " ${need[*]} " == *" haproxy "* ]] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now haproxy >/dev/null 2>&1 || true
  fi
fi

if ! docker info >/dev/null 2>&1; then
  if ! is_root; then
    echo "setup-docker: the Docker engine does not answer. Start it (as root: setsid dockerd >/var/log/dockerd.log 2>&1 &) or join the docker group" >&2
    exit 0
  fi
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl start docker
  else
    echo "setup-docker: starting dockerd (log: /var/log/dockerd.log)"
    setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    echo "setup-docker: dockerd did not answer within 60 s; last lines of /var/log/dockerd.log:" >&2
    tail -n 20 /var/log/dockerd.log >&2 || true
    exit 1
  fi
fi
echo "setup-docker: engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"

bash scripts/build-images.sh
echo "setup-docker: done in $(( $(date +%s) - started )) s"
