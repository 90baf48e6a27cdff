"""The Admin API's scopes: ``mall.read_<group>`` and ``mall.write_<group>``; write implies read.

Each group is shown to the operator on the consent page in plain words.
"""

from __future__ import annotations

from collections.abc import Iterable

GROUPS: dict[str, str] = {
    "application": "apps installed in your shop",
    "category": "product categories",
    "collection": "product collections",
    "customer": "customers and member groups",
    "community": "reviews and boards",
    "design": "shop design and scripts",
    "mileage": "mileage and points",
    "notification": "messages to customers",
    "order": "orders, payments and claims",
    "personal": "customers' personal details",
    "privacy": "privacy settings",
    "product": "products, options, variants, stock and brands",
    "promotion": "coupons, benefits and free gifts",
    "salesreport": "sales reports",
    "shipping": "shipping settings and shipments",
    "store": "shop settings",
    "supply": "suppliers",
}
ALL: frozenset[str] = frozenset(f"mall.{kind}_{group}" for group in GROUPS for kind in ("read", "write"))


def parse(raw: str | Iterable[str]) -> list[str]:
    """Scopes from a space- or comma-separated string (OAuth uses spaces, Cafe24 commas), or a list.

    Raises ValueError naming the unknown ones.
    """
    items = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
    unknown = sorted(set(items) - ALL)
    if unknown:
        raise ValueError(f"unknown scope{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
    return sorted(set(items))


def implied(scopes: Iterable[str]) -> frozenset[str]:
    """What the granted scopes allow: each write scope brings its read scope."""
    out = set(scopes)
    out |= {s.replace("mall.write_", "mall.read_") for s in out if s.startswith("mall.write_")}
    return frozenset(out)


def allows(granted: Iterable[str], needed: str) -> bool:
    return needed in implied(granted)


def describe(scope: str) -> str:
    """Plain words for the consent page: "See and change products, options, variants, stock and brands"."""
    kind, group = scope.removeprefix("mall.").split("_", 1)
    what = GROUPS[group]
    return f"{'See' if kind == 'read' else 'See and change'} {what}"
