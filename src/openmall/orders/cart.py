"""The cart: a member's, or a guest's (the storefront keeps a random ``X-Guest-Key``), and the subtotal of its
selected items. Rules here, no HTTP; nothing commits (the request does).

- A line is one variant; adding a variant that is in the cart already adds to its line.
- Stock is checked when a line is added or changed (the line's quantity may not exceed the variant's stock);
  the cart reserves nothing: stock is taken when the order is placed.
- A guest cart merges into the member's on login (``merge_guest_cart``): quantities add up, capped at the stock.
- The selected-items subtotal is priced by ``orders.pricing`` with the member's group discount, no coupons.

The catalog facts a line needs (price, option price, stock, selling, display, categories) come from
``catalog.service.variant_facts``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from openmall.catalog import service as catalog
from openmall.customers.models import Member, MemberGroup
from openmall.kernel.db import ALL_MALLS, session_scope, utcnow
from openmall.kernel.errors import Conflict, InvalidInput, NotFound, Unauthorized
from openmall.kernel.secrets import digest
from openmall.orders import pricing, shipping
from openmall.orders.models import CartItem

ZERO = Decimal("0")
GUEST_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
GUEST_KEY_HINT = "16 to 64 characters of A-Z, a-z, 0-9, '_' and '-' (e.g. a random UUID without dashes)"
MAX_QUANTITY = 9_999  # of one variant in one cart line
MAX_LINES = 100  # lines in one cart

# Why a line cannot be ordered now (the first that holds, in this order)
DELETED, HIDDEN, NOT_SELLING, SOLD_OUT, NOT_ENOUGH_STOCK, PRICE_NOT_WHOLE = (
    "DELETED", "HIDDEN", "NOT_SELLING", "SOLD_OUT", "NOT_ENOUGH_STOCK", "PRICE_NOT_WHOLE",
)  # fmt: skip
REASONS = {
    DELETED: "the product or this option of it no longer exists",
    HIDDEN: "the product or this option of it is no longer shown in the shop",
    NOT_SELLING: "the product or this option of it is no longer on sale",
    SOLD_OUT: "sold out",
    NOT_ENOUGH_STOCK: "not enough stock for the quantity asked",
    PRICE_NOT_WHOLE: "its price has a fraction of the currency unit, which orders cannot charge",
}


# ---- who owns the cart -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Owner:
    """A cart's owner: a member, or a guest identified by the digest of the storefront's guest key."""

    member: Member | None = None
    guest_key: str | None = None

    @property
    def member_no(self) -> int | None:
        return self.member.member_no if self.member is not None else None

    def condition(self) -> Any:
        if self.member is not None:
            return CartItem.member_no == self.member.member_no
        return CartItem.guest_key == self.guest_key


def check_guest_key(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if not GUEST_KEY.match(raw):
        raise InvalidInput(f"X-Guest-Key must be {GUEST_KEY_HINT}", field="X-Guest-Key")
    return raw


def guest_key_digest(server_key: bytes, raw: str | None) -> str | None:
    """A guest cart's key as it is stored: checked (422 when malformed), then an HMAC with the server's key, as
    every token is kept: the table alone opens no guest's cart."""
    key = check_guest_key(raw)
    return None if key is None else digest(server_key, key)


def owner_of(member: Member | None, guest_key: str | None) -> Owner:
    """The member's cart when a member token is sent (a guest key alongside is ignored), else the guest's
    (``guest_key``: its ``guest_key_digest``)."""
    if member is not None:
        return Owner(member=member)
    key = guest_key
    if key is None:
        raise Unauthorized(f"Send a member's access token, or a guest's cart key as X-Guest-Key ({GUEST_KEY_HINT})",
                           headers={"WWW-Authenticate": 'Bearer realm="shop"'})  # fmt: skip
    return Owner(guest_key=key)


