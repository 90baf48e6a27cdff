"""malls and catalog

Revision ID: 0001
Revises:
Create Date: 2026-11-27 16:46:31.189778
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit ids on PostgreSQL; INTEGER on SQLite, where only that is a rowid primary key
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "malls",
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mall_id", name=op.f("pk_malls")),
    )
    op.create_table(
        "brands",
        sa.Column("brand_no", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_brands_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("brand_no", name=op.f("pk_brands")),
        sa.UniqueConstraint("mall_id", "name", name=op.f("uq_brands_mall_id_name")),
    )
    with op.batch_alter_table("brands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_brands_mall_id"), ["mall_id"], unique=False)

    op.create_table(
        "categories",
        sa.Column("category_no", ID, autoincrement=True, nullable=False),
        sa.Column("parent_category_no", ID, nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("display_order", sa.Integer(), nullable=False),
        sa.Column("display", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_categories_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["parent_category_no"],
            ["categories.category_no"],
            name=op.f("fk_categories_parent_category_no_categories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("category_no", name=op.f("pk_categories")),
    )
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_categories_mall_id"), ["mall_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_categories_parent_category_no"), ["parent_category_no"], unique=False)

    op.create_table(
        "products",
        sa.Column("product_no", ID, autoincrement=True, nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("retail_price", sa.BigInteger(), nullable=False),
        sa.Column("display", sa.Boolean(), nullable=False),
        sa.Column("selling", sa.Boolean(), nullable=False),
        sa.Column("brand_no", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_no"], ["brands.brand_no"], name=op.f("fk_products_brand_no_brands"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_products_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("product_no", name=op.f("pk_products")),
        sa.UniqueConstraint("mall_id", "product_code", name=op.f("uq_products_mall_id_product_code")),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_products_mall_id"), ["mall_id"], unique=False)
        batch_op.create_index("ix_products_mall_listing", ["mall_id", "display", "selling", "product_no"], unique=False)
        batch_op.create_index("ix_products_mall_price", ["mall_id", "price"], unique=False)

    op.create_table(
        "product_categories",
        sa.Column("product_no", ID, nullable=False),
        sa.Column("category_no", ID, nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_no"],
            ["categories.category_no"],
            name=op.f("fk_product_categories_category_no_categories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_product_categories_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_no"],
            ["products.product_no"],
            name=op.f("fk_product_categories_product_no_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_no", "category_no", name=op.f("pk_product_categories")),
    )
    with op.batch_alter_table("product_categories", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_product_categories_category_no"), ["category_no"], unique=False)
        batch_op.create_index(batch_op.f("ix_product_categories_mall_id"), ["mall_id"], unique=False)

    op.create_table(
        "variants",
        sa.Column("variant_no", ID, autoincrement=True, nullable=False),
        sa.Column("product_no", ID, nullable=False),
        sa.Column("variant_code", sa.String(length=40), nullable=False),
        sa.Column("option_values", sa.JSON(), nullable=False),
        sa.Column("additional_amount", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("display", sa.Boolean(), nullable=False),
        sa.Column("selling", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_variants_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_no"], ["products.product_no"], name=op.f("fk_variants_product_no_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("variant_no", name=op.f("pk_variants")),
        sa.UniqueConstraint("mall_id", "variant_code", name=op.f("uq_variants_mall_id_variant_code")),
    )
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_variants_mall_id"), ["mall_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_variants_product_no"), ["product_no"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_variants_product_no"))
        batch_op.drop_index(batch_op.f("ix_variants_mall_id"))

    op.drop_table("variants")
    with op.batch_alter_table("product_categories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_categories_mall_id"))
        batch_op.drop_index(batch_op.f("ix_product_categories_category_no"))

    op.drop_table("product_categories")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index("ix_products_mall_price")
        batch_op.drop_index("ix_products_mall_listing")
        batch_op.drop_index(batch_op.f("ix_products_mall_id"))

    op.drop_table("products")
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_categories_parent_category_no"))
        batch_op.drop_index(batch_op.f("ix_categories_mall_id"))

    op.drop_table("categories")
    with op.batch_alter_table("brands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_brands_mall_id"))

    op.drop_table("brands")
    op.drop_table("malls")
