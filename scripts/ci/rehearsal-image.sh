#!/usr/bin/env bash
# Makes the local stand-ins for the pipelines' job image (node:24.21.0-bookworm-slim) and runner VM that
# `npm run ci:rehearse` runs jobs in, since no image registry is reachable here:
#   job image: a Debian bookworm minbase root filesystem made by debootstrap from the Debian mirror (the same
#     archive the jobs' apt-get installs from), with Node 24 and npm in /usr/local as in the official node image,
#     the official Debian images' policy-rc.d (packages do not start services) and their apt sources.
#   VM image: the job image plus what a hosted runner has before any step runs (Docker CLI, git, curl).
# Nothing the jobs install is baked in: they install it themselves, so a missing install step fails the rehearsal.
# The host's CA bundle goes in beside the system one (/usr/local/share/rehearsal/host-ca.crt,
# NODE_EXTRA_CA_CERTS) because the npm registry is reached through a TLS proxy; apt stays on plain http.
# Prints "JOB_IMAGE VM_IMAGE". Images are tagged by a hash of their inputs and reused.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The pinned Node 24 binary, wherever npm placed it (node_modules/.bin/node links to it).
node_bin=$(readlink -f node_modules/.bin/node 2>/dev/null || true)
[ -x "$node_bin" ] && "$node_bin" --version | grep -q "^v24\." || { echo "no Node 24 at node_modules/.bin/node (run npm ci)" >&2; exit 1; }
npm_src=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
[ -f "$npm_src/bin/npm-cli.js" ] || npm_src=/usr/lib/node_modules/npm
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
tag=$(cat "$node_bin" "$0" | sha256sum | cut -c1-12)
job_image="local/rehearsal-job:$tag"
vm_image="local/rehearsal-vm:$tag"

if ! docker image inspect "$job_image" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || bash scripts/ci/install-system-packages.sh rehearsal >&2
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  echo "debootstrap bookworm from $mirror" >&2
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
  root="$work/rootfs"
  rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
  cp "$node_bin" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules" "$root/usr/local/share/rehearsal"
  cp -a "$npm_src" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  cp /etc/ssl/certs/ca-certificates.crt "$root/usr/local/share/rehearsal/host-ca.crt"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"; chmod +x "$root/usr/sbin/policy-rc.d"
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/rehearsal/host-ca.crt' \
    --change 'CMD ["bash"]' - "$job_image" >/dev/null
  echo "made $job_image" >&2
fi
if ! docker image inspect "$vm_image" >/dev/null 2>&1; then
  container="rehearsal-vm-$tag-$$"
  docker run --name "$container" --network host "$job_image" bash -c \
    'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io git curl ca-certificates >/dev/null && rm -rf /var/lib/apt/lists/*' >&2
  docker commit "$container" "$vm_image" >/dev/null
  docker rm "$container" >/dev/null
  echo "made $vm_image" >&2
fi
echo "$job_image $vm_image"
