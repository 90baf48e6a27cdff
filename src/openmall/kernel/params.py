"""Parsing query parameters by hand where the message must say what is allowed.

``?limit=abc`` should answer "limit must be an integer from 1 to 500", not a generic type error;
a comma list in a filter means OR (``?category=3,7``).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from openmall.kernel.errors import InvalidInput
from openmall.kernel.inputs import control_problem

MAX_INT = 2**63 - 1
_INT = re.compile(r"^-?[0-9]+$")  # ASCII digits only: str.isdigit() also accepts "²"
_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")  # no "1_000", no other scripts' digits, no exponents


def parse_int(name: str, raw: str | None, *, default: int | None, low: int, high: int, hint: str) -> int | None:
    if raw is None or raw == "":
        return default
    text = raw.strip()
    if not (_INT.match(text) and len(text) <= 20):
        raise InvalidInput(f"{name} must be {hint}; got '{raw}'", field=name, minimum=low, maximum=high)
    value = int(text)
    if value < low or value > high:
        raise InvalidInput(f"{name} must be {hint}; got {value}", field=name, minimum=low, maximum=high)
    return value


def parse_int_list(name: str, raw: str | None, *, max_items: int = 100) -> list[int]:
    if raw is None or raw.strip() == "":
        return []
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) > max_items:
        raise InvalidInput(f"{name} takes at most {max_items} comma-separated values", field=name, maximum=max_items)
    hint = "a positive integer or a comma-separated list of them"
    if any(p == "" for p in parts):
        raise InvalidInput(f"{name} must be {hint}; got '{raw}' (an empty item)", field=name)
    return [parse_int(name, p, default=None, low=1, high=MAX_INT, hint=hint) or 0 for p in parts]


def parse_money(name: str, raw: str | None, *, maximum: Decimal) -> Decimal | None:
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    try:
        value = Decimal(text) if _DECIMAL.match(text) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise InvalidInput(f"{name} must be a decimal amount such as 29800 or 29800.00; got '{raw}'", field=name)
    if value < 0 or value > maximum:
        raise InvalidInput(
            f"{name} must be between 0 and {maximum}; got {value}", field=name, minimum="0", maximum=str(maximum)
        )
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidInput(f"{name} has at most two decimal places; got {value}", field=name)
    return value


def parse_choice(name: str, raw: str | None, choices: tuple[str, ...], default: str) -> str:
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise InvalidInput(
            f"{name} must be one of {', '.join(choices)}; got '{raw}'", field=name, allowed=list(choices)
        )
    return raw


def parse_text(name: str, raw: str | None, *, max_length: int) -> str | None:
    """Free text from a query string: trimmed, bounded, and free of control characters (NUL and the like) and
    bidi overrides, by the rule names follow too (``kernel.inputs.control_problem``)."""
    if raw is None:
        return None
    text = raw.strip()
    if len(text) > max_length:
        raise InvalidInput(
            f"{name} is at most {max_length} characters; got {len(text)}", field=name, maximum=max_length
        )
    problem = control_problem(text)
    if problem is not None:
        raise InvalidInput(f"{name} {problem}", field=name)
    return text or None


_FLAGS = {"T": True, "F": False, "true": True, "false": False}


def parse_flag(name: str, raw: str | None) -> bool | None:
    """``T``/``F`` (Cafe24's spelling) or ``true``/``false``; absent means either."""
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    value = _FLAGS.get(text, _FLAGS.get(text.lower()))
    if value is None:
        raise InvalidInput(f"{name} must be T or F (or true/false); got '{raw}'", field=name, allowed=["T", "F"])
    return value
