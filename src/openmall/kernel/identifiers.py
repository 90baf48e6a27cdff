"""Identifiers people log in with or are known by: one normal form, no look-alikes.

Member ids, member emails, developer emails and operator login ids all go through ``normalise_identifier``
when they are stored (sign-up) and when they are looked up (login), so that ``CASE123`` logs in as
``case123``, ``ｊａｎｅ@example.com`` (full-width) is ``jane@example.com``, and ``jane\u200b@example.com``
(a zero-width space) is refused instead of becoming a second account that looks like the first.

The normal form: Unicode NFKC (compatibility forms such as full-width letters fold to the plain ones),
case-folded (all these identifiers are case-insensitive), surrounding whitespace removed. Refused:
characters that are invisible or change how text around them shows — controls (Cc), format characters
(Cf: zero-width space and joiners, bidi embeddings, overrides and isolates, soft hyphen, BOM), surrogates,
private-use and unassigned code points, line and paragraph separators, spaces other than U+0020, and the
other default-ignorable code points (Hangul fillers, variation selectors, the combining grapheme joiner).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from pydantic import BeforeValidator

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# default-ignorable code points that are not Cf (Unicode's DerivedCoreProperties), and the blank braille cell
_IGNORABLE = (
    (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2800, 0x2800), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip


class InvisibleCharacter(ValueError):
    """The identifier holds a character that cannot be seen (or reorders the text around it)."""


def _invisible(ch: str) -> bool:
    category = unicodedata.category(ch)
    if category in _REFUSED_CATEGORIES or (category == "Zs" and ch != " "):
        return True
    code = ord(ch)
    return any(low <= code <= high for low, high in _IGNORABLE)


def normalise_identifier(value: str) -> str:
    """The normal form of a login id or email (NFKC, case-folded, stripped); InvisibleCharacter (a
    ValueError) when it holds an invisible or text-reordering character, naming it."""
    text = unicodedata.normalize("NFKC", value)
    for ch in value + text:  # as typed (the message names what was sent), and as NFKC leaves it
        if _invisible(ch):
            name = unicodedata.name(ch, "unnamed character")
            raise InvisibleCharacter(f"must not contain invisible characters such as U+{ord(ch):04X} ({name})")
    return unicodedata.normalize("NFKC", text.casefold()).strip()


def lookup_key(value: str) -> str | None:
    """``normalise_identifier`` for a lookup: None (matches nobody) instead of an error."""
    try:
        return normalise_identifier(value)
    except InvisibleCharacter:
        return None


def _before(value: Any) -> Any:
    return normalise_identifier(value) if isinstance(value, str) else value


# in a pydantic field: Annotated[str, Normalised, Field(pattern=...)] checks the pattern on the normal form
Normalised = BeforeValidator(_before)
