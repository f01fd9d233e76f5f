#!/usr/bin/env bash
# Installs the Debian packages the test suites need (the real servers), once; a no-op when all are present.
set -euo pipefail
packages=(postgresql prometheus prometheus-alertmanager etcd-server docker.io busybox-static docker-compose)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
