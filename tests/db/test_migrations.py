from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from patron.core import Patron
from patron.db import migrate
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
