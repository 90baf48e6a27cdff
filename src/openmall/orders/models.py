"""Carts, order sheets, payments, orders with their options, shipments and claims."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openmall.kernel.db import Base, IdType, MallOwned, MoneyType, UTCDateTime, utcnow


class CartItem(MallOwned, Base):
    """A variant in a member's cart, or in a guest's (``guest_key``: the storefront keeps it)."""

    __tablename__ = "cart_items"
    __table_args__ = (
        UniqueConstraint("mall_id", "member_no", "variant_no"),
        UniqueConstraint("mall_id", "guest_key", "variant_no"),
    )

    cart_item_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    member_no: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("members.member_no", ondelete="CASCADE"), nullable=True
    )
    guest_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    product_no: Mapped[int] = mapped_column(IdType, ForeignKey("products.product_no", ondelete="CASCADE"))
    variant_no: Mapped[int] = mapped_column(IdType, ForeignKey("variants.variant_no", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer)
    selected: Mapped[bool] = mapped_column(default=True)  # counted in the selected-items subtotal
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class OrderSheet(MallOwned, Base):
    """What a buyer is about to order: the items, the tracking key and channel, and the last calculation."""

    __tablename__ = "order_sheets"

    sheet_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    order_sheet_no: Mapped[str] = mapped_column(String(32), unique=True)
    member_no: Mapped[int] = mapped_column(IdType, ForeignKey("members.member_no", ondelete="CASCADE"), index=True)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{product_no, variant_no, quantity, cart_item_no}]
    tracking_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    channel_type: Mapped[str | None] = mapped_column(String(30), nullable=True)
    choices: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # coupons, mileage, address of calculate
    priced: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the last calculation, as shown
    amount_to_pay: Mapped[Decimal | None] = mapped_column(MoneyType(), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="OPEN")  # OPEN, ORDERED
    order_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Payment(MallOwned, Base):
    """A reservation of the amount the buyer saw, then the gateway's answer."""

    __tablename__ = "payments"

    payment_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    payment_key: Mapped[str] = mapped_column(String(40), unique=True)
    order_sheet_no: Mapped[str] = mapped_column(String(32), index=True)
    member_no: Mapped[int] = mapped_column(IdType, ForeignKey("members.member_no", ondelete="CASCADE"))
    pay_type: Mapped[str] = mapped_column(String(20))  # CARD, BANK_TRANSFER
    amount: Mapped[Decimal] = mapped_column(MoneyType())
    status: Mapped[str] = mapped_column(String(16), default="RESERVED")  # RESERVED, APPROVED, DECLINED, CANCELLED
    gateway: Mapped[str] = mapped_column(String(30), default="test")
    gateway_tx_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    error: Mapped[str] = mapped_column(String(300), default="")
    order_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PaymentAttempt(MallOwned, Base):
    """A card charge about to be asked of the gateway, committed on its own before the charge (``orders.attempts``):
    ``PENDING`` until the order's transaction says ``APPROVED``, the rollback ``FAILED`` (not charged) or
    ``CANCELLED`` (charged, then voided), or the workers' reconciliation settles one a crash left ``PENDING``."""

    __tablename__ = "payment_attempts"
    __table_args__ = (
        Index("ix_payment_attempts_mall_payment_key", "mall_id", "payment_key"),
        # across malls, for the workers: attempts left PENDING longer than a lease
        Index("ix_payment_attempts_status_created", "status", "created_at"),
        {"sqlite_autoincrement": True},  # an attempt's number is never given to another
    )

    attempt_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    payment_key: Mapped[str] = mapped_column(String(40))  # the payment's, and the gateway's idempotency key
    order_sheet_no: Mapped[str] = mapped_column(String(32))
    pay_type: Mapped[str] = mapped_column(String(20))  # CARD
    amount: Mapped[Decimal] = mapped_column(MoneyType())
    status: Mapped[str] = mapped_column(String(16), default="PENDING")  # PENDING, APPROVED, FAILED, CANCELLED
    gateway: Mapped[str] = mapped_column(String(30))
    gateway_tx_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    order_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    note: Mapped[str] = mapped_column(String(300), default="")  # why it failed or was cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class OrderSequence(MallOwned, Base):
    """The last order number of a day in a mall: order ids are ``YYYYMMDD-0000001``."""

    __tablename__ = "order_sequences"
    __table_args__ = (UniqueConstraint("mall_id", "day"),)

    sequence_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Order(MallOwned, Base):
    """An order: its status, its amounts as priced, the buyer and where it goes."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("mall_id", "order_id"),
        Index("ix_orders_mall_created", "mall_id", "created_at"),
        Index("ix_orders_mall_member_created", "mall_id", "member_no", "created_at"),
        # across malls, for the workers: bank transfers past their due date (``orders.deposits``)
        Index("ix_orders_status_created", "status", "created_at"),
    )

    order_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(20))
    member_no: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("members.member_no", ondelete="SET NULL"), nullable=True
    )
    order_sheet_no: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24))  # see orders.states
    pay_type: Mapped[str] = mapped_column(String(20))
    tracking_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    channel_type: Mapped[str | None] = mapped_column(String(30), nullable=True)
    product_amount: Mapped[Decimal] = mapped_column(MoneyType())  # Σ basis amounts
    cart_coupon_discount: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))
    shipping_fee: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))
    shipping_coupon_discount: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))
    mileage_used: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))
    pay_amount: Mapped[Decimal] = mapped_column(MoneyType())
    refunded_amount: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))
    refunded_mileage: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))
    mileage_earned: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))
    coupons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # issued coupons used, and where
    priced: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the calculation the buyer paid for
    orderer: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # name, email, mobile at order time
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    deposit: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # bank transfer: account, depositor, due
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class OrderOption(MallOwned, Base):
    """One variant of an order, priced per line as ``orders.pricing`` priced it."""

    __tablename__ = "order_options"

    order_option_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    order_no: Mapped[int] = mapped_column(IdType, ForeignKey("orders.order_no", ondelete="CASCADE"), index=True)
    product_no: Mapped[int] = mapped_column(IdType)
    variant_no: Mapped[int] = mapped_column(IdType)
    product_name: Mapped[str] = mapped_column(String(250))
    option_text: Mapped[str] = mapped_column(String(250), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    claimed_quantity: Mapped[int] = mapped_column(Integer, default=0)  # cancelled or returned so far
    sale_price: Mapped[Decimal] = mapped_column(MoneyType())
    immediate_discount: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))  # for the line
    option_price: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))  # unit, may be negative
    additional_discount: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))
    product_coupon_discount: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))
    cart_coupon_share: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))
    basis_amount: Mapped[Decimal] = mapped_column(MoneyType())
    status: Mapped[str] = mapped_column(String(24))
    shipping_group: Mapped[str] = mapped_column(String(40), default="default")


class Shipment(MallOwned, Base):
    """A parcel: carrier and tracking number for an order (all its open options)."""

    __tablename__ = "shipments"

    shipment_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    order_no: Mapped[int] = mapped_column(IdType, ForeignKey("orders.order_no", ondelete="CASCADE"), index=True)
    carrier: Mapped[str] = mapped_column(String(50))
    tracking_number: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Claim(MallOwned, Base):
    """A cancel, return or exchange of some order options, with what was refunded and restored."""

    __tablename__ = "claims"

    claim_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    order_no: Mapped[int] = mapped_column(IdType, ForeignKey("orders.order_no", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # CANCEL, RETURN, EXCHANGE
    status: Mapped[str] = mapped_column(String(24))  # REQUESTED, DONE, REJECTED
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{order_option_no, quantity}]
    reason: Mapped[str] = mapped_column(String(300), default="")
    refund_amount: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))
    refund_mileage: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))
    restored_coupons: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ShippingPolicy(MallOwned, Base):
    """The mall's shipping fee: a base fee, free at or above an amount, a surcharge for remote areas."""

    __tablename__ = "shipping_policies"
    __table_args__ = (UniqueConstraint("mall_id"),)

    policy_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    base_fee: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("3000"))
    free_over: Mapped[Decimal | None] = mapped_column(MoneyType(), nullable=True, default=Decimal("50000"))
    remote_surcharge: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("3000"))
    remote_zip_prefixes: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["63", "402", "409"])


class BankAccount(MallOwned, Base):
    """Where a mall's buyers send bank transfers; a mall without one takes no bank transfers."""

    __tablename__ = "bank_accounts"
    __table_args__ = (UniqueConstraint("mall_id"),)

    account_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    bank: Mapped[str] = mapped_column(String(50))
    account_number: Mapped[str] = mapped_column(String(40))
    holder: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
