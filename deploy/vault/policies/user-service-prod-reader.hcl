# prod-reader: what the running service needs in prod, read only (secret/prod/readonly/*). Tokens live 30 min.
path "secret/data/prod/readonly/*" {
  capabilities = ["read"]
}

path "secret/metadata/prod/readonly/*" {
  capabilities = ["read", "list"]
}
