"""Ingestion: read shop exports, map their columns, validate every row, load idempotently."""
