#!/usr/bin/env bash
# Installs the Debian (bookworm) packages a pipeline job or a developer machine needs, at pinned versions.
#   scripts/ci/install-system-packages.sh [TIER...]     TIER: base integration system image rehearsal
#                                                       (default: base integration system image)
#   scripts/ci/install-system-packages.sh --print TIER   the package=version list, installing nothing
# base: what the scripts themselves call (curl for the pinned downloads, git, ps). integration: PostgreSQL,
# promtool and amtool (rule and config checks).
# system: every server the system suites start (PostgreSQL, Prometheus + promtool, Alertmanager + amtool, etcd),
# the Docker CLI and compose, busybox for the local base images. image: the Docker CLI and busybox.
# rehearsal: debootstrap (npm run ci:rehearse).
# kubectl is not a Debian package: npm run deploy:tools downloads it, pinned and checksummed.
# A package already installed (any version) is kept, so a developer machine is not up- or downgraded; a clean CI
# container gets exactly the pins. The pins follow bookworm's current security/point releases: when Debian
# supersedes one, apt reports the version as not found and the pin is bumped here.
set -euo pipefail

declare -A PIN=(
  [ca-certificates]=20250419~deb12u2
  [curl]=7.88.1-10+deb12u15
  [git]=1:2.39.5-0+deb12u3
  [procps]=2:4.0.2-3
  [postgresql-15]=15.20-0+deb12u1
  [prometheus]=2.42.0+ds-5+deb12u1
  [prometheus-alertmanager]=0.25.0-1+b4
  [etcd-server]=3.4.23-4+b4
  [docker.io]=20.10.24+dfsg1-1+deb12u1+b6
  [docker-compose]=1.29.2-3
  [busybox-static]=1:1.35.0-4+deb12u1+b1
  [debootstrap]=1.0.128+nmu2+deb12u2
)
declare -A TIER=(
  [base]="ca-certificates curl git procps"
  [integration]="postgresql-15 prometheus prometheus-alertmanager"
  [system]="postgresql-15 prometheus prometheus-alertmanager etcd-server docker.io docker-compose busybox-static"
  [image]="docker.io busybox-static"
  [rehearsal]="debootstrap"
)

print=0
if [ "${1:-}" = --print ]; then print=1; shift; fi
tiers=("$@")
[ "${#tiers[@]}" -gt 0 ] || tiers=(base integration system image)
wanted=()
for tier in "${tiers[@]}"; do
  [ -n "${TIER[$tier]:-}" ] || { echo "unknown tier $tier (base integration system image)" >&2; exit 2; }
  read -r -a packages <<<"${TIER[$tier]}"
  for package in "${packages[@]}"; do
    [[ " ${wanted[*]} " == *" $package=${PIN[$package]} "* ]] || wanted+=("$package=${PIN[$package]}")
  done
done
if [ "$print" = 1 ]; then printf '%s\n' "${wanted[@]}"; exit 0; fi

missing=()
for pinned in "${wanted[@]}"; do
  package="${pinned%%=*}"
  installed=$(dpkg-query -W -f='${Status} ${Version}' "$package" 2>/dev/null || true)
  if [[ "$installed" == "install ok installed "* ]]; then
    [ "${installed##* }" = "${PIN[$package]}" ] || echo "keeping $package ${installed##* } (pin: ${PIN[$package]})" >&2
  else
    missing+=("$pinned")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    # A pipeline job wants exactly the pins. A machine provisioning itself (.ci/run, a laptop) sets
    # SYSTEM_PACKAGES_PINS=prefer: when Debian has superseded a pin it takes the archive's current version, says so,
    # and the pin is bumped here later.
    [ "${SYSTEM_PACKAGES_PINS:-exact}" = prefer ] || exit 1
    names=("${missing[@]%%=*}")
    echo "a pinned version is gone from the archive; installing the current ${names[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${names[@]}" >/dev/null
  fi
fi
echo "system packages ready: ${tiers[*]}"
