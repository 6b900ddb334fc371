"""Credit description keys: stable across exports, and normalising twice changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drawdown.importers import normalise_description
from drawdown.importers.limits import DESCRIPTION_CHARS_MAX

VOLATILE_TEXT = st.sampled_from(
    ["2024-09-24", "09/24/2024", "Sep 24, 2024", "September 2024", "$1,000.00", "USD 25", "25.00 USD", "(", ")", " "]
)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (
            "AWS Open Source Promotional Credits, credit from account: 391835788720",
            "aws open source promotional credits, credit from account: 391835788720",
        ),
        ("  AWS   Activate\tCredits  ", "aws activate credits"),
        ("AWS Activate Credits (issued 2024-09-01)", "aws activate credits (issued)"),
        ("MAP 2.0 Credit - $1,500.00 - September 2024", "map 2.0 credit"),
        ("Ｃｒｅｄｉｔ", "credit"),
        ("", ""),
    ],
)
def test_descriptions_are_case_folded_trimmed_and_stripped_of_dates_and_amounts(raw: str, key: str) -> None:
    assert normalise_description(raw) == key


def test_account_numbers_in_a_description_are_kept_because_they_name_the_credit_owner() -> None:
    first = normalise_description("AWS Credits, credit from account: 111111111111")
    second = normalise_description("AWS Credits, credit from account: 222222222222")

    assert first != second


@settings(max_examples=300)
@given(st.text())
def test_normalising_any_text_twice_changes_nothing(text: str) -> None:
    once = normalise_description(text)

    assert normalise_description(once) == once
    assert len(once) <= DESCRIPTION_CHARS_MAX


@settings(max_examples=200)
@given(st.lists(st.one_of(st.text(max_size=12), VOLATILE_TEXT), max_size=12))
def test_normalising_descriptions_full_of_dates_and_amounts_twice_changes_nothing(parts: list[str]) -> None:
    once = normalise_description(" ".join(parts))

    assert normalise_description(once) == once
