"""events: no foreign keys

Events are the largest table and only ever appended. The statement that stores them resolves
their customer and product inside the shop (a join on the shop's natural keys), and customers
and products are never deleted (erasure keeps the row), so the three foreign-key checks per row
re-verified what the insert had just joined: 45 % of the time of storing a batch on PostgreSQL.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 17:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_KEYS = (
    ("fk_events_shop_id_shops", "shops", "shop_id"),
    ("fk_events_customer_id_customers", "customers", "customer_id"),
    ("fk_events_product_id_products", "products", "product_id"),
)


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        for name, _, _ in _KEYS:
            batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        for name, table, column in _KEYS:
            batch.create_foreign_key(name, table, [column], ["id"])
