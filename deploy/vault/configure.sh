#!/usr/bin/env bash
# Writes the policies and roles of this directory into Vault (VAULT_ADDR, and a token allowed to manage policies
# and auth roles, e.g. from `vault login`). Idempotent: every write replaces the previous version.
#   policies/NAME.hcl            -> vault policy write NAME
#   roles/kubernetes/NAME.json   -> auth/kubernetes/role/NAME (pods: service-account token)
#   roles/approle/NAME.json      -> auth/approle/role/NAME (in-process AppRole login, pipelines, people)
set -euo pipefail
cd "$(dirname "$0")"
for file in policies/*.hcl; do
  vault policy write "$(basename "$file" .hcl)" "$file"
done
for method in kubernetes approle; do
  for file in "roles/$method"/*.json; do
    vault write "auth/$method/role/$(basename "$file" .json)" "@$file"
  done
done
