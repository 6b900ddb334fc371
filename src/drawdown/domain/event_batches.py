"""The batch path of event validation: events already decoded into the usual types, judged as
:func:`drawdown.domain.usage.parse_event` would judge them, a batch at a time.

``parse_event`` is the reference: it takes any raw mapping and names what is wrong with
it. Ingest takes up to 10,000 events a call, and a decoder (msgspec, at the edge of the
services) has usually already given each event the usual types: ``key``, ``account``,
``type`` and ``time`` strings, a ``quantity`` that is an integer or a string, and
``properties`` that are ``None`` or a dict of strings, integers and booleans.
:func:`parse_usual` checks such events with each distinct id, time text and properties
value judged once per batch, and answers each valid one in its flat form
(:data:`FlatEvent`: the columns it is stored as, and what a repeated key is compared
with). For anything else it answers ``None`` and the caller runs the reference, which
names the error (or accepts a form this path leaves to it, such as a quantity of
``"1e3"``). Properties are judged by the reference's own ``parse_properties``, once per
distinct value. A property test holds the two paths to the same answers.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import datetime
from typing import Protocol

from drawdown.domain import limits
from drawdown.domain.accounts import ID_PATTERN, is_text
from drawdown.domain.errors import DrawdownError
from drawdown.domain.instants import EPOCH, MICROSECOND, to_micros
from drawdown.domain.usage import Event, PropertyValue, Window, canonical_properties, parse_properties

FlatEvent = tuple[str, str, str, int, int, str]
"""A valid event as flat values: key, account id, event type, event time in epoch
microseconds, quantity in millionths, properties as canonical JSON text."""

_MICROS = 10**limits.QUANTITY_SCALE
_WHOLE_DIGITS_MAX = len(str(limits.QUANTITY_MAX))
_QUANTITY_MICROS_MAX = limits.QUANTITY_MAX * _MICROS


class Usual(Protocol):
    """An event whose fields a decoder has given these types; :func:`parse_usual` checks the
    strings are exactly ``str`` (a subclass, which converting a dict may pass through, goes
    to the reference) and everything else about the values."""

    @property
    def key(self) -> str: ...
    @property
    def account(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def time(self) -> str: ...
    @property
    def quantity(self) -> str | int: ...
    @property
    def properties(self) -> dict[str, PropertyValue] | None: ...


def flat(event: Event) -> FlatEvent:
    """An event from :func:`~drawdown.domain.usage.parse_event` in its flat form."""
    return (
        event.key, event.account_id, event.event_type, to_micros(event.event_at), event.quantity_micros,
        canonical_properties(event.properties),
    )  # fmt: skip


def parse_usual(
    items: Iterable[Usual], window: Window, token: Callable[[dict[str, PropertyValue]], Hashable]
) -> list[FlatEvent | None]:
    """Each item's flat event when it is valid in the usual form, else ``None`` (ask the reference).

    ``token(properties)`` names a properties dict for this batch's memory of judged values:
    two dicts may share a token only when they are equal as JSON (true is not 1; key order
    does not matter), as a sorted JSON encoding is. It may raise ``TypeError`` or ``ValueError``
    for a dict it cannot name (a lone surrogate, say); that dict is judged on its own.
    """
    oldest, newest = to_micros(window.now - window.late_cutoff), to_micros(window.now + window.skew)
    # Each distinct id, time text, quantity and properties value is judged once per batch.
    ids: set[str] = set()
    instants: dict[str, int | None] = {}
    quantities: dict[str | int, int | None] = {}
    texts: dict[Hashable, str | None] = {}
    found: list[FlatEvent | None] = []
    for item in items:
        key, account, event_type, at, quantity, properties = (
            item.key, item.account, item.type, item.time, item.quantity, item.properties
        )  # fmt: skip
        if type(key) is not str or type(account) is not str or type(event_type) is not str or type(at) is not str:
            found.append(None)
            continue
        if not 0 < len(key) <= limits.IDEMPOTENCY_KEY_LENGTH_MAX or "\x00" in key or not is_text(key):
            found.append(None)
            continue
        if (account not in ids and not _remember_id(account, ids)) or (
            event_type not in ids and not _remember_id(event_type, ids)
        ):
            found.append(None)
            continue
        micros = instants.get(at, _UNSEEN)
        if micros == _UNSEEN:
            micros = instants[at] = _instant(at, oldest, newest)
        millionths = quantities.get(quantity, _UNSEEN)
        if millionths == _UNSEEN:
            millionths = quantities[quantity] = _quantity(quantity)
        text: str | None = "{}"
        if properties:
            try:
                name: Hashable = token(properties)
            except (TypeError, ValueError):
                name = object()
            text = texts.get(name, "")
            if text == "":
                text = texts[name] = _canonical(properties)
        if micros is None or millionths is None or text is None:
            found.append(None)
            continue
        found.append((key, account, event_type, micros, millionths, text))
    return found


_UNSEEN = -1  # not yet judged: no valid quantity is negative, and re-judging a time is harmless


def _remember_id(value: str, ids: set[str]) -> bool:
    """Whether ``value`` is a valid id (as ``require_id`` judges); valid ones join ``ids``."""
    if len(value) > limits.ID_LENGTH_MAX or not ID_PATTERN.match(value):
        return False
    ids.add(value)
    return True


def _instant(text: str, oldest: int, newest: int) -> int | None:
    """Epoch microseconds of an aware ISO 8601 time inside ``[oldest, newest]``, else ``None``."""
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        return None
    if instant.tzinfo is None:  # fromisoformat gives a fixed offset or none, never a zone without one
        return None
    micros = (instant - EPOCH) // MICROSECOND
    return micros if oldest <= micros <= newest else None


def _quantity(value: str | int) -> int | None:
    """Millionths of a quantity of plain digits with at most 6 decimals, or of an int; else ``None``."""
    if type(value) is int:
        return value * _MICROS if 0 <= value <= limits.QUANTITY_MAX else None
    if type(value) is not str:
        return None
    whole, dot, fraction = value.partition(".")
    if not (0 < len(whole) <= _WHOLE_DIGITS_MAX and whole.isascii() and whole.isdigit()):
        return None
    micros = int(whole) * _MICROS
    if dot:
        if not (0 < len(fraction) <= limits.QUANTITY_SCALE and fraction.isascii() and fraction.isdigit()):
            return None
        micros += int(fraction.ljust(limits.QUANTITY_SCALE, "0"))
    return micros if micros <= _QUANTITY_MICROS_MAX else None


def _canonical(properties: Mapping[str, PropertyValue]) -> str | None:
    """The canonical JSON of properties the reference accepts; ``None`` when it refuses them."""
    try:
        return canonical_properties(parse_properties({"properties": properties}))
    except DrawdownError:
        return None
