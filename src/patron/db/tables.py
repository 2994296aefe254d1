"""The operational data model. Every row belongs to a shop; natural keys are unique per shop;
money is integer minor units with a currency; timestamps are UTC-aware."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from patron.db.types import Id, JSONDocument, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _shop_id() -> Column[int]:
    return Column("shop_id", Id, ForeignKey("shops.id"), nullable=False)


def _parent_shop_id() -> Column[int]:
    """The shop of a row that belongs to a parent row of the shop (its customer, its order),
    without a foreign key to shops: the parent's own already holds, and on PostgreSQL checking
    the same shop row for every row cost a third of the time of loading order lines."""
    return Column("shop_id", Id, nullable=False)


shops = Table(
    "shops",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("timezone", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Id, primary_key=True),
    _shop_id(),
    Column("external_id", String(128), nullable=False),
    # PII: wiped on erasure.
    Column("name", String(200)),
    Column("email", String(320)),
    Column("phone", String(40)),
    Column("gender", String(1)),
    Column("birth_date", Date),
    Column("region", String(100)),
    Column("city", String(100)),
    Column("city_tier", SmallInteger),
    Column("signup_at", UTCDateTime),
    Column("acquisition_channel", String(64)),
    Column("consent_email", Boolean),
    Column("consent_sms", Boolean),
    Column("consent_push", Boolean),
    Column("attributes", JSONDocument),
    # A stub is a customer known only from an order or event, not yet from a customer file.
    Column("is_stub", Boolean, nullable=False),
    Column("updated_at", UTCDateTime),
    # Set by the right to erasure: PII wiped, external_id replaced by a random pseudonym.
    Column("erased_at", UTCDateTime),
    UniqueConstraint("shop_id", "external_id", name="uq_customers_shop_external"),
    CheckConstraint("gender IN ('F', 'M', 'O')", name="gender"),
    CheckConstraint("city_tier BETWEEN 1 AND 6", name="city_tier"),
)

products = Table(
    "products",
    metadata,
    Column("id", Id, primary_key=True),
    _shop_id(),
    Column("sku", String(128), nullable=False),
    Column("title", String(500)),
    Column("category_path", String(500)),
    Column("brand", String(200)),
    Column("list_price_minor", BigInteger),
    Column("currency", String(3)),
    Column("is_stub", Boolean, nullable=False),
    Column("updated_at", UTCDateTime),
    UniqueConstraint("shop_id", "sku", name="uq_products_shop_sku"),
    CheckConstraint("list_price_minor >= 0", name="list_price"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True),
    _parent_shop_id(),
    Column("external_id", String(128), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("placed_at", UTCDateTime, nullable=False),
    Column("paid_at", UTCDateTime),
    Column("status", String(20), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("subtotal_minor", BigInteger, nullable=False),
    Column("discount_minor", BigInteger, nullable=False),
    Column("shipping_minor", BigInteger, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("channel", String(64)),
    Column("coupon_codes", String(500)),
    Column("updated_at", UTCDateTime),
    UniqueConstraint("shop_id", "external_id", name="uq_orders_shop_external"),
    Index("ix_orders_shop_customer_placed", "shop_id", "customer_id", "placed_at"),
    Index("ix_orders_shop_placed", "shop_id", "placed_at"),
    CheckConstraint(
        "status IN ('pending', 'paid', 'shipped', 'completed', 'cancelled', 'refunded')",
        name="status",
    ),
    CheckConstraint("discount_minor >= 0 AND shipping_minor >= 0", name="amounts"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("id", Id, primary_key=True),
    _parent_shop_id(),
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("product_id", Id, ForeignKey("products.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_minor", BigInteger, nullable=False),
    Column("line_total_minor", BigInteger, nullable=False),
    UniqueConstraint("order_id", "line_no", name="uq_order_lines_order_line_no"),
    Index("ix_order_lines_shop_product", "shop_id", "product_id"),
    CheckConstraint("line_no >= 1", name="line_no"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Id, primary_key=True),
    _parent_shop_id(),
    Column("external_id", String(160), nullable=False),
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    # NULL when the refund is on the whole order (exports that only carry a refunded amount).
    Column("order_line_id", Id, ForeignKey("order_lines.id", ondelete="CASCADE")),
    Column("quantity", Integer),
    Column("amount_minor", BigInteger, nullable=False),
    Column("refunded_at", UTCDateTime),
    Column("reason", String(500)),
    UniqueConstraint("shop_id", "external_id", name="uq_refunds_shop_external"),
    Index("ix_refunds_order", "order_id"),
    CheckConstraint("amount_minor >= 0", name="amount"),
    CheckConstraint("quantity IS NULL OR quantity >= 0", name="quantity"),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True),
    # No foreign keys (migration 0004): the insert resolves customer and product inside the
    # shop, and neither is ever deleted; checking each row again cost 45 % of storing a batch.
    Column("shop_id", Id, nullable=False),
    # The event id of the source, or a digest of the event's content when the source has none.
    Column("event_key", String(64), nullable=False),
    Column("event_type", String(20), nullable=False),
    Column("customer_id", Id),
    Column("product_id", Id),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("session_id", String(128)),
    Column("query", String(500)),
    UniqueConstraint("shop_id", "event_key", name="uq_events_shop_key"),
    Index("ix_events_shop_customer_occurred", "shop_id", "customer_id", "occurred_at"),
    CheckConstraint(
        "event_type IN ('visit', 'view', 'search', 'favorite', 'cart_add', 'cart_remove',"
        " 'checkout_start', 'inquiry', 'review', 'share', 'sign_in')",
        name="event_type",
    ),
)

reviews = Table(
    "reviews",
    metadata,
    Column("id", Id, primary_key=True),
    _parent_shop_id(),
    Column("external_id", String(128), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("product_id", Id, ForeignKey("products.id"), nullable=False),
    Column("order_id", Id, ForeignKey("orders.id")),
    Column("rating", SmallInteger, nullable=False),
    Column("text", Text),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("shop_id", "external_id", name="uq_reviews_shop_external"),
    CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
)

ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("id", Id, primary_key=True),
    # The shop's name, not a foreign key: a rejected run is recorded even when it named a new shop,
    # which the rejection must not create.
    Column("shop", String(100), nullable=False),
    Column("entity", String(20), nullable=False),
    Column("source", String(1000), nullable=False),
    Column("profile", String(100), nullable=False),
    Column("status", String(20), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("rows_read", BigInteger, nullable=False),
    Column("rows_rejected", BigInteger, nullable=False),
    Column("quarantine_path", String(1000)),
    # Per-table counts: inserted / updated / unchanged, stubs created.
    Column("counts", JSONDocument, nullable=False),
    CheckConstraint("status IN ('stored', 'rejected')", name="status"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True),
    _shop_id(),
    # The public part of a key (`ptk_<prefix>_<secret>`): finds the row without the secret.
    Column("prefix", String(16), nullable=False, unique=True),
    Column("salt", String(32), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", String(64), nullable=False),
    Column("label", String(200)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", Id, primary_key=True),
    _shop_id(),
    Column("key", String(255), nullable=False),
    Column("route", String(200), nullable=False),
    # SHA-256 of the method, route and body: the same key with another request is refused.
    Column("request_hash", String(64), nullable=False),
    Column("status_code", SmallInteger, nullable=False),
    Column("response", JSONDocument, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("shop_id", "key", name="uq_idempotency_keys_shop_key"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True),
    # No foreign keys: every write adds an entry, and the keys made PostgreSQL lock the same
    # shop and key rows for each (migration 0007); shops and keys are never deleted.
    Column("shop_id", Id, nullable=False),
    # NULL for writes made from the command line.
    Column("api_key_id", Id),
    Column("method", String(8), nullable=False),
    Column("route", String(200), nullable=False),
    Column("target", String(300)),
    Column("status_code", SmallInteger, nullable=False),
    Column("error_code", String(64)),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_audit_log_shop_id", "shop_id", "id"),
)

# --- analytics snapshots (written back by `patron analyze`, read by the services) -----------

analysis_runs = Table(
    "analysis_runs",
    metadata,
    Column("id", Id, primary_key=True),
    _shop_id(),
    Column("as_of", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Stage thresholds in days with where each came from, segment schemes used, the KPIs.
    Column("settings", JSONDocument, nullable=False),
    Column("kpis", JSONDocument, nullable=False),
    UniqueConstraint("shop_id", "as_of", name="uq_analysis_runs_shop_as_of"),
)

customer_profiles = Table(
    "customer_profiles",
    metadata,
    _parent_shop_id(),
    # The latest analysed profile of each customer; replaced by every newer analysis.
    Column("customer_id", Id, ForeignKey("customers.id"), primary_key=True),
    Column("as_of", UTCDateTime, nullable=False),
    Column("orders", Integer, nullable=False),
    Column("net_minor", BigInteger, nullable=False),
    Column("days_since_last_order", Integer),
    Column("r_score", SmallInteger),
    Column("f_score", SmallInteger),
    Column("m_score", SmallInteger),
    Column("rfm_cell", String(3)),
    Column("grid_segment", String(40)),
    Column("segment", String(40)),
    Column("stage", String(12), nullable=False),
    # Preference and attribute tags (tag key → value) and real-time intent.
    Column("tags", JSONDocument),
    Column("intent_score", Float),
    Column("intent_reasons", String(200)),
    Index("ix_customer_profiles_shop_stage", "shop_id", "stage"),
    Index("ix_customer_profiles_shop_segment", "shop_id", "segment"),
)

customer_stage_changes = Table(
    "customer_stage_changes",
    metadata,
    Column("id", Id, primary_key=True),
    _parent_shop_id(),
    # A row per customer whose stage differs from the one of the previous analysis (or who
    # is analysed the first time): the stage at a date is that of the last change before it.
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("as_of", UTCDateTime, nullable=False),
    Column("stage", String(12), nullable=False),
    Column("previous_stage", String(12)),
    UniqueConstraint("customer_id", "as_of", name="uq_customer_stage_changes_customer_id"),
    Index("ix_customer_stage_changes_shop_as_of", "shop_id", "as_of"),
)

prediction_runs = Table(
    "prediction_runs",
    metadata,
    Column("id", Id, primary_key=True),
    _shop_id(),
    Column("as_of", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("model", String(20), nullable=False),
    Column("horizon_days", Integer, nullable=False),
    Column("customers", Integer, nullable=False),
    # Time unit, discount rate, margin, churn model and horizon the scores were computed with.
    Column("settings", JSONDocument, nullable=False),
    # The fitted purchase and spend models (parameters, log-likelihood, customers, convergence).
    Column("fit", JSONDocument, nullable=False),
    UniqueConstraint("shop_id", "as_of", name="uq_prediction_runs_shop_as_of"),
)

customer_predictions = Table(
    "customer_predictions",
    metadata,
    _parent_shop_id(),
    # The latest predictions of each customer; replaced by every newer scoring run. A customer
    # who never bought has no purchase history to predict from: every prediction is null.
    Column("customer_id", Id, ForeignKey("customers.id"), primary_key=True),
    Column("as_of", UTCDateTime, nullable=False),
    Column("expected_orders", Float),
    Column("p_alive", Float),
    Column("prob_purchase", Float),
    Column("churn_risk", Float),
    Column("expected_aov_minor", BigInteger),
    Column("clv_minor", BigInteger),
    Column("next_order_at", UTCDateTime),
    Index("ix_customer_predictions_shop_clv", "shop_id", "clv_minor"),
)

# --- loyalty: programme, members, the points ledger and lots, tiers, points mall ------------

loyalty_programmes = Table(
    "loyalty_programmes",
    metadata,
    Column("id", Id, primary_key=True),
    _shop_id(),
    # Every change is a new version; the highest one is in force.
    Column("version", Integer, nullable=False),
    Column("document", JSONDocument, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("shop_id", "version", name="uq_loyalty_programmes_shop_version"),
)

loyalty_members = Table(
    "loyalty_members",
    metadata,
    Column("id", Id, primary_key=True),
    _parent_shop_id(),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("joined_at", UTCDateTime, nullable=False),
    # Cached sums of the member's ledger entries, changed in the same transaction as them.
    Column("balance", BigInteger, nullable=False),
    Column("pending", BigInteger, nullable=False),
    Column("debt", BigInteger, nullable=False),
    # Set from the programme's refund policy: only then may the balance go below zero.
    Column("negative_allowed", Boolean, nullable=False),
    Column("earned_total", BigInteger, nullable=False),
    Column("redeemed_total", BigInteger, nullable=False),
    Column("tier", String(32), nullable=False),
    Column("tier_since", UTCDateTime, nullable=False),
    Column("growth", BigInteger, nullable=False),
    # Below the tier's threshold at an evaluation: downgraded at this moment unless it recovers.
    Column("downgrade_at", UTCDateTime),
    Column("signin_date", Date),
    Column("signin_streak", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("shop_id", "customer_id", name="uq_loyalty_members_shop_customer"),
    CheckConstraint("balance >= 0 OR negative_allowed", name="balance"),
    CheckConstraint("pending >= 0 AND debt >= 0", name="pending_debt"),
    Index("ix_loyalty_members_shop_tier", "shop_id", "tier"),
)

loyalty_entries = Table(
    "loyalty_entries",
    metadata,
    Column("id", Id, primary_key=True),
    _parent_shop_id(),
    Column("member_id", Id, ForeignKey("loyalty_members.id"), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("pending", BigInteger, nullable=False),
    Column("debt", BigInteger, nullable=False),
    Column("written_off", BigInteger, nullable=False),
    # The write's idempotency key: a retried grant or redemption finds it and adds nothing.
    Column("key", String(255), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("source", String(200), nullable=False),
    # Order lines and their points (earn), reservation or operator (adjust)…
    Column("detail", JSONDocument),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("shop_id", "key", name="uq_loyalty_entries_shop_key"),
    Index("ix_loyalty_entries_member", "member_id", "id"),
    Index("ix_loyalty_entries_shop_created", "shop_id", "created_at"),
    CheckConstraint(
        "kind IN ('earn', 'activate', 'redeem', 'expire', 'reverse', 'adjust')", name="kind"
    ),
)

loyalty_lots = Table(
    "loyalty_lots",
    metadata,
    Column("id", Id, primary_key=True),
    _parent_shop_id(),
    Column("member_id", Id, ForeignKey("loyalty_members.id"), nullable=False),
    Column("entry_id", Id, ForeignKey("loyalty_entries.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("available_from", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("pending", Boolean, nullable=False),
    Column("source", String(200), nullable=False),
    # The key of the granting entry: the lot's activation and expiry entries are keyed by it.
    Column("key", String(255), nullable=False),
    Index("ix_loyalty_lots_member", "member_id", "remaining"),
    Index("ix_loyalty_lots_shop_expires", "shop_id", "expires_at"),
    CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining"),
)

loyalty_lot_uses = Table(
    "loyalty_lot_uses",
    metadata,
    # Which lots an entry took points from (negative) or gave points back to (positive).
    Column("entry_id", Id, ForeignKey("loyalty_entries.id"), primary_key=True),
    Column("lot_id", Id, ForeignKey("loyalty_lots.id"), primary_key=True),
    _parent_shop_id(),
    Column("points", BigInteger, nullable=False),
)

loyalty_tier_changes = Table(
    "loyalty_tier_changes",
    metadata,
    Column("id", Id, primary_key=True),
    _parent_shop_id(),
    Column("member_id", Id, ForeignKey("loyalty_members.id"), nullable=False),
    Column("from_tier", String(32)),
    Column("to_tier", String(32), nullable=False),
    Column("growth", BigInteger, nullable=False),
    Column("reason", String(40), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_loyalty_tier_changes_member", "member_id", "at"),
)

loyalty_events = Table(
    "loyalty_events",
    metadata,
    Column("id", Id, primary_key=True),
    _parent_shop_id(),
    Column("member_id", Id, ForeignKey("loyalty_members.id"), nullable=False),
    # points_expiring, will_downgrade, tier_changed, birthday…; the outreach workers consume them.
    Column("kind", String(32), nullable=False),
    # Unique per shop: a daily run made twice emits each event once.
    Column("key", String(255), nullable=False),
    Column("payload", JSONDocument, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    UniqueConstraint("shop_id", "key", name="uq_loyalty_events_shop_key"),
    Index("ix_loyalty_events_shop_id", "shop_id", "id"),
)

loyalty_referrals = Table(
    "loyalty_referrals",
    metadata,
    Column("id", Id, primary_key=True),
    _parent_shop_id(),
    Column("referrer_id", Id, ForeignKey("customers.id"), nullable=False),
    # A customer is referred once: the first referral recorded wins.
    Column("referred_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("granted_at", UTCDateTime),
    UniqueConstraint("shop_id", "referred_id", name="uq_loyalty_referrals_shop_referred"),
)

loyalty_rewards = Table(
    "loyalty_rewards",
    metadata,
    Column("id", Id, primary_key=True),
    _shop_id(),
    Column("code", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("title_en", String(200), nullable=False),
    Column("title_zh", String(200), nullable=False),
    Column("points", BigInteger, nullable=False),
    # NULL: unlimited. Reserved units count as taken until released.
    Column("stock", Integer),
    Column("per_member_limit", Integer),
    Column("min_tier", String(32)),
    Column("visible_from", UTCDateTime),
    Column("visible_until", UTCDateTime),
    # The coupon template, the product SKU, or the discount in minor units.
    Column("detail", JSONDocument, nullable=False),
    Column("active", Boolean, nullable=False),
    UniqueConstraint("shop_id", "code", name="uq_loyalty_rewards_shop_code"),
    CheckConstraint("points > 0", name="points"),
    CheckConstraint("stock IS NULL OR stock >= 0", name="stock"),
    CheckConstraint("kind IN ('coupon', 'product', 'discount')", name="kind"),
)

loyalty_reservations = Table(
    "loyalty_reservations",
    metadata,
    Column("id", Id, primary_key=True),
    _parent_shop_id(),
    Column("reward_id", Id, ForeignKey("loyalty_rewards.id"), nullable=False),
    Column("member_id", Id, ForeignKey("loyalty_members.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("state", String(12), nullable=False),
    # The redemption entry that holds the points while reserved.
    Column("entry_id", Id, ForeignKey("loyalty_entries.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
    UniqueConstraint("shop_id", "key", name="uq_loyalty_reservations_shop_key"),
    Index("ix_loyalty_reservations_state", "shop_id", "state", "expires_at"),
    Index("ix_loyalty_reservations_member", "member_id", "reward_id"),
    CheckConstraint("quantity > 0", name="quantity"),
    CheckConstraint("state IN ('reserved', 'confirmed', 'cancelled', 'expired')", name="state"),
)

loyalty_daily_runs = Table(
    "loyalty_daily_runs",
    metadata,
    Column("id", Id, primary_key=True),
    _shop_id(),
    # The local date of the programme the run was for, and what each step did.
    Column("run_date", Date, nullable=False),
    Column("counts", JSONDocument, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    UniqueConstraint("shop_id", "run_date", name="uq_loyalty_daily_runs_shop_date"),
)
