"""Access to a shop's data over the API: keys and scopes, idempotent guarded writes, the audit log."""