# ---- catalog facts -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sellable:
    """What ordering needs to know of a variant and its product, as of now."""

    variant_no: int
    product_no: int
    product_name: str
    variant_code: str
    option_values: tuple[tuple[str, str], ...]
    sale_price: Decimal  # the product's price
    immediate_discount: Decimal  # per unit; the catalog has none yet, so 0
    option_price: Decimal  # the variant's additional amount, may be negative
    stock: int
    displayed: bool
    selling: bool
    category_nos: frozenset[int]

    @property
    def option_text(self) -> str:
        return " / ".join(f"{name}: {value}" for name, value in self.option_values)

    @property
    def unit_price(self) -> Decimal:
        return self.sale_price - self.immediate_discount + self.option_price

    def problem(self, quantity: int) -> str | None:
        """Why ``quantity`` of it cannot be ordered now (a reason code), or None."""
        if not self.displayed:
            return HIDDEN
        if not self.selling:
            return NOT_SELLING
        if self.stock <= 0:
            return SOLD_OUT
        if self.stock < quantity:
            return NOT_ENOUGH_STOCK
        amounts = (self.sale_price, self.immediate_discount, self.option_price)
        if any(a != a.to_integral_value() for a in amounts) or self.unit_price < 0:
            return PRICE_NOT_WHOLE
        return None

    def line(self, key: Any, quantity: int, shipping_group: str = "default") -> pricing.Line:
        return pricing.Line(key=key, product_no=self.product_no, variant_no=self.variant_no, quantity=quantity,
                            sale_price=self.sale_price, immediate_discount=self.immediate_discount,
                            option_price=self.option_price, category_nos=self.category_nos,
                            option_values=frozenset(self.option_values), shipping_group=shipping_group)  # fmt: skip


def _option_values(raw: Sequence[dict[str, Any]] | None) -> tuple[tuple[str, str], ...]:
    return tuple((str(o.get("name", "")), str(o.get("value", ""))) for o in raw or ())


async def sellables(
    session: AsyncSession, variant_nos: Iterable[int], *, categories: bool = True
) -> dict[int, Sellable]:
    """The variants of the session's mall among ``variant_nos`` (others are simply absent), from the catalog;
    without their categories (which only coupons target) when ``categories`` is False."""
    return {
        no: Sellable(
            variant_no=f.variant_no,
            product_no=f.product_no,
            product_name=f.product_name,
            variant_code=f.variant_code,
            option_values=_option_values(f.option_values),
            sale_price=f.price,
            immediate_discount=Decimal("0"),
            option_price=f.additional_amount,
            stock=f.quantity,
            displayed=f.displayed,
            selling=f.selling,
            category_nos=f.category_nos,
        )
        for no, f in (await catalog.variant_facts(session, variant_nos, categories=categories)).items()
    }


async def group_discount(session: AsyncSession, member: Member | None) -> tuple[MemberGroup | None, Any]:
    """The member's group and its additional discount for pricing (None for guests and groups without one)."""
    if member is None:
        return None, None
    from openmall.customers import service as customers  # import here: customers imports orders.cart on login

    group = await customers.member_group(session, member)
    if group is None or not group.discount_rate:
        return group, None
    return group, pricing.GroupDiscount(rate_percent=group.discount_rate)


# ---- the cart ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CartLine:
    item: CartItem
    sellable: Sellable

    @property
    def problem(self) -> str | None:
        return self.sellable.problem(self.item.quantity)


async def list_lines(session: AsyncSession, owner: Owner, cart_item_nos: Sequence[int] | None = None) -> list[CartLine]:
    """The owner's cart lines (only ``cart_item_nos`` when given; unknown ones are a 404), oldest first."""
    query = select(CartItem).where(owner.condition()).order_by(CartItem.cart_item_no)
    if cart_item_nos is not None:
        query = query.where(CartItem.cart_item_no.in_(cart_item_nos))
    items = list((await session.scalars(query)).all())
    if cart_item_nos is not None:
        missing = sorted(set(cart_item_nos) - {i.cart_item_no for i in items})
        if missing:
            raise _no_items(missing)
    facts = await sellables(session, (i.variant_no for i in items))
    # a variant that no longer exists takes its cart line with it (ON DELETE CASCADE); none is missing here
    return [CartLine(i, facts[i.variant_no]) for i in items if i.variant_no in facts]


def _no_items(missing: Sequence[int]) -> NotFound:
    listed = ", ".join(str(n) for n in missing)
    return NotFound(f"No cart item {listed} in this cart", more_info={"cart_item_nos": list(missing)})


def _check_quantity(quantity: int) -> None:
    if type(quantity) is not int or not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidInput(f"quantity must be an integer from 1 to {MAX_QUANTITY}; got {quantity!r}",
                           field="quantity", minimum=1, maximum=MAX_QUANTITY)  # fmt: skip


