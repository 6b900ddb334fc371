"""The fast encoder of explanation documents writes exactly canonical_json's text."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from drawdown.domain.ledger import canonical_json
from drawdown.services import invoices
from drawdown.services.invoices import document_json

# What a document may hold: no floats (amounts and quantities are strings). Text is any
# Unicode, weighted towards what needs escaping: quotes, backslashes, control characters,
# DEL, non-ASCII and characters outside the Basic Multilingual Plane.
texts = st.text(st.one_of(st.characters(), st.sampled_from('"\\\n\t\x00\x1f\x7f/\u00e9\u20ac\U0001f600')), max_size=12)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), texts)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=1500, deadline=None)
@given(st.dictionaries(texts, values, max_size=6))
@example({"rule": "a\x7fb"})  # DEL: printable to msgspec, escaped by canonical_json
@example({"rule": "\ud800"})  # a lone surrogate: msgspec refuses it
@example({"n": 2**80, "ok": [True, None, {}]})
def test_a_document_encodes_to_the_canonical_text(doc: dict[str, Any]) -> None:
    assert document_json(doc) == canonical_json(doc)


@pytest.mark.parametrize(
    "text", ['say "hi"', "back\\slash", "tab\there", "line\nbreak", "\x00", "del\x7f", "café", "€", "\U0001f600"]
)
def test_text_that_needs_escaping_is_escaped_as_canonical_json_escapes_it(text: str) -> None:
    doc = {"rule": text, "lines": [{"product": text, "n": 1}]}
    assert document_json(doc) == canonical_json(doc)


def test_a_plain_document_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(_: object) -> str:
        raise AssertionError("canonical_json was called")

    monkeypatch.setattr(invoices, "canonical_json", refuse)
    doc = {"account": "acme", "lines": [{"amount": "10.00", "line": 1, "discount": None, "exact": True}], "z": {}}
    assert (
        document_json(doc)
        == '{"account":"acme","lines":[{"amount":"10.00","discount":null,"exact":true,"line":1}],"z":{}}'
    )
