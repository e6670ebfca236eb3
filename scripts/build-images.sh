#!/usr/bin/env bash
# Builds the container images Keelson and its tests use, offline: there is no
# registry to pull from, so each image is a rootfs assembled from binaries already
# on this machine and `docker import`ed under its public name. The same Dockerfiles
# and compose files then work online (pull) and offline (already present).
#
#   busybox:latest         /bin/busybox (busybox-static) + applet links
#   node:20-bookworm-slim  node + the libraries ldd lists + npm + busybox as /bin/sh
#   nats:2.9.10, nats:latest  nats-server + its libraries, laid out like the
#                          official scratch image (ENTRYPOINT /nats-server)
#
# Idempotent: an image that is already present is skipped. `--force` rebuilds all;
# naming images (`build-images.sh busybox nats`) builds only those.
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

force=0
only=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    busybox | node | nats) only+=("$arg") ;;
    *) echo "usage: $0 [--force] [busybox] [node] [nats]" >&2; exit 2 ;;
  esac
done
[ ${#only[@]} -eq 0 ] && only=(busybox node nats)

DOCKER="${DOCKER:-docker}"
if ! "$DOCKER" info >/dev/null 2>&1; then
  echo "build-images: the Docker engine does not answer ('docker info' fails). Start it first: setsid dockerd >/var/log/dockerd.log 2>&1 &" >&2
  exit 1
fi

work="$(mktemp -d /tmp/keelson-images.XXXXXX)"
trap 'rm -rf "$work"' EXIT

present() {
  [ "$force" = 0 ] && "$DOCKER" image inspect "$1" >/dev/null 2>&1
}

find_bin() {
  local p
  p="$(command -v "$1" 2>/dev/null || true)"
  [ -n "$p" ] || { echo "build-images: $1 not found ($2)" >&2; return 1; }
  readlink -f "$p"
}

# Copies a dynamically linked binary's libraries (and the loader) into a rootfs,
# at the same paths, so the binary runs there unchanged.
copy_libs() {
  local rootfs="$1" bin="$2" lib
  for lib in $(ldd "$bin" 2>/dev/null | grep -oE '/[^ ]+' || true); do
    [ -e "$lib" ] || continue
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
}

# The files every image wants: users, name resolution order, a sticky /tmp.
base_rootfs() {
  local rootfs="$1"
  mkdir -p "$rootfs"/{bin,etc,tmp,root,home,proc,sys,dev,var/tmp,usr/bin,usr/sbin,sbin}
  chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  # Without this, glibc asks DNS before /etc/hosts (even for "localhost").
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
}

# busybox and one symlink per applet, at the applet's usual path.
install_busybox() {
  local rootfs="$1" busybox applet
  busybox="$(find_bin busybox 'apt-get install busybox-static')"
  cp "$busybox" "$rootfs/bin/busybox"
  copy_libs "$rootfs" "$busybox" # nothing for busybox-static; a dynamic busybox works too
  for applet in $("$busybox" --list-full); do
    [ -e "$rootfs/$applet" ] && continue
    mkdir -p "$rootfs/$(dirname "$applet")"
    ln -s /bin/busybox "$rootfs/$applet"
  done
}

import_rootfs() {
  local rootfs="$1"
  shift
  local first="$1"
  shift
  # Root-owned files whatever user runs this; --numeric-owner keeps uid 0.
  tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -c . | "$DOCKER" import "$@" - "$first" >/dev/null
}

build_busybox() {
  local image=busybox:latest rootfs="$work/busybox"
  if present "$image"; then echo "build-images: $image present, skipped"; return; fi
  base_rootfs "$rootfs"
  install_busybox "$rootfs"
  import_rootfs "$rootfs" "$image" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["sh"]'
  echo "build-images: built $image ($(image_size "$image"))"
}

build_node() {
  local image=node:20-bookworm-slim rootfs="$work/node" node version npm
  if present "$image"; then echo "build-images: $image present, skipped"; return; fi
  node="$(find_bin node 'install Node.js 20')"
  version="$("$node" --version)"
  base_rootfs "$rootfs"
  # A shell and coreutils, so Dockerfile RUN steps and `sh -c` work as on Debian.
  install_busybox "$rootfs"
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/local/lib/node_modules"
  cp "$node" "$rootfs/usr/local/bin/node"
  ln -sf /usr/local/bin/node "$rootfs/usr/bin/node"
  copy_libs "$rootfs" "$node"
  npm="$(dirname "$node")/../lib/node_modules/npm"
  [ -d "$npm" ] || npm=/usr/lib/node_modules/npm
  if [ -d "$npm" ]; then
    cp -a "$npm" "$rootfs/usr/local/lib/node_modules/npm"
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  fi
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$rootfs/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
  fi
  import_rootfs "$rootfs" "$image" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=${version#v}" \
    --change 'CMD ["node"]'
  echo "build-images: built $image from node $version ($(image_size "$image"))"
}

# Laid out like the official scratch image: /nats-server, /nats-server.conf,
# ENTRYPOINT ["/nats-server"], CMD ["--config", "nats-server.conf"], so compose
# files that pass `command: [...]` flags behave the same online and offline.
build_nats() {
  local image=nats:2.9.10 rootfs="$work/nats" nats
  if present "$image" && present nats:latest && present nats:2.9; then
    echo "build-images: $image present, skipped"
    return
  fi
  nats="$(find_bin nats-server 'apt-get install nats-server')"
  mkdir -p "$rootfs"/{etc,tmp,proc,sys,dev}
  chmod 1777 "$rootfs/tmp"
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
  cp "$nats" "$rootfs/nats-server"
  copy_libs "$rootfs" "$nats"
  cat >"$rootfs/nats-server.conf" <<'EOF'
# The official image's default configuration.
port: 4222
monitor_port: 8222
cluster {
  name: "my_cluster"
  port: 6222
  authorization {
    user: ruser
    password: T0pS3cr3t
    timeout: 2
  }
  routes = []
}
EOF
  import_rootfs "$rootfs" "$image" \
    --change 'EXPOSE 4222 6222 8222' \
    --change 'ENTRYPOINT ["/nats-server"]' \
    --change 'CMD ["--config", "nats-server.conf"]'
  "$DOCKER" tag "$image" nats:2.9
  "$DOCKER" tag "$image" nats:latest
  echo "build-images: built $image, nats:2.9, nats:latest from $("$nats" --version) ($(image_size "$image"))"
}

image_size() {
  "$DOCKER" image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.1f MB", $1 / 1e6 }'
}

for name in "${only[@]}"; do
  "build_$name"
done
