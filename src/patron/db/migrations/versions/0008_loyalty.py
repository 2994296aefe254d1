"""loyalty: programme versions, members, the points ledger and lots, tiers, points mall

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 22:16:54.442988
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import patron.db.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _timestamp() -> patron.db.types.UTCDateTime:
    return patron.db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "loyalty_daily_runs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("run_date", sa.Date(), nullable=False),
        sa.Column("counts", _JSON, nullable=False),
        sa.Column("started_at", _timestamp(), nullable=False),
        sa.Column("finished_at", _timestamp(), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_loyalty_daily_runs_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_daily_runs")),
        sa.UniqueConstraint("shop_id", "run_date", name="uq_loyalty_daily_runs_shop_date"),
    )
    op.create_table(
        "loyalty_programmes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", _JSON, nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_loyalty_programmes_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_programmes")),
        sa.UniqueConstraint("shop_id", "version", name="uq_loyalty_programmes_shop_version"),
    )
    op.create_table(
        "loyalty_rewards",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("title_zh", sa.String(length=200), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("per_member_limit", sa.Integer(), nullable=True),
        sa.Column("min_tier", sa.String(length=32), nullable=True),
        sa.Column("visible_from", _timestamp(), nullable=True),
        sa.Column("visible_until", _timestamp(), nullable=True),
        sa.Column("detail", _JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('coupon', 'product', 'discount')", name=op.f("ck_loyalty_rewards_kind")
        ),
        sa.CheckConstraint("points > 0", name=op.f("ck_loyalty_rewards_points")),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name=op.f("ck_loyalty_rewards_stock")),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_loyalty_rewards_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_rewards")),
        sa.UniqueConstraint("shop_id", "code", name="uq_loyalty_rewards_shop_code"),
    )
    op.create_table(
        "loyalty_members",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("joined_at", _timestamp(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.BigInteger(), nullable=False),
        sa.Column("debt", sa.BigInteger(), nullable=False),
        sa.Column("negative_allowed", sa.Boolean(), nullable=False),
        sa.Column("earned_total", sa.BigInteger(), nullable=False),
        sa.Column("redeemed_total", sa.BigInteger(), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("tier_since", _timestamp(), nullable=False),
        sa.Column("growth", sa.BigInteger(), nullable=False),
        sa.Column("downgrade_at", _timestamp(), nullable=True),
        sa.Column("signin_date", sa.Date(), nullable=True),
        sa.Column("signin_streak", sa.Integer(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.CheckConstraint(
            "balance >= 0 OR negative_allowed", name=op.f("ck_loyalty_members_balance")
        ),
        sa.CheckConstraint(
            "pending >= 0 AND debt >= 0", name=op.f("ck_loyalty_members_pending_debt")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_loyalty_members_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_members")),
        sa.UniqueConstraint("shop_id", "customer_id", name="uq_loyalty_members_shop_customer"),
    )
    with op.batch_alter_table("loyalty_members", schema=None) as batch_op:
        batch_op.create_index("ix_loyalty_members_shop_tier", ["shop_id", "tier"], unique=False)

    op.create_table(
        "loyalty_referrals",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("referrer_id", _ID, nullable=False),
        sa.Column("referred_id", _ID, nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("granted_at", _timestamp(), nullable=True),
        sa.ForeignKeyConstraint(
            ["referred_id"],
            ["customers.id"],
            name=op.f("fk_loyalty_referrals_referred_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["referrer_id"],
            ["customers.id"],
            name=op.f("fk_loyalty_referrals_referrer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_referrals")),
        sa.UniqueConstraint("shop_id", "referred_id", name="uq_loyalty_referrals_shop_referred"),
    )
    op.create_table(
        "loyalty_entries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.BigInteger(), nullable=False),
        sa.Column("debt", sa.BigInteger(), nullable=False),
        sa.Column("written_off", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("detail", _JSON, nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('earn', 'activate', 'redeem', 'expire', 'reverse', 'adjust')",
            name=op.f("ck_loyalty_entries_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["loyalty_members.id"],
            name=op.f("fk_loyalty_entries_member_id_loyalty_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_entries")),
        sa.UniqueConstraint("shop_id", "key", name="uq_loyalty_entries_shop_key"),
    )
    with op.batch_alter_table("loyalty_entries", schema=None) as batch_op:
        batch_op.create_index("ix_loyalty_entries_member", ["member_id", "id"], unique=False)
        batch_op.create_index(
            "ix_loyalty_entries_shop_created", ["shop_id", "created_at"], unique=False
        )

    op.create_table(
        "loyalty_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("occurred_at", _timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["loyalty_members.id"],
            name=op.f("fk_loyalty_events_member_id_loyalty_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_events")),
        sa.UniqueConstraint("shop_id", "key", name="uq_loyalty_events_shop_key"),
    )
    with op.batch_alter_table("loyalty_events", schema=None) as batch_op:
        batch_op.create_index("ix_loyalty_events_shop_id", ["shop_id", "id"], unique=False)

    op.create_table(
        "loyalty_tier_changes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("from_tier", sa.String(length=32), nullable=True),
        sa.Column("to_tier", sa.String(length=32), nullable=False),
        sa.Column("growth", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("at", _timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["loyalty_members.id"],
            name=op.f("fk_loyalty_tier_changes_member_id_loyalty_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_tier_changes")),
    )
    with op.batch_alter_table("loyalty_tier_changes", schema=None) as batch_op:
        batch_op.create_index("ix_loyalty_tier_changes_member", ["member_id", "at"], unique=False)

    op.create_table(
        "loyalty_lots",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("available_from", _timestamp(), nullable=False),
        sa.Column("expires_at", _timestamp(), nullable=True),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= amount", name=op.f("ck_loyalty_lots_remaining")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["loyalty_entries.id"],
            name=op.f("fk_loyalty_lots_entry_id_loyalty_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["loyalty_members.id"],
            name=op.f("fk_loyalty_lots_member_id_loyalty_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_lots")),
    )
    with op.batch_alter_table("loyalty_lots", schema=None) as batch_op:
        batch_op.create_index("ix_loyalty_lots_member", ["member_id", "remaining"], unique=False)
        batch_op.create_index(
            "ix_loyalty_lots_shop_expires", ["shop_id", "expires_at"], unique=False
        )

    op.create_table(
        "loyalty_reservations",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("reward_id", _ID, nullable=False),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("expires_at", _timestamp(), nullable=False),
        sa.Column("closed_at", _timestamp(), nullable=True),
        sa.CheckConstraint(
            "state IN ('reserved', 'confirmed', 'cancelled', 'expired')",
            name=op.f("ck_loyalty_reservations_state"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_loyalty_reservations_quantity")),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["loyalty_entries.id"],
            name=op.f("fk_loyalty_reservations_entry_id_loyalty_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["loyalty_members.id"],
            name=op.f("fk_loyalty_reservations_member_id_loyalty_members"),
        ),
        sa.ForeignKeyConstraint(
            ["reward_id"],
            ["loyalty_rewards.id"],
            name=op.f("fk_loyalty_reservations_reward_id_loyalty_rewards"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_reservations")),
        sa.UniqueConstraint("shop_id", "key", name="uq_loyalty_reservations_shop_key"),
    )
    with op.batch_alter_table("loyalty_reservations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_loyalty_reservations_member", ["member_id", "reward_id"], unique=False
        )
        batch_op.create_index(
            "ix_loyalty_reservations_state", ["shop_id", "state", "expires_at"], unique=False
        )

    op.create_table(
        "loyalty_lot_uses",
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("lot_id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["loyalty_entries.id"],
            name=op.f("fk_loyalty_lot_uses_entry_id_loyalty_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["loyalty_lots.id"], name=op.f("fk_loyalty_lot_uses_lot_id_loyalty_lots")
        ),
        sa.PrimaryKeyConstraint("entry_id", "lot_id", name=op.f("pk_loyalty_lot_uses")),
    )


def downgrade() -> None:
    op.drop_table("loyalty_lot_uses")
    with op.batch_alter_table("loyalty_reservations", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_reservations_state")
        batch_op.drop_index("ix_loyalty_reservations_member")

    op.drop_table("loyalty_reservations")
    with op.batch_alter_table("loyalty_lots", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_lots_shop_expires")
        batch_op.drop_index("ix_loyalty_lots_member")

    op.drop_table("loyalty_lots")
    with op.batch_alter_table("loyalty_tier_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_tier_changes_member")

    op.drop_table("loyalty_tier_changes")
    with op.batch_alter_table("loyalty_events", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_events_shop_id")

    op.drop_table("loyalty_events")
    with op.batch_alter_table("loyalty_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_entries_shop_created")
        batch_op.drop_index("ix_loyalty_entries_member")

    op.drop_table("loyalty_entries")
    op.drop_table("loyalty_referrals")
    with op.batch_alter_table("loyalty_members", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_members_shop_tier")

    op.drop_table("loyalty_members")
    op.drop_table("loyalty_rewards")
    op.drop_table("loyalty_programmes")
    op.drop_table("loyalty_daily_runs")
