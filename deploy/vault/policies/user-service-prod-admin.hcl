# prod-admin: writes and rotates every prod secret (secret/prod/*), for the release pipeline and on-call people;
# never given to pods. Tokens live 10 min.
path "secret/data/prod/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

path "secret/metadata/prod/*" {
  capabilities = ["read", "list", "update", "delete"]
}

path "secret/delete/prod/*" {
  capabilities = ["update"]
}

path "secret/undelete/prod/*" {
  capabilities = ["update"]
}

path "secret/destroy/prod/*" {
  capabilities = ["update"]
}
