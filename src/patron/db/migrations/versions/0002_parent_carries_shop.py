"""orders, order lines, refunds, reviews: no foreign key from shop_id to shops

Each belongs to a parent row of the same shop (its customer or its order) whose own reference
holds already; checking the one shop row for every inserted row was a third of the cost of
loading order lines on PostgreSQL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 15:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TABLES = ("orders", "order_lines", "refunds", "reviews")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_shop_id_shops", type_="foreignkey")


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(f"fk_{table}_shop_id_shops", "shops", ["shop_id"], ["id"])
