# dev-role: everything under the dev tree of the KV v2 mount `secret` (secret/dev/*), read only. Tokens live 1 h.
path "secret/data/dev/*" {
  capabilities = ["read"]
}

path "secret/metadata/dev/*" {
  capabilities = ["read", "list"]
}
