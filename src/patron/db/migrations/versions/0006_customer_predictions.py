"""customer predictions: scoring runs and each customer's latest predictions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import patron.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _timestamp() -> patron.db.types.UTCDateTime:
    return patron.db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "prediction_runs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("as_of", _timestamp(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("model", sa.String(length=20), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("settings", _JSON, nullable=False),
        sa.Column("fit", _JSON, nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name="fk_prediction_runs_shop_id_shops"),
        sa.PrimaryKeyConstraint("id", name="pk_prediction_runs"),
        sa.UniqueConstraint("shop_id", "as_of", name="uq_prediction_runs_shop_as_of"),
    )
    op.create_table(
        "customer_predictions",
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("as_of", _timestamp(), nullable=False),
        sa.Column("expected_orders", sa.Float(), nullable=True),
        sa.Column("p_alive", sa.Float(), nullable=True),
        sa.Column("prob_purchase", sa.Float(), nullable=True),
        sa.Column("churn_risk", sa.Float(), nullable=True),
        sa.Column("expected_aov_minor", sa.BigInteger(), nullable=True),
        sa.Column("clv_minor", sa.BigInteger(), nullable=True),
        sa.Column("next_order_at", _timestamp(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_customer_predictions_customer_id_customers",
        ),
        sa.PrimaryKeyConstraint("customer_id", name="pk_customer_predictions"),
    )
    op.create_index(
        "ix_customer_predictions_shop_clv", "customer_predictions", ["shop_id", "clv_minor"]
    )


def downgrade() -> None:
    op.drop_table("customer_predictions")
    op.drop_table("prediction_runs")
