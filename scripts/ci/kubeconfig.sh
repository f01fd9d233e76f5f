#!/usr/bin/env bash
# Writes the cluster credentials a pipeline holds as a secret variable to a file kubectl reads, so the secret
# reaches the deploy only through the environment: KUBECONFIG_DATA (the kubeconfig's text) -> KUBECONFIG_FILE
# (default ~/.kube/config, mode 600). Pipelines whose secret store already provides a file (GitLab's file-type
# variable, Jenkins' secret file) set KUBECONFIG to it instead.
set -euo pipefail
: "${KUBECONFIG_DATA:?KUBECONFIG_DATA must hold the kubeconfig, from the pipeline secret store}"
file="${KUBECONFIG_FILE:-$HOME/.kube/config}"
umask 077
mkdir -p "$(dirname "$file")"
printf '%s\n' "$KUBECONFIG_DATA" >"$file"
chmod 600 "$file"
echo "kubeconfig written to $file ($(wc -c <"$file") bytes)"
