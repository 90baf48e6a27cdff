"""Customers' personal data in Admin API answers: names, emails, phone numbers and addresses need the scope
``mall.read_personal``; a token without it sees them masked, as Cafe24 does (``홍*동``, ``j***@example.com``,
``010-****-5678``, the address's detail line hidden; the postcode and the first address line stay, for shipping
statistics).

One step decides: ``kernel.representation.View`` masks what a schema's registered spec names whenever the request
may not read personal data. The Admin API's guard says so per request (``allow``); everywhere else (the Shop API,
where members read their own data) nothing is masked. Domains register their schemas' personal fields next to
their Admin routers (``register``).

Webhooks follow the same rule: an event type registered with a spec (``kernel.events.register(...,
personal=spec)``: the order events) reaches a subscriber whose install lacks ``mall.read_personal`` masked
(``webhooks.service.load_works`` makes that body once per event).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from typing import Any, Union

SCOPE = "mall.read_personal"

Masker = Callable[[str], str]
Spec = Mapping[str, Union[Masker, "Spec"]]  # a field's masker, or the spec of the object it holds

_allowed: ContextVar[bool] = ContextVar("personal_data_allowed", default=True)
_SPECS: dict[type, Spec] = {}


def allow(allowed: bool) -> Token[bool]:
    """For this request: may it read personal data? (The Admin API's guard calls it; ``reset`` undoes it.)"""
    return _allowed.set(allowed)


def reset(token: Token[bool]) -> None:
    _allowed.reset(token)


def allowed() -> bool:
    return _allowed.get()


def register(schema: type, spec: Spec) -> None:
    """Name a schema's personal fields."""
    _SPECS[schema] = spec


def hidden(schema: type) -> Spec | None:
    """The spec to mask with for this request, or None when nothing is to be masked."""
    return None if _allowed.get() else _SPECS.get(schema)


def mask(spec: Spec, data: Any) -> Any:
    """A copy of ``data`` (a JSON-ready dict) with the fields ``spec`` names masked."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for name, how in spec.items():
        value = out.get(name)
        if value is None:
            continue
        if callable(how):
            out[name] = how(value) if isinstance(value, str) else value
        elif isinstance(value, list):
            out[name] = [mask(how, item) for item in value]
        else:
            out[name] = mask(how, value)
    return out


# ---- the masks ----------------------------------------------------------------------------------------------


def mask_name(name: str) -> str:
    """홍길동 → 홍*동, 홍길 → 홍*, Kim Minji → K** ****i: the first and the last letter stay."""
    letters = [i for i, c in enumerate(name) if not c.isspace()]
    if len(letters) <= 1:
        return "*" * len(name)
    keep = {letters[0]} | ({letters[-1]} if len(letters) > 2 else set())
    return "".join(c if i in keep or c.isspace() else "*" for i, c in enumerate(name))


def mask_email(email: str) -> str:
    """jane@example.com → j***@example.com."""
    local, at, domain = email.partition("@")
    return (local[:1] + "***" + at + domain) if at else mask_name(email)


_GROUPS = re.compile(r"[0-9]+|[^0-9]+")


def mask_phone(phone: str) -> str:
    """010-1234-5678 → 010-****-5678; without separators, all but the first 3 and the last 4 digits."""
    parts = _GROUPS.findall(phone)
    digit_groups = [i for i, p in enumerate(parts) if p.isdigit()]
    if len(digit_groups) >= 3:
        middle = set(digit_groups[1:-1])
        return "".join("*" * len(p) if i in middle else p for i, p in enumerate(parts))
    digits = sum(c.isdigit() for c in phone)
    seen, out = 0, []
    for c in phone:
        if c.isdigit():
            seen += 1
            out.append(c if seen <= 3 or seen > digits - 4 else "*")
        else:
            out.append(c)
    return "".join(out)


def mask_detail(line: str) -> str:
    """The address's detail line (building, floor, unit): every letter and digit hidden."""
    return "".join(c if c.isspace() else "*" for c in line)
