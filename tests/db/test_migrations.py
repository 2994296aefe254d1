from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, func, insert, inspect, select

from patron.core import Patron
from patron.db import migrate
from patron.db import tables as t
from patron.db.engine import make_engine
from patron.db.tables import metadata


def test_migrations_build_exactly_the_declared_schema(patron: Patron) -> None:
    with patron.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, metadata) == []
    assert migrate.is_up_to_date(patron.engine)


def test_upgrade_is_idempotent(patron: Patron) -> None:
    assert patron.upgrade() == migrate.head_revision()
    assert patron.upgrade() == migrate.head_revision()
    tables = set(inspect(patron.engine).get_table_names())
    assert {
        "shops",
        "customers",
        "products",
        "orders",
        "order_lines",
        "refunds",
        "events",
        "reviews",
        "ingest_runs",
    } <= tables


def test_every_business_table_belongs_to_a_shop() -> None:
    for table in metadata.sorted_tables:
        if table.name not in ("shops", "ingest_runs"):
            assert "shop_id" in table.c, table.name
            assert not table.c.shop_id.nullable


_SHOP_CHILDREN = ("orders", "order_lines", "refunds", "reviews")


def _references_shops(engine: Engine, table: str) -> bool:
    return any(fk["referred_table"] == "shops" for fk in inspect(engine).get_foreign_keys(table))


def _shop_customer_product(connection: Connection, at: datetime) -> tuple[int, int, int]:
    """Row ids of a new shop "s", its customer "c" and its product "p"."""
    shop = connection.execute(
        insert(t.shops).values(name="s", timezone="UTC", currency="CNY", created_at=at)
    ).inserted_primary_key[0]
    customer = connection.execute(
        insert(t.customers).values(shop_id=shop, external_id="c", is_stub=True)
    ).inserted_primary_key[0]
    product = connection.execute(
        insert(t.products).values(shop_id=shop, sku="p", is_stub=True)
    ).inserted_primary_key[0]
    return shop, customer, product


def test_0002_drops_the_shop_keys_of_child_rows_and_back_keeping_every_row(
    database_url: str,
) -> None:
    """SQLite rebuilds a table to change its keys: the rows that refer to it (a refund's line,
    cascading) must survive the rebuild, both ways."""
    engine = make_engine(database_url)
    at = datetime(2026, 11, 23, tzinfo=UTC)
    try:
        migrate.upgrade(engine, "0001")
        with engine.begin() as connection:
            shop, customer, product = _shop_customer_product(connection, at)
            order = connection.execute(
                insert(t.orders).values(
                    shop_id=shop,
                    external_id="o",
                    customer_id=customer,
                    placed_at=at,
                    status="completed",
                    currency="CNY",
                    subtotal_minor=100,
                    discount_minor=0,
                    shipping_minor=0,
                    total_minor=100,
                    item_count=1,
                )
            ).inserted_primary_key[0]
            line = connection.execute(
                insert(t.order_lines).values(
                    shop_id=shop,
                    order_id=order,
                    line_no=1,
                    product_id=product,
                    quantity=1,
                    unit_price_minor=100,
                    line_total_minor=100,
                )
            ).inserted_primary_key[0]
            connection.execute(
                insert(t.refunds).values(
                    shop_id=shop,
                    external_id="r",
                    order_id=order,
                    order_line_id=line,
                    amount_minor=100,
                )
            )
            connection.execute(
                insert(t.reviews).values(
                    shop_id=shop,
                    external_id="v",
                    customer_id=customer,
                    product_id=product,
                    rating=5,
                    created_at=at,
                )
            )

        def counts() -> list[int]:
            with engine.connect() as connection:
                return [
                    connection.execute(
                        select(func.count()).select_from(t.metadata.tables[n])
                    ).scalar_one()
                    for n in _SHOP_CHILDREN
                ]

        assert migrate.upgrade(engine, "0002") == "0002"
        assert counts() == [1, 1, 1, 1]
        assert not any(_references_shops(engine, n) for n in _SHOP_CHILDREN)
        assert migrate.downgrade(engine, "0001") == "0001"
        assert counts() == [1, 1, 1, 1]
        assert all(_references_shops(engine, n) for n in _SHOP_CHILDREN)
    finally:
        engine.dispose()


def test_0004_drops_the_keys_of_events_and_back_keeping_every_row(database_url: str) -> None:
    engine = make_engine(database_url)
    at = datetime(2026, 11, 23, tzinfo=UTC)
    try:
        migrate.upgrade(engine, "0003")
        with engine.begin() as connection:
            shop, customer, product = _shop_customer_product(connection, at)
            connection.execute(
                insert(t.events).values(
                    shop_id=shop,
                    event_key="e",
                    event_type="view",
                    customer_id=customer,
                    product_id=product,
                    occurred_at=at,
                )
            )

        def state() -> tuple[int, list[str]]:
            with engine.connect() as connection:
                stored = connection.execute(select(func.count()).select_from(t.events))
                count = stored.scalar_one()
            keys = sorted(fk["referred_table"] for fk in inspect(engine).get_foreign_keys("events"))
            return count, keys

        assert migrate.upgrade(engine, "0004") == "0004"
        assert state() == (1, [])
        assert migrate.downgrade(engine, "0003") == "0003"
        assert state() == (1, ["customers", "products", "shops"])
    finally:
        engine.dispose()


def test_0006_adds_the_prediction_tables_and_drops_them(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine, "0005")
        assert "customer_predictions" not in inspect(engine).get_table_names()
        assert migrate.upgrade(engine, "0006") == "0006"
        assert {"prediction_runs", "customer_predictions"} <= set(inspect(engine).get_table_names())
        indexes = inspect(engine).get_indexes("customer_predictions")
        assert [i["column_names"] for i in indexes] == [["shop_id", "clv_minor"]]
        assert migrate.downgrade(engine, "0005") == "0005"
        assert not {"prediction_runs", "customer_predictions"} & set(
            inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()


def test_0007_drops_the_keys_of_the_audit_log_and_back(database_url: str) -> None:
    engine = make_engine(database_url)

    def keys() -> list[str]:
        return sorted(fk["referred_table"] for fk in inspect(engine).get_foreign_keys("audit_log"))

    try:
        migrate.upgrade(engine, "0006")
        assert keys() == ["api_keys", "shops"]
        assert migrate.upgrade(engine, "0007") == "0007"
        assert keys() == []
        assert migrate.downgrade(engine, "0006") == "0006"
        assert keys() == ["api_keys", "shops"]
    finally:
        engine.dispose()
