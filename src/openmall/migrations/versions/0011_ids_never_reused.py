"""ids never reused: SQLite tables keyed by a number become AUTOINCREMENT

SQLite hands the rowid of a deleted row to the next insert unless the table is ``AUTOINCREMENT``: a deleted
product's number went to the next product, and an old order line then named the new product. Every table keyed by
one integer column is rebuilt with the keyword (``kernel.db`` gives it to the tables of the models and of later
migrations). Numbers already gone cannot all be known; those still named by order lines and by the events the apps
received are reserved, so that none of them is handed out again.

PostgreSQL: nothing to do, its sequences never hand a number out twice.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# every table keyed by one integer column at revision 0010
TABLES = (
    "events", "brands", "categories", "products", "variants", "member_groups", "members", "member_identities",
    "member_tokens", "member_addresses", "mileage_entries", "operators", "developers", "apps", "installs",
    "authorization_codes", "tokens", "cart_items", "order_sheets", "payments", "order_sequences", "orders",
    "order_options", "shipments", "claims", "shipping_policies", "bank_accounts", "coupons", "issued_coupons",
    "webhook_subscriptions", "webhook_deliveries", "webhook_attempts",
)  # fmt: skip

# numbers of rows that may be gone, still named elsewhere: (table, SQL giving the highest such number)
NAMED_ELSEWHERE = (
    ("products", "SELECT max(product_no) FROM order_options"),
    ("products", "SELECT max(CAST(json_extract(data, '$.product_no') AS INTEGER)) FROM events "
                 "WHERE type LIKE 'product.%'"),
    ("variants", "SELECT max(variant_no) FROM order_options"),
    ("orders", "SELECT max(order_no) FROM claims"),
    # an order sheet's lines name the cart lines its payment removes
    ("cart_items", "SELECT max(CAST(json_extract(line.value, '$.cart_item_no') AS INTEGER)) "
                   "FROM order_sheets, json_each(order_sheets.items) AS line"),
)  # fmt: skip


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table in TABLES:
        # the copy is built AUTOINCREMENT; its rows keep their numbers, and SQLite's sqlite_sequence starts from
        # the highest of them
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass
    for table, highest in NAMED_ELSEWHERE:
        _reserve_up_to(bind, table, bind.execute(sa.text(highest)).scalar())


def _reserve_up_to(bind: sa.Connection, table: str, number: int | None) -> None:
    """The next number of ``table`` comes after ``number``."""
    if number is None:
        return
    seq = bind.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table}).scalar()
    if seq is None:
        bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :n)"), {"t": table, "n": number})
    elif seq < number:
        bind.execute(sa.text("UPDATE sqlite_sequence SET seq = :n WHERE name = :t"), {"t": table, "n": number})


def downgrade() -> None:
    pass  # AUTOINCREMENT is harmless to the schema before it; numbers stay never reused
