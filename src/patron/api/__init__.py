"""The HTTP API: `create_app(settings)` builds it; one router module per domain."""