def _not_enough(sellable: Sellable, asked: int, in_cart: int = 0) -> Conflict:
    if sellable.stock <= 0:
        message = f"{sellable.product_name} ({sellable.option_text or 'no options'}) is sold out"
    else:
        message = (f"Only {sellable.stock} of {sellable.product_name} ({sellable.option_text or 'no options'}) "
                   f"in stock; the cart would hold {asked}")  # fmt: skip
    return Conflict(message, more_info={"field": "quantity", "reason": SOLD_OUT if sellable.stock <= 0 else
                                        NOT_ENOUGH_STOCK, "variant_no": sellable.variant_no,
                                        "stock_quantity": max(sellable.stock, 0), "in_cart": in_cart})  # fmt: skip


async def _orderable(session: AsyncSession, variant_no: int) -> Sellable:
    sellable = (await sellables(session, [variant_no])).get(variant_no)
    if sellable is None or not sellable.displayed:
        raise NotFound(f"No product option {variant_no} in this shop", more_info={"variant_no": variant_no})
    if not sellable.selling:
        raise Conflict(f"{sellable.product_name} ({sellable.option_text or 'no options'}) is not on sale",
                       more_info={"variant_no": variant_no, "reason": NOT_SELLING})  # fmt: skip
    return sellable


async def add(session: AsyncSession, owner: Owner, variant_no: int, quantity: int) -> CartItem:
    """Add ``quantity`` of the variant: to its line when there is one. The line may not exceed the stock."""
    _check_quantity(quantity)
    sellable = await _orderable(session, variant_no)
    existing = await session.scalar(select(CartItem).where(owner.condition(), CartItem.variant_no == variant_no))
    in_cart = existing.quantity if existing is not None else 0
    if in_cart + quantity > sellable.stock:
        raise _not_enough(sellable, in_cart + quantity, in_cart)
    if in_cart + quantity > MAX_QUANTITY:
        raise InvalidInput(f"A cart line holds at most {MAX_QUANTITY}; it has {in_cart}", field="quantity",
                           maximum=MAX_QUANTITY - in_cart)  # fmt: skip
    if existing is not None:
        # one statement: two adds at once both count (the stock bound is re-checked in the same UPDATE)
        result = await session.execute(
            update(CartItem).where(CartItem.cart_item_no == existing.cart_item_no,
                                   CartItem.quantity + quantity <= sellable.stock)
            .values(quantity=CartItem.quantity + quantity).execution_options(synchronize_session=False)
        )  # fmt: skip
        if not result.rowcount:
            raise _not_enough(sellable, in_cart + quantity, in_cart)
        await session.refresh(existing)
        return existing
    count = len((await session.scalars(select(CartItem.cart_item_no).where(owner.condition()))).all())
    if count >= MAX_LINES:
        raise Conflict(f"A cart holds at most {MAX_LINES} lines; remove some first", more_info={"maximum": MAX_LINES})
    item = CartItem(member_no=owner.member_no, guest_key=owner.guest_key if owner.member is None else None,
                    product_no=sellable.product_no, variant_no=variant_no, quantity=quantity,
                    selected=True)  # fmt: skip
    session.add(item)
    await session.flush()
    return item


async def change(
    session: AsyncSession, owner: Owner, cart_item_no: int, *, quantity: int | None, selected: bool | None
) -> CartItem:
    """Set a line's quantity (checked against the stock) and/or whether it is selected."""
    item = await session.scalar(select(CartItem).where(owner.condition(), CartItem.cart_item_no == cart_item_no))
    if item is None:
        raise _no_items([cart_item_no])
    if quantity is not None:
        _check_quantity(quantity)
        sellable = (await sellables(session, [item.variant_no]))[item.variant_no]
        if quantity > item.quantity and quantity > sellable.stock:  # lowering a line is always allowed
            raise _not_enough(sellable, quantity, item.quantity)
        item.quantity = quantity
    if selected is not None:
        item.selected = selected
    await session.flush()
    return item


async def remove(session: AsyncSession, owner: Owner, cart_item_nos: Sequence[int]) -> list[int]:
    """Remove these lines; all or nothing: one that is not in the cart is a 404 and nothing is removed."""
    nos = sorted(set(cart_item_nos))
    if not nos:
        raise InvalidInput("Name the cart items to remove: cart_item_nos=1,2", field="cart_item_nos")
    found = set((await session.scalars(
        select(CartItem.cart_item_no).where(owner.condition(), CartItem.cart_item_no.in_(nos))
    )).all())  # fmt: skip
    if missing := [n for n in nos if n not in found]:
        raise _no_items(missing)
    await session.execute(delete(CartItem).where(owner.condition(), CartItem.cart_item_no.in_(nos))
                          .execution_options(synchronize_session=False))  # fmt: skip
    return nos


