"""Access to a shop's data over the API: keys and scopes, guarded idempotent writes, audit."""
