"""Operational database: engine, tables, migrations, shops."""
