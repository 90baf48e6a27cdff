from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openmall.kernel.db import Base, IdType, MallOwned, MoneyType, UTCDateTime, utcnow


class Brand(MallOwned, Base):
    __tablename__ = "brands"
    __table_args__ = (UniqueConstraint("mall_id", "name"),)  # also the index by mall

    brand_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Category(MallOwned, Base):
    __tablename__ = "categories"
    __table_args__ = (Index("ix_categories_mall_id", "mall_id"),)

    category_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    parent_category_no: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("categories.category_no", ondelete="CASCADE"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    display_order: Mapped[int] = mapped_column(Integer, default=0)
    display: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProductCategory(MallOwned, Base):
    __tablename__ = "product_categories"

    product_no: Mapped[int] = mapped_column(
        IdType, ForeignKey("products.product_no", ondelete="CASCADE"), primary_key=True
    )
    category_no: Mapped[int] = mapped_column(
        IdType, ForeignKey("categories.category_no", ondelete="CASCADE"), primary_key=True, index=True
    )


class Product(MallOwned, Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("mall_id", "product_code"),
        Index("ix_products_mall_listing", "mall_id", "display", "selling", "product_no"),
        Index("ix_products_mall_price", "mall_id", "price"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("retail_price >= 0", name="retail_price_not_negative"),
    )

    product_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    product_code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(250))
    summary: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[Decimal] = mapped_column(MoneyType())
    retail_price: Mapped[Decimal] = mapped_column(MoneyType())
    display: Mapped[bool] = mapped_column(Boolean, default=True)
    selling: Mapped[bool] = mapped_column(Boolean, default=True)
    brand_no: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("brands.brand_no", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    # [{"name": "Color", "values": ["white", "black"]}, ...]: the axes that variants combine
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # the storefront read model (catalog/documents.py): this product's Shop API JSON, rendered on change
    list_doc: Mapped[str | None] = mapped_column(Text, nullable=True, deferred=True)
    detail_doc: Mapped[str | None] = mapped_column(Text, nullable=True, deferred=True)


class Variant(MallOwned, Base):
    """One sellable combination of option values, with its own code, extra price and stock."""

    __tablename__ = "variants"
    __table_args__ = (
        UniqueConstraint("mall_id", "variant_code"),
        # a product's variants: must out-rank the unique index above, which also starts with mall_id
        Index("ix_variants_mall_product", "mall_id", "product_no"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )

    variant_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    product_no: Mapped[int] = mapped_column(IdType, ForeignKey("products.product_no", ondelete="CASCADE"), index=True)
    variant_code: Mapped[str] = mapped_column(String(40))
    option_values: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    additional_amount: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    display: Mapped[bool] = mapped_column(Boolean, default=True)
    selling: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
