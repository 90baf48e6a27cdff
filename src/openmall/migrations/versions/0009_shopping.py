"""shopping: members, groups, addresses, member tokens, mileage; coupons; carts, order sheets,
payments, orders, shipments, claims, shipping policies

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 21:52:57.445213
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "coupons",
        sa.Column("coupon_no", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("discount_type", sa.String(length=16), nullable=False),
        sa.Column("discount_amount", sa.BigInteger(), nullable=False),
        sa.Column("discount_rate", sa.BigInteger(), nullable=False),
        sa.Column("max_discount", sa.BigInteger(), nullable=True),
        sa.Column("min_order_amount", sa.BigInteger(), nullable=False),
        sa.Column("target_product_nos", sa.JSON(), nullable=False),
        sa.Column("target_category_nos", sa.JSON(), nullable=False),
        sa.Column("target_option_values", sa.JSON(), nullable=False),
        sa.Column("issue_type", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_issue_count", sa.Integer(), nullable=True),
        sa.Column("issued_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_coupons_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("coupon_no", name=op.f("pk_coupons")),
    )
    op.create_table(
        "member_groups",
        sa.Column("group_no", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("discount_rate", sa.BigInteger(), nullable=False),
        sa.Column("mileage_rate", sa.BigInteger(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_member_groups_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("group_no", name=op.f("pk_member_groups")),
        sa.UniqueConstraint("mall_id", "name", name=op.f("uq_member_groups_mall_id_name")),
    )
    op.create_table(
        "order_sequences",
        sa.Column("sequence_no", ID, autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_order_sequences_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sequence_no", name=op.f("pk_order_sequences")),
        sa.UniqueConstraint("mall_id", "day", name=op.f("uq_order_sequences_mall_id_day")),
    )
    op.create_table(
        "shipping_policies",
        sa.Column("policy_no", ID, autoincrement=True, nullable=False),
        sa.Column("base_fee", sa.BigInteger(), nullable=False),
        sa.Column("free_over", sa.BigInteger(), nullable=True),
        sa.Column("remote_surcharge", sa.BigInteger(), nullable=False),
        sa.Column("remote_zip_prefixes", sa.JSON(), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_shipping_policies_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("policy_no", name=op.f("pk_shipping_policies")),
        sa.UniqueConstraint("mall_id", name=op.f("uq_shipping_policies_mall_id")),
    )
    op.create_table(
        "members",
        sa.Column("member_no", ID, autoincrement=True, nullable=False),
        sa.Column("member_id", sa.String(length=100), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("mobile", sa.String(length=30), nullable=True),
        sa.Column("group_no", ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mileage_balance", sa.BigInteger(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_no"],
            ["member_groups.group_no"],
            name=op.f("fk_members_group_no_member_groups"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_members_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("member_no", name=op.f("pk_members")),
        sa.UniqueConstraint("mall_id", "member_id", name=op.f("uq_members_mall_id_member_id")),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index("ix_members_mall_email", ["mall_id", "email"], unique=False)

    op.create_table(
        "issued_coupons",
        sa.Column("issued_coupon_no", ID, autoincrement=True, nullable=False),
        sa.Column("coupon_no", ID, nullable=False),
        sa.Column("member_no", ID, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_order_id", sa.String(length=20), nullable=True),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["coupon_no"], ["coupons.coupon_no"], name=op.f("fk_issued_coupons_coupon_no_coupons"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_issued_coupons_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_no"], ["members.member_no"], name=op.f("fk_issued_coupons_member_no_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("issued_coupon_no", name=op.f("pk_issued_coupons")),
        sa.UniqueConstraint("coupon_no", "member_no", name=op.f("uq_issued_coupons_coupon_no_member_no")),
    )
    with op.batch_alter_table("issued_coupons", schema=None) as batch_op:
        batch_op.create_index("ix_issued_coupons_mall_member", ["mall_id", "member_no"], unique=False)

    op.create_table(
        "member_addresses",
        sa.Column("address_no", ID, autoincrement=True, nullable=False),
        sa.Column("member_no", ID, nullable=False),
        sa.Column("label", sa.String(length=50), nullable=False),
        sa.Column("receiver_name", sa.String(length=100), nullable=False),
        sa.Column("receiver_phone", sa.String(length=30), nullable=False),
        sa.Column("zip_code", sa.String(length=10), nullable=False),
        sa.Column("address1", sa.String(length=300), nullable=False),
        sa.Column("address2", sa.String(length=300), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_member_addresses_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_no"], ["members.member_no"], name=op.f("fk_member_addresses_member_no_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("address_no", name=op.f("pk_member_addresses")),
    )
    with op.batch_alter_table("member_addresses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_member_addresses_member_no"), ["member_no"], unique=False)

    op.create_table(
        "member_identities",
        sa.Column("identity_no", ID, autoincrement=True, nullable=False),
        sa.Column("member_no", ID, nullable=False),
        sa.Column("provider", sa.String(length=30), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_member_identities_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_no"],
            ["members.member_no"],
            name=op.f("fk_member_identities_member_no_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("identity_no", name=op.f("pk_member_identities")),
        sa.UniqueConstraint(
            "mall_id", "provider", "subject", name=op.f("uq_member_identities_mall_id_provider_subject")
        ),
    )
    with op.batch_alter_table("member_identities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_member_identities_member_no"), ["member_no"], unique=False)

    op.create_table(
        "member_tokens",
        sa.Column("token_no", ID, autoincrement=True, nullable=False),
        sa.Column("member_no", ID, nullable=False),
        sa.Column("access_digest", sa.String(length=64), nullable=False),
        sa.Column("refresh_digest", sa.String(length=64), nullable=False),
        sa.Column("keep_login", sa.Boolean(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_member_tokens_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_no"], ["members.member_no"], name=op.f("fk_member_tokens_member_no_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_no", name=op.f("pk_member_tokens")),
        sa.UniqueConstraint("access_digest", name=op.f("uq_member_tokens_access_digest")),
        sa.UniqueConstraint("refresh_digest", name=op.f("uq_member_tokens_refresh_digest")),
    )
    with op.batch_alter_table("member_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_member_tokens_mall_member", ["mall_id", "member_no"], unique=False)

    op.create_table(
        "mileage_entries",
        sa.Column("entry_no", ID, autoincrement=True, nullable=False),
        sa.Column("member_no", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_mileage_entries_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_no"], ["members.member_no"], name=op.f("fk_mileage_entries_member_no_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("entry_no", name=op.f("pk_mileage_entries")),
    )
    with op.batch_alter_table("mileage_entries", schema=None) as batch_op:
        batch_op.create_index("ix_mileage_entries_mall_member", ["mall_id", "member_no", "entry_no"], unique=False)

    op.create_table(
        "order_sheets",
        sa.Column("sheet_no", ID, autoincrement=True, nullable=False),
        sa.Column("order_sheet_no", sa.String(length=32), nullable=False),
        sa.Column("member_no", ID, nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("tracking_key", sa.String(length=100), nullable=True),
        sa.Column("channel_type", sa.String(length=30), nullable=True),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("priced", sa.JSON(), nullable=False),
        sa.Column("amount_to_pay", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_order_sheets_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_no"], ["members.member_no"], name=op.f("fk_order_sheets_member_no_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sheet_no", name=op.f("pk_order_sheets")),
        sa.UniqueConstraint("order_sheet_no", name=op.f("uq_order_sheets_order_sheet_no")),
    )
    with op.batch_alter_table("order_sheets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_sheets_member_no"), ["member_no"], unique=False)

    op.create_table(
        "orders",
        sa.Column("order_no", ID, autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=20), nullable=False),
        sa.Column("member_no", ID, nullable=True),
        sa.Column("order_sheet_no", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("pay_type", sa.String(length=20), nullable=False),
        sa.Column("tracking_key", sa.String(length=100), nullable=True),
        sa.Column("channel_type", sa.String(length=30), nullable=True),
        sa.Column("product_amount", sa.BigInteger(), nullable=False),
        sa.Column("cart_coupon_discount", sa.BigInteger(), nullable=False),
        sa.Column("shipping_fee", sa.BigInteger(), nullable=False),
        sa.Column("shipping_coupon_discount", sa.BigInteger(), nullable=False),
        sa.Column("mileage_used", sa.BigInteger(), nullable=False),
        sa.Column("pay_amount", sa.BigInteger(), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        sa.Column("refunded_mileage", sa.BigInteger(), nullable=False),
        sa.Column("mileage_earned", sa.BigInteger(), nullable=False),
        sa.Column("coupons", sa.JSON(), nullable=False),
        sa.Column("priced", sa.JSON(), nullable=False),
        sa.Column("orderer", sa.JSON(), nullable=False),
        sa.Column("shipping_address", sa.JSON(), nullable=False),
        sa.Column("deposit", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_orders_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_no"], ["members.member_no"], name=op.f("fk_orders_member_no_members"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("order_no", name=op.f("pk_orders")),
        sa.UniqueConstraint("mall_id", "order_id", name=op.f("uq_orders_mall_id_order_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_mall_created", ["mall_id", "created_at"], unique=False)
        batch_op.create_index("ix_orders_mall_member_created", ["mall_id", "member_no", "created_at"], unique=False)

    op.create_table(
        "payments",
        sa.Column("payment_no", ID, autoincrement=True, nullable=False),
        sa.Column("payment_key", sa.String(length=40), nullable=False),
        sa.Column("order_sheet_no", sa.String(length=32), nullable=False),
        sa.Column("member_no", ID, nullable=False),
        sa.Column("pay_type", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("gateway", sa.String(length=30), nullable=False),
        sa.Column("gateway_tx_id", sa.String(length=100), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=False),
        sa.Column("order_id", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_payments_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_no"], ["members.member_no"], name=op.f("fk_payments_member_no_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("payment_no", name=op.f("pk_payments")),
        sa.UniqueConstraint("payment_key", name=op.f("uq_payments_payment_key")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_order_sheet_no"), ["order_sheet_no"], unique=False)

    op.create_table(
        "cart_items",
        sa.Column("cart_item_no", ID, autoincrement=True, nullable=False),
        sa.Column("member_no", ID, nullable=True),
        sa.Column("guest_key", sa.String(length=64), nullable=True),
        sa.Column("product_no", ID, nullable=False),
        sa.Column("variant_no", ID, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("selected", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_cart_items_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_no"], ["members.member_no"], name=op.f("fk_cart_items_member_no_members"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_no"], ["products.product_no"], name=op.f("fk_cart_items_product_no_products"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["variant_no"], ["variants.variant_no"], name=op.f("fk_cart_items_variant_no_variants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("cart_item_no", name=op.f("pk_cart_items")),
        sa.UniqueConstraint(
            "mall_id", "guest_key", "variant_no", name=op.f("uq_cart_items_mall_id_guest_key_variant_no")
        ),
        sa.UniqueConstraint(
            "mall_id", "member_no", "variant_no", name=op.f("uq_cart_items_mall_id_member_no_variant_no")
        ),
    )
    op.create_table(
        "claims",
        sa.Column("claim_no", ID, autoincrement=True, nullable=False),
        sa.Column("order_no", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("refund_amount", sa.BigInteger(), nullable=False),
        sa.Column("refund_mileage", sa.BigInteger(), nullable=False),
        sa.Column("restored_coupons", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_claims_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["order_no"], ["orders.order_no"], name=op.f("fk_claims_order_no_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("claim_no", name=op.f("pk_claims")),
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claims_order_no"), ["order_no"], unique=False)

    op.create_table(
        "order_options",
        sa.Column("order_option_no", ID, autoincrement=True, nullable=False),
        sa.Column("order_no", ID, nullable=False),
        sa.Column("product_no", ID, nullable=False),
        sa.Column("variant_no", ID, nullable=False),
        sa.Column("product_name", sa.String(length=250), nullable=False),
        sa.Column("option_text", sa.String(length=250), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("claimed_quantity", sa.Integer(), nullable=False),
        sa.Column("sale_price", sa.BigInteger(), nullable=False),
        sa.Column("immediate_discount", sa.BigInteger(), nullable=False),
        sa.Column("option_price", sa.BigInteger(), nullable=False),
        sa.Column("additional_discount", sa.BigInteger(), nullable=False),
        sa.Column("product_coupon_discount", sa.BigInteger(), nullable=False),
        sa.Column("cart_coupon_share", sa.BigInteger(), nullable=False),
        sa.Column("basis_amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("shipping_group", sa.String(length=40), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_order_options_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["order_no"], ["orders.order_no"], name=op.f("fk_order_options_order_no_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("order_option_no", name=op.f("pk_order_options")),
    )
    with op.batch_alter_table("order_options", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_options_order_no"), ["order_no"], unique=False)

    op.create_table(
        "shipments",
        sa.Column("shipment_no", ID, autoincrement=True, nullable=False),
        sa.Column("order_no", ID, nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("tracking_number", sa.String(length=50), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_shipments_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["order_no"], ["orders.order_no"], name=op.f("fk_shipments_order_no_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("shipment_no", name=op.f("pk_shipments")),
    )
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shipments_order_no"), ["order_no"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipments_order_no"))

    op.drop_table("shipments")
    with op.batch_alter_table("order_options", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_options_order_no"))

    op.drop_table("order_options")
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claims_order_no"))

    op.drop_table("claims")
    op.drop_table("cart_items")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_order_sheet_no"))

    op.drop_table("payments")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_mall_member_created")
        batch_op.drop_index("ix_orders_mall_created")

    op.drop_table("orders")
    with op.batch_alter_table("order_sheets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_sheets_member_no"))

    op.drop_table("order_sheets")
    with op.batch_alter_table("mileage_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_mileage_entries_mall_member")

    op.drop_table("mileage_entries")
    with op.batch_alter_table("member_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_member_tokens_mall_member")

    op.drop_table("member_tokens")
    with op.batch_alter_table("member_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_identities_member_no"))

    op.drop_table("member_identities")
    with op.batch_alter_table("member_addresses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_addresses_member_no"))

    op.drop_table("member_addresses")
    with op.batch_alter_table("issued_coupons", schema=None) as batch_op:
        batch_op.drop_index("ix_issued_coupons_mall_member")

    op.drop_table("issued_coupons")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_mall_email")

    op.drop_table("members")
    op.drop_table("shipping_policies")
    op.drop_table("order_sequences")
    op.drop_table("member_groups")
    op.drop_table("coupons")
