"""Decoding a batch of raw usage events, fast, and judging it as the reference would.

Ingest takes events as a sequence of mappings or as NDJSON bytes. :func:`from_mappings`
and :func:`from_ndjson` turn either into a :class:`Batch` — what was decoded, in order —
before the write unit of work; :func:`judge` then answers each event, inside it, with the
window that unit of work reads (its "now" follows the commit order).

msgspec decodes events in the usual shape straight into :class:`UsualEvent` (types
checked in C), and :func:`drawdown.domain.event_batches.parse_usual` judges those a batch
at a time. Anything that does not decode into that shape, and any typed event
``parse_usual`` declines, is judged by the reference
:func:`~drawdown.domain.usage.parse_event` on its generic decoding, so every error (and
every accepted event in an unusual form) is exactly the reference's.

**NDJSON, whole.** When every line starts with ``{``, the body is decoded as one JSON array
of strict events (unknown fields refused): the lines joined by ``\\n,``. Each line is then
one event, or the decode fails: a string cannot run on into the next line (a raw newline
is not allowed inside JSON strings), a strict event holds no arrays and no objects but its
flat properties (so no separator can fall inside one: after a comma inside an object
comes a name, never ``{``), and the count must equal the number of lines. Any failure
decodes the lines one by one instead, which gives the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import msgspec

from drawdown.domain import limits
from drawdown.domain.errors import BatchTooLarge, DrawdownError
from drawdown.domain.event_batches import FlatEvent, flat, parse_usual
from drawdown.domain.usage import Window, parse_event


class UsualEvent(msgspec.Struct, gc=False):
    """An event in the usual shape, converted from a dict: unknown fields are ignored, as the
    reference ignores them."""

    key: str
    account: str
    type: str
    time: str
    quantity: str | int = "1"
    properties: dict[str, str | int | bool] | None = None


class _StrictEvent(UsualEvent, forbid_unknown_fields=True, gc=False):
    """The same, decoded from JSON, refusing unknown fields: msgspec skips an unknown field's
    value without the checks the generic decoder makes (a number out of range, bytes that
    are not UTF-8), and in a whole NDJSON body one could hold an array. A line with unknown
    fields is decoded generically and then converted as a dict is."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why one event was rejected, with its key when it had a string one."""

    key: str | None
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Batch:
    """Decoded events by position. ``numbers[p]`` is what results call position ``p`` (the
    list index, or the NDJSON line number); ``typed`` sit at ``typed_at`` (every position,
    in order, when ``None``); ``others`` maps each other position to its raw object for the
    reference, or to the refusal of a line that is not JSON; ``generic(p)`` is the generic
    decoding of a typed position, for the reference."""

    numbers: Sequence[int]
    typed: Sequence[UsualEvent]
    typed_at: list[int] | None
    others: dict[int, object]
    generic: Callable[[int], object]


def _check_size(count: int) -> None:
    if count > limits.EVENTS_PER_BATCH_MAX:
        raise BatchTooLarge(
            f"a batch holds at most {limits.EVENTS_PER_BATCH_MAX} events, got {count}; split it", field="events"
        )


def from_mappings(raws: list[object]) -> Batch:
    """A batch of raw events (each should be a mapping), by list index."""
    _check_size(len(raws))
    numbers = range(len(raws))
    if all(type(raw) is dict for raw in raws):
        try:
            return Batch(numbers, msgspec.convert(raws, list[UsualEvent]), None, {}, raws.__getitem__)
        except msgspec.ValidationError:
            pass  # at least one is not in the usual shape: sort them one by one
    typed: list[UsualEvent] = []
    typed_at: list[int] = []
    others: dict[int, object] = {}
    for position, raw in enumerate(raws):
        item = _converted(raw)
        if isinstance(item, UsualEvent):
            typed.append(item)
            typed_at.append(position)
        else:
            others[position] = raw
    return Batch(numbers, typed, typed_at, others, raws.__getitem__)


def _converted(raw: object) -> object:
    """``raw`` as a :class:`UsualEvent` when it is a dict in the usual shape, else ``raw``
    (a Mapping of another kind goes to the reference as it is)."""
    if type(raw) is dict:
        try:
            return msgspec.convert(raw, UsualEvent)
        except msgspec.ValidationError:
            pass
    return raw


