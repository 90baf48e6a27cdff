"""selective indexes: no index on mall_id alone, and (mall_id, product_no) for a product's variants

Without planner statistics (a fresh or just-loaded database), SQLite chose an index that starts with
mall_id alone for ``variants WHERE mall_id = ? AND product_no IN (...)`` and scanned every variant of
the mall.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 18:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROPPED = (("variants", "ix_variants_mall_id"), ("products", "ix_products_mall_id"),
           ("product_categories", "ix_product_categories_mall_id"), ("brands", "ix_brands_mall_id"))  # fmt: skip


def upgrade() -> None:
    for table, index in DROPPED:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(index)
    # a product's variants; ranks above uq (mall_id, variant_code), which also starts with mall_id
    with op.batch_alter_table("variants") as batch:
        batch.create_index("ix_variants_mall_product", ["mall_id", "product_no"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("variants") as batch:
        batch.drop_index("ix_variants_mall_product")
    for table, index in DROPPED:
        with op.batch_alter_table(table) as batch:
            batch.create_index(index, ["mall_id"], unique=False)
