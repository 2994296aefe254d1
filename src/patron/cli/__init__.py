"""The `patron` command line."""