async def remove_ordered(session: AsyncSession, member_no: int, cart_item_nos: Sequence[int]) -> None:
    """After an order is placed: drop the member's cart lines it came from (those still there)."""
    if cart_item_nos:
        await session.execute(delete(CartItem).where(CartItem.member_no == member_no,
                                                     CartItem.cart_item_no.in_(list(cart_item_nos)))
                              .execution_options(synchronize_session=False))  # fmt: skip


# ---- subtotal of the selected items ------------------------------------------------------------------------


@dataclass(frozen=True)
class Subtotal:
    counted: list[CartLine]  # the lines priced
    left_out: list[CartLine]  # chosen but not orderable now (sold out, not on sale...): not counted
    priced: pricing.Priced | None  # None when nothing is counted
    group_name: str | None
    shipping: shipping.MallShipping

    def total(self, name: str) -> Decimal:
        """The sum of the priced lines' ``name`` (``sale_amount``, ``additional_discount``, …); 0 without any."""
        return sum((getattr(x, name) for x in self.priced.lines), ZERO) if self.priced is not None else ZERO

    @property
    def product_amount(self) -> Decimal:
        return self.priced.product_amount if self.priced is not None else ZERO

    @property
    def shipping_fee(self) -> Decimal:
        return self.priced.shipping_fee if self.priced is not None else ZERO


async def subtotal(session: AsyncSession, owner: Owner, cart_item_nos: Sequence[int] | None = None) -> Subtotal:
    """The subtotal of ``cart_item_nos`` (else of the selected lines): what they cost with the member's group
    discount and the mall's shipping fee to a non-remote address, without coupons or mileage."""
    lines = await list_lines(session, owner, cart_item_nos)
    if cart_item_nos is None:
        lines = [line for line in lines if line.item.selected]
    counted = [line for line in lines if line.problem is None]
    left_out = [line for line in lines if line.problem is not None]
    group, discount = await group_discount(session, owner.member)
    policy = await shipping.get_policy(session)
    priced = None
    if counted:
        priced = pricing.price([c.sellable.line(c.item.cart_item_no, c.item.quantity) for c in counted],
                               shipping=policy.rule(), group=discount)  # fmt: skip
    return Subtotal(counted, left_out, priced, group.name if group is not None else None, policy)


# ---- guest carts that nobody comes back to -------------------------------------------------------------------

GUEST_CART_DAYS = 30  # a guest cart line untouched this long is dropped (a member's cart is kept)


async def forget_stale_guest_lines(sessions: async_sessionmaker[AsyncSession], now: datetime | None = None) -> int:
    """Drop the guest cart lines of every mall untouched for ``GUEST_CART_DAYS`` (a worker's chore); how many.
    Lines stored before guest keys were hashed can no longer be found by their guest, and go the same way."""
    cutoff = (now or utcnow()) - timedelta(days=GUEST_CART_DAYS)
    async with session_scope(sessions, ALL_MALLS) as session:
        result = await session.execute(
            delete(CartItem).where(CartItem.member_no.is_(None), CartItem.updated_at < cutoff)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        return int(result.rowcount or 0)


# ---- guest cart → member cart ------------------------------------------------------------------------------


async def merge_guest_cart(session: AsyncSession, server_key: bytes, guest_key: str, member_no: int) -> int:
    """Move the guest's cart into the member's (at login); returns how many guest lines were merged.

    A variant in both carts becomes one line whose quantities add up, capped at the stock (and never below 1);
    the guest's lines are gone afterwards. A malformed guest key is a 422 (field ``X-Guest-Key``).
    """
    key = guest_key_digest(server_key, guest_key)
    if key is None:
        return 0
    guest_items = list((await session.scalars(
        select(CartItem).where(CartItem.guest_key == key).order_by(CartItem.cart_item_no)
    )).all())  # fmt: skip
    if not guest_items:
        return 0
    facts = await sellables(session, (i.variant_no for i in guest_items))
    mine = {
        i.variant_no: i for i in (await session.scalars(select(CartItem).where(CartItem.member_no == member_no))).all()
    }
    for guest in guest_items:
        stock = facts[guest.variant_no].stock if guest.variant_no in facts else 0
        cap = max(min(stock, MAX_QUANTITY), 1)
        if (own := mine.get(guest.variant_no)) is not None:
            own.quantity = min(own.quantity + guest.quantity, cap)
            await session.delete(guest)
        else:
            guest.member_no, guest.guest_key = member_no, None
            guest.quantity = min(guest.quantity, cap)
    await session.flush()
    return len(guest_items)
