"""analytics snapshots: analysis runs, the latest customer profiles, stage changes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 18:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import patron.db.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _timestamp() -> patron.db.types.UTCDateTime:
    return patron.db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "analysis_runs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("as_of", _timestamp(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("settings", _JSON, nullable=False),
        sa.Column("kpis", _JSON, nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name="fk_analysis_runs_shop_id_shops"),
        sa.PrimaryKeyConstraint("id", name="pk_analysis_runs"),
        sa.UniqueConstraint("shop_id", "as_of", name="uq_analysis_runs_shop_as_of"),
    )
    op.create_table(
        "customer_profiles",
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("as_of", _timestamp(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("days_since_last_order", sa.Integer(), nullable=True),
        sa.Column("r_score", sa.SmallInteger(), nullable=True),
        sa.Column("f_score", sa.SmallInteger(), nullable=True),
        sa.Column("m_score", sa.SmallInteger(), nullable=True),
        sa.Column("rfm_cell", sa.String(length=3), nullable=True),
        sa.Column("grid_segment", sa.String(length=40), nullable=True),
        sa.Column("segment", sa.String(length=40), nullable=True),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("tags", _JSON, nullable=True),
        sa.Column("intent_score", sa.Float(), nullable=True),
        sa.Column("intent_reasons", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_customer_profiles_customer_id_customers"
        ),
        sa.PrimaryKeyConstraint("customer_id", name="pk_customer_profiles"),
    )
    op.create_index("ix_customer_profiles_shop_stage", "customer_profiles", ["shop_id", "stage"])
    op.create_index(
        "ix_customer_profiles_shop_segment", "customer_profiles", ["shop_id", "segment"]
    )
    op.create_table(
        "customer_stage_changes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("as_of", _timestamp(), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("previous_stage", sa.String(length=12), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_customer_stage_changes_customer_id_customers",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_customer_stage_changes"),
        sa.UniqueConstraint("customer_id", "as_of", name="uq_customer_stage_changes_customer_id"),
    )
    op.create_index(
        "ix_customer_stage_changes_shop_as_of", "customer_stage_changes", ["shop_id", "as_of"]
    )


def downgrade() -> None:
    op.drop_table("customer_stage_changes")
    op.drop_table("customer_profiles")
    op.drop_table("analysis_runs")
