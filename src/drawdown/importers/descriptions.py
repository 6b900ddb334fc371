"""Credit descriptions turned into stable keys.

CUR and FOCUS have no credit id: the description text is the credit's identity (research
§1.4), e.g. ``AWS Open Source Promotional Credits, credit from account: 391835788720``. The
key is the text Unicode-normalised (NFKC), case-folded, with volatile parts and the empty
brackets they leave removed, whitespace collapsed, and spaces and punctuation trimmed from
both ends. Volatile parts are dates and money amounts (``$1,000.00``,
``USD 25``), which can differ between exports of the same credit; plain numbers stay,
because ``credit from account: N`` names the account that owns a shared credit.

Invariant: ``normalise_description`` is idempotent (property-tested).
"""

from __future__ import annotations

import re
import unicodedata

from drawdown.importers.limits import DESCRIPTION_CHARS_MAX, NORMALISE_PASSES_MAX

_MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april"
    "|june|july|august|september|october|november|december"
)
_VOLATILE = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}(?:[t ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?z?)?\b"  # ISO date/time
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b"  # 09/24/2024
    rf"|\b(?:{_MONTHS})\.?[ -]\d{{1,2}},?[ -]\d{{4}}\b"  # sep 24, 2024
    rf"|\b\d{{1,2}}[ -](?:{_MONTHS})\.?[ -]\d{{4}}\b"  # 24 sep 2024
    rf"|\b(?:{_MONTHS})\.?[ -]\d{{4}}\b"  # september 2024
    r"|[$€£]\s?-?\d[\d,]*(?:\.\d+)?"  # $1,000.00
    r"|\b(?:usd|eur|gbp)\s?-?\d[\d,]*(?:\.\d+)?"  # usd 25
    r"|-?\d[\d,]*(?:\.\d+)?\s?(?:usd|eur|gbp)\b",  # 25.00 usd
    re.ASCII,
)
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]|\{\s*\}")
_SPACE_INSIDE_BRACKETS = re.compile(r"(?<=[(\[{])\s+|\s+(?=[)\]}])")
_SPACES = re.compile(r"\s+")
_EDGE_PUNCTUATION = " -–—:;,."


def normalise_description(text: str) -> str:
    """The credit key for a description: stable across exports, idempotent."""
    current = text
    for _ in range(NORMALISE_PASSES_MAX):
        following = _normalise_once(current)
        if following == current:
            return current
        current = following
    raise AssertionError(f"description normalisation did not settle: {text[:80]!r}")


def _normalise_once(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    without_volatile = _EMPTY_BRACKETS.sub(" ", _VOLATILE.sub(" ", folded))
    collapsed = _SPACE_INSIDE_BRACKETS.sub("", _SPACES.sub(" ", without_volatile)).strip(_EDGE_PUNCTUATION)
    return collapsed[:DESCRIPTION_CHARS_MAX].strip(_EDGE_PUNCTUATION)
