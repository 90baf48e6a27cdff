"""The normal form of login ids and emails (kernel.identifiers)."""

from __future__ import annotations

import pytest

from openmall.kernel.identifiers import InvisibleCharacter, lookup_key, normalise_identifier


@pytest.mark.parametrize(("typed", "normal"), [
    ("Case123", "case123"), ("ＣＡＳＥ１２３", "case123"), ("  jane@example.com ", "jane@example.com"),
    ("Ｊａｎｅ＠Ｅｘａｍｐｌｅ．ｃｏｍ", "jane@example.com"), ("ﬁle", "file"), ("Straße", "strasse"),
])  # fmt: skip
def test_normal_forms(typed, normal):
    assert normalise_identifier(typed) == normal
    assert normalise_identifier(normal) == normal  # the normal form is its own normal form


@pytest.mark.parametrize("char", [
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad",  # zero-width, soft hyphen, BOM
    "\u202a", "\u202e", "\u2066", "\u2069", "\u200e", "\u061c",  # bidi embeddings, overrides, isolates, marks
    "\u3164", "\uffa0", "\u115f", "\u034f", "\ufe0f", "\u2800", "\U000e0041",  # fillers, selectors, tags
    "\u0000", "\u0085", "\u2028", "\u1680", "\ue000",  # controls, separators, an odd space, private use
])  # fmt: skip
def test_invisible_characters_are_refused(char):
    with pytest.raises(InvisibleCharacter, match=f"U\\+{ord(char):04X}"):
        normalise_identifier(f"ja{char}ne")
    assert lookup_key(f"ja{char}ne") is None