_BOM = b"\xef\xbb\xbf"


def from_ndjson(data: bytes) -> Batch:
    """A batch of the non-blank lines of NDJSON text, by 0-based line number.

    A leading UTF-8 byte order mark (Windows tools save files with one) is ignored, as RFC 8259
    allows; anywhere else it is not JSON."""
    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    return _whole(body) or _by_line(body)


def _whole(data: bytes) -> Batch | None:
    """The batch of a body whose every line is an event in the strict usual shape, else ``None``."""
    body = data[:-1] if data.endswith(b"\n") else data
    count = body.count(b"\n") + 1
    if count > limits.EVENTS_PER_BATCH_MAX or not body.startswith(b"{") or body.count(b"\n{") != count - 1:
        return None
    try:
        typed = _decode_body(b"[" + body.replace(b"\n", b"\n,") + b"]")
    except _UNDECODABLE:
        return None
    if len(typed) != count:
        return None
    lines: list[bytes] = []

    def generic(position: int) -> object:
        if not lines:
            lines.extend(body.split(b"\n"))
        return _decode(lines[position])

    return Batch(range(count), typed, None, {}, generic)


def _by_line(data: bytes) -> Batch:
    numbers: list[int] = []
    lines: list[bytes] = []
    typed: list[UsualEvent] = []
    typed_at: list[int] = []
    others: dict[int, object] = {}
    for number, line in enumerate(data.split(b"\n")):  # NDJSON lines end in \n (or \r\n)
        if not line or line.isspace():
            continue
        position = len(numbers)
        _check_size(position + 1)  # stop decoding at the first event over the limit
        numbers.append(number)
        lines.append(line)
        item = _decoded(line, number)
        if isinstance(item, UsualEvent):
            typed.append(item)
            typed_at.append(position)
        else:
            others[position] = item
    return Batch(numbers, typed, typed_at, others, lambda position: _decode(lines[position]))


def _decoded(line: bytes, number: int) -> object:
    """A line's event in the usual shape, else its generic decoding for the reference, else
    (it is not JSON) its refusal."""
    try:
        return _decode_line(line)
    except _UNDECODABLE:
        pass
    try:
        raw = _decode(line)
    except _UNDECODABLE as error:
        return Refusal(None, "invalid_json", f"line {number + 1}: {error}")
    return _converted(raw)


_UNDECODABLE = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)  # ValidationError is a DecodeError
_decode = msgspec.json.Decoder().decode
_decode_line = msgspec.json.Decoder(_StrictEvent).decode
_decode_body = msgspec.json.Decoder(list[_StrictEvent]).decode
_encode_sorted = msgspec.json.Encoder(order="sorted").encode


def keys_ahead(batch: Batch) -> list[str]:
    """The keys of the typed events that are ASCII without NUL, to look up while the batch is
    judged: whichever of them turn out valid would be looked up anyway, and such keys are safe to
    send with an invalid event (a key the store cannot take, such as a lone surrogate, is looked
    up only when its event is valid, as before)."""
    return [item.key for item in batch.typed if item.key.isascii() and "\x00" not in item.key]


def judge(batch: Batch, window: Window) -> list[FlatEvent | Refusal]:
    """Each event's flat form when it is valid, else its refusal, by position."""
    judged: list[FlatEvent | Refusal | None] = [None] * len(batch.numbers)
    positions = range(len(batch.typed)) if batch.typed_at is None else batch.typed_at
    for position, found in zip(positions, parse_usual(batch.typed, window, _encode_sorted), strict=True):
        judged[position] = found if found is not None else _reference(batch.generic(position), window)
    for position, raw in batch.others.items():
        judged[position] = raw if type(raw) is Refusal else _reference(raw, window)
    assert None not in judged
    return judged  # type: ignore[return-value]


def _reference(raw: object, window: Window) -> FlatEvent | Refusal:
    try:
        return flat(parse_event(raw, window))  # type: ignore[arg-type]  # it refuses a non-mapping itself
    except DrawdownError as error:
        key = raw.get("key") if isinstance(raw, Mapping) else None
        return Refusal(key if isinstance(key, str) else None, error.code, error.message)
