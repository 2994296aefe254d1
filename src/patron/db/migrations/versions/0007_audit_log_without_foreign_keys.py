"""audit_log: no foreign keys

Every write of the API adds an audit entry in the statement (or transaction) of the write. Its
keys to shops and api_keys made PostgreSQL lock the same shop row and the same key row for
every write, from every connection at once, and re-check what the guard had just verified (the
key, and its shop). Shops and keys are never deleted (a key is revoked, not removed), so the
entries cannot lose their referents.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 21:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_KEYS = (
    ("fk_audit_log_shop_id_shops", "shops", "shop_id"),
    ("fk_audit_log_api_key_id_api_keys", "api_keys", "api_key_id"),
)


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        for name, _, _ in _KEYS:
            batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        for name, table, column in _KEYS:
            batch.create_foreign_key(name, table, [column], ["id"])
