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
#   haproxy:2.6, haproxy:2.6.12  Debian's haproxy + its libraries, laid out like the
#                          official image (user haproxy, STOPSIGNAL SIGUSR1, no config)
#   keelson:dev            the top-level Dockerfile (`docker build`), FROM the node
#                          image above; not in the default set (`keelson` or `all`);
#                          keelson-build:deps and :build tag its stages (the cache)
#
# Idempotent: a base image that is already present is skipped; keelson:dev is
# always rebuilt and the layer cache makes an unchanged tree cost under a second.
# `--force` rebuilds all (keelson without the cache); naming images
# (`build-images.sh busybox nats`) builds only those.
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

force=0
only=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    busybox | node | nats | haproxy | keelson) only+=("$arg") ;;
    all) only+=(busybox node nats haproxy keelson) ;;
    *) echo "usage: $0 [--force] [all] [busybox] [node] [nats] [haproxy] [keelson]" >&2; exit 2 ;;
  esac
done
[ ${#only[@]} -eq 0 ] && only=(busybox node nats haproxy)

DOCKER="${DOCKER:-docker}"
if ! "$DOCKER" info >/dev/null 2>&1; then
  echo "build-images: the Docker engine does not answer ('docker info' fails). Start it first: setsid dockerd >/var/log/dockerd.log 2>&1 &" >&2
  exit 1
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
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

# Laid out like the official haproxy:2.6 image (docker-library/haproxy): the
# binary at /usr/local/sbin/haproxy, /usr/local/etc/haproxy/errors, user and
# group haproxy (99) owning /var/lib/haproxy, docker-entrypoint.sh turning
# `haproxy ...` into `haproxy -W -db ...` (master-worker, foreground), USER
# haproxy and STOPSIGNAL SIGUSR1 (graceful stop). Like it, no haproxy.cfg is
# shipped: compose mounts one at /usr/local/etc/haproxy/haproxy.cfg. busybox
# supplies the entrypoint's /bin/sh. `docker import` cannot set STOPSIGNAL, so
# the rootfs tar goes through a `FROM scratch` + `ADD` build instead.
build_haproxy() {
  local image=haproxy:2.6 dir="$work/haproxy" rootfs="$work/haproxy/rootfs" haproxy version
  if present "$image"; then echo "build-images: $image present, skipped"; return; fi
  haproxy="$(find_bin haproxy 'apt-get install haproxy')"
  version="$("$haproxy" -v | sed -n 's/^HAProxy version \([0-9.]*\).*/\1/p')"
  case "$version" in
    2.6.*) ;;
    *) echo "build-images: $haproxy is version '$version', not 2.6.x: it cannot be tagged $image" >&2; return 1 ;;
  esac
  base_rootfs "$rootfs"
  install_busybox "$rootfs"
  printf 'haproxy:x:99:99::/var/lib/haproxy:/bin/false\n' >>"$rootfs/etc/passwd"
  printf 'haproxy:x:99:\n' >>"$rootfs/etc/group"
  mkdir -p "$rootfs"/{usr/local/sbin,usr/local/bin,usr/local/etc/haproxy,var/lib/haproxy}
  cp "$haproxy" "$rootfs/usr/local/sbin/haproxy"
  copy_libs "$rootfs" "$haproxy"
  if [ -d /etc/haproxy/errors ]; then cp -r /etc/haproxy/errors "$rootfs/usr/local/etc/haproxy/errors"; fi
  cat >"$rootfs/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# As in the official image: flags alone mean haproxy, and haproxy runs in
# master-worker mode (-W: SIGUSR2 reloads) in the foreground (-db).
set -e
if [ "${1#-}" != "$1" ]; then
  set -- haproxy "$@"
fi
if [ "$1" = 'haproxy' ]; then
  shift
  set -- haproxy -W -db "$@"
fi
exec "$@"
EOF
  chmod 755 "$rootfs/usr/local/bin/docker-entrypoint.sh"
  # Root-owned files, except /var/lib/haproxy (haproxy's home, the usual chroot).
  tar --numeric-owner --owner=0 --group=0 -C "$rootfs" --exclude=./var/lib/haproxy -cf "$dir/rootfs.tar" .
  tar --numeric-owner --owner=99 --group=99 -C "$rootfs" -rf "$dir/rootfs.tar" ./var/lib/haproxy
  cat >"$dir/Dockerfile" <<'EOF'
FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
STOPSIGNAL SIGUSR1
ENTRYPOINT ["docker-entrypoint.sh"]
USER haproxy
CMD ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
EOF
  rm -rf "$rootfs" # the context is the tar and the Dockerfile
  build_replacing "$image" -t "haproxy:$version" "$dir"
  echo "build-images: built $image, haproxy:$version from $("$haproxy" -v | head -n 1 | cut -d' ' -f1-3) ($(image_size "$image"))"
}

# keelson:dev from the top-level Dockerfile, which compiles the tree itself
# (`npm ci` inside the build reaches the npm registry from a container here).
# Always built: the layer cache makes an unchanged tree a no-op and a changed
# one rebuild from its first changed COPY. Its two build stages are tagged too
# (keelson-build:deps, keelson-build:build): a tag keeps exactly the current
# cache, and the image a build replaces is removed, so edits do not pile up
# untagged images. `--force` drops those images first: a cold build.
build_keelson() {
  local image=keelson:dev target
  # FROM node:20-bookworm-slim: there is nothing to pull it from.
  "$DOCKER" image inspect node:20-bookworm-slim >/dev/null 2>&1 || build_node
  if [ "$force" = 1 ]; then
    "$DOCKER" image rm "$image" keelson-build:build keelson-build:deps >/dev/null 2>&1 || true
  fi
  for target in deps build; do
    build_replacing "keelson-build:$target" --target "$target" "$root"
  done
  build_replacing "$image" "$root"
  if [ "$replaced" = 1 ]; then
    echo "build-images: built $image ($(image_size "$image"))"
  else
    echo "build-images: $image up to date"
  fi
}

# Builds and tags an image, removing the one the tag pointed at before (unless a
# container still uses it). Sets replaced=1 when the image changed, else 0.
build_replacing() {
  local tag="$1" old new
  shift
  old="$("$DOCKER" image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
  quiet_build -t "$tag" "$@"
  new="$("$DOCKER" image inspect --format '{{.Id}}' "$tag")"
  replaced=0
  [ "$old" = "$new" ] && return
  replaced=1
  if [ -n "$old" ]; then "$DOCKER" image rm "$old" >/dev/null 2>&1 || true; fi
}

# `docker build` (the legacy builder: no buildx here), its log shown only on failure.
quiet_build() {
  local log="$work/build.log"
  if ! "$DOCKER" build "$@" >"$log" 2>&1; then
    echo "build-images: docker build $* failed:" >&2
    tail -n 40 "$log" >&2
    return 1
  fi
}

image_size() {
  "$DOCKER" image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.1f MB", $1 / 1e6 }'
}

# Each image once, in the order named.
done_names=" "
for name in "${only[@]}"; do
  case "$done_names" in *" $name "*) continue ;; esac
  done_names+="$name "
  "build_$name"
done
