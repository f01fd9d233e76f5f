# staging reader: the service's read-only staging secrets (secret/staging/readonly/*), as prod-reader for prod.
# Tokens live 30 min.
path "secret/data/staging/readonly/*" {
  capabilities = ["read"]
}

path "secret/metadata/staging/readonly/*" {
  capabilities = ["read", "list"]
}
