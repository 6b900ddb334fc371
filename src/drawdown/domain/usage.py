"""Usage events and meters: validating what a product reports, and aggregating it.

An event is an idempotency key, an account, an event type, an event time, a quantity and
a few properties. :func:`parse_event` turns a caller's raw mapping into an :class:`Event`
or raises the typed error that says what is wrong with it; it needs the instant "now"
and the late cutoff, both passed in. Quantities are non-negative decimals with at most
``QUANTITY_SCALE`` decimal places, kept as integer millionths so SQL sums are exact.

A :class:`Meter` turns events into a number per half-open period: the sum or maximum of
the quantity or of a numeric property, a count, or the number of distinct values of a
property, over the events of one type whose properties match its filters.
:func:`aggregate` is the reference computation; storage pushes the common cases into SQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation, localcontext
from enum import StrEnum
from typing import Any, NamedTuple

from drawdown.domain import limits
from drawdown.domain.accounts import is_text, require_id
from drawdown.domain.errors import (
    EventInFuture,
    EventTooLate,
    FloatNotAllowed,
    InvalidField,
    InvalidProperties,
    InvalidQuantity,
)
from drawdown.domain.instants import require_aware, to_micros
from drawdown.domain.money import is_decimal_text

PropertyValue = str | int | bool
_PROPERTY_TYPES = (str, int, bool)
_PROPERTY_INT_MAX = 10**15
_QUANTUM = Decimal(1).scaleb(-limits.QUANTITY_SCALE)
_SUM_DIGITS = 60


class Event(NamedTuple):
    """One validated usage event (a named tuple: ingest makes thousands a batch, cheaply)."""

    key: str
    account_id: str
    event_type: str
    event_at: datetime
    quantity_micros: int
    properties: Mapping[str, PropertyValue]

    @property
    def quantity(self) -> Decimal:
        return Decimal(self.quantity_micros).scaleb(-limits.QUANTITY_SCALE)

    def fingerprint(self) -> str:
        """A digest of the content, for the idempotency of what is derived from the event (its burn)."""
        text = (
            f"{self.account_id}\x1f{self.event_type}\x1f{to_micros(self.event_at)}\x1f{self.quantity_micros}"
            f"\x1f{canonical_properties(self.properties)}"
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def burn_key(event_key: str) -> str:
    """The ledger idempotency key of an event's async burn: ``usage:<event key>``, or, when that
    would be longer than a ledger key may be (an event key may use all of it), ``usage#sha256:``
    and the key's digest, so every event still has its own burn key (no event key gives a burn
    key starting ``usage#``, so a short key spelling a digest cannot meet a long key's)."""
    key = f"usage:{event_key}"
    if len(key) <= limits.IDEMPOTENCY_KEY_LENGTH_MAX:
        return key
    return "usage#sha256:" + hashlib.sha256(event_key.encode("utf-8", "surrogatepass")).hexdigest()


def canonical_properties(properties: Mapping[str, PropertyValue]) -> str:
    """Properties as canonical JSON text (sorted keys, no spaces, ASCII)."""
    return json.dumps(properties, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


@dataclass(frozen=True, slots=True)
class Window:
    """Which event times are accepted at ``now``: ``[now - late_cutoff, now + skew]``."""

    now: datetime
    late_cutoff: timedelta
    skew: timedelta = timedelta(seconds=limits.FUTURE_SKEW_SECONDS)


def parse_event(raw: Mapping[str, Any], window: Window) -> Event:
    """Validate one raw event; raise the typed error naming the first bad field."""
    if not isinstance(raw, Mapping):
        raise InvalidField("an event must be an object", field="event")
    key = raw.get("key", raw.get("idempotency_key"))
    if not isinstance(key, str) or not key or len(key) > limits.IDEMPOTENCY_KEY_LENGTH_MAX or "\x00" in key:
        raise InvalidField(
            f"key (the event's idempotency key) must be 1–{limits.IDEMPOTENCY_KEY_LENGTH_MAX} characters, without NUL",
            field="key",
        )
    if not is_text(key):
        raise InvalidField(
            "key (the event's idempotency key) holds a lone surrogate, which is not Unicode text", field="key"
        )
    account = require_id(raw.get("account"), field="account")
    event_type = require_id(raw.get("type", raw.get("event_type")), field="type")
    at = require_aware(raw.get("time", raw.get("event_at")), field="time")
    oldest = window.now - window.late_cutoff
    if at < oldest:
        raise EventTooLate(
            f"event time {at.isoformat()} is before the late cutoff {oldest.isoformat()} "
            f"({window.late_cutoff} before now); late usage must be corrected by an adjustment",
            field="time",
            cutoff=oldest.isoformat(),
        )
    if at > window.now + window.skew:
        raise EventInFuture(
            f"event time {at.isoformat()} is more than {window.skew} in the future; check the sender's clock",
            field="time",
        )
    return Event(key, account, event_type, at, parse_quantity(raw.get("quantity", "1")), parse_properties(raw))


def parse_quantity(value: object, *, field: str = "quantity") -> int:
    """A non-negative decimal with at most QUANTITY_SCALE places, as integer millionths."""
    if isinstance(value, float):
        raise FloatNotAllowed(f"{field} was given as the float {value!r}; send a decimal string", field=field)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidQuantity(f"{field} must be a decimal string such as '1.5'", field=field)
    if isinstance(value, str) and len(value) > limits.DECIMAL_TEXT_LENGTH_MAX:
        raise InvalidQuantity(f"{field} is longer than {limits.DECIMAL_TEXT_LENGTH_MAX} characters", field=field)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise InvalidQuantity(f"{field} {str(value)[:40]!r} is not a decimal number", field=field) from None
    if not number.is_finite() or number < 0:
        raise InvalidQuantity(f"{field} must be a finite number of zero or more, got {str(value)[:40]}", field=field)
    if isinstance(value, str) and not is_decimal_text(value):  # Decimal() also takes "1_000", " 1", "٥"
        raise InvalidQuantity(f"{field} {value[:40]!r} is not a plain decimal number such as '1.5'", field=field)
    if number > limits.QUANTITY_MAX:
        raise InvalidQuantity(f"{field} is above {limits.QUANTITY_MAX}", field=field)
    if number != number.quantize(_QUANTUM):
        raise InvalidQuantity(f"{field} has more than {limits.QUANTITY_SCALE} decimal places", field=field)
    return int(number.scaleb(limits.QUANTITY_SCALE))


def parse_properties(raw: Mapping[str, Any]) -> dict[str, PropertyValue]:
    """Properties are a flat object of short strings, integers and booleans."""
    value = raw.get("properties")
    if value is None:
        return {}
    if not (type(value) is dict or isinstance(value, Mapping)) or len(value) > limits.EVENT_PROPERTIES_MAX:
        raise InvalidProperties(
            f"properties must be an object of at most {limits.EVENT_PROPERTIES_MAX} entries", field="properties"
        )
    clean: dict[str, PropertyValue] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or len(key) > limits.EVENT_PROPERTY_KEY_LENGTH_MAX or "\x00" in key:
            raise InvalidProperties(
                f"property name {str(key)[:64]!r} is empty, too long or holds a NUL", field="properties"
            )
        if not is_text(key):
            raise InvalidProperties(
                f"property name {key[:64]!r} holds a lone surrogate, which is not Unicode text", field="properties"
            )
        if isinstance(item, float):
            raise FloatNotAllowed(f"property {key} is a float; send a decimal string", field="properties")
        if isinstance(item, str) and (len(item) > limits.EVENT_PROPERTY_VALUE_LENGTH_MAX or "\x00" in item):
            raise InvalidProperties(f"property {key} is longer than 200 characters or holds a NUL", field="properties")
        if isinstance(item, str) and not is_text(item):
            raise InvalidProperties(
                f"property {key} holds a lone surrogate, which is not Unicode text", field="properties"
            )
        if not isinstance(item, _PROPERTY_TYPES) or (isinstance(item, int) and abs(item) > _PROPERTY_INT_MAX):
            raise InvalidProperties(
                f"property {key} must be a short string, an integer or a boolean", field="properties"
            )
        clean[key] = item
    return dict(sorted(clean.items()))


class Aggregation(StrEnum):
    SUM = "sum"
    COUNT = "count"
    MAX = "max"
    UNIQUE_COUNT = "unique_count"


@dataclass(frozen=True, slots=True)
class Meter:
    """Which events count (``event_type`` and property ``filters``) and how they add up.

    ``property`` is ``None`` for the event's quantity; ``unique_count`` needs a property.
    """

    id: str
    event_type: str
    aggregation: Aggregation
    property: str | None = None
    filters: Mapping[str, PropertyValue] = field(default_factory=dict)

    def matches(self, event_type: str, properties: Mapping[str, PropertyValue]) -> bool:
        return event_type == self.event_type and all(same_value(properties.get(k), v) for k, v in self.filters.items())

    def same_definition(self, other: Meter) -> bool:
        """Equal, with filter values compared as JSON values (``==`` alone takes true for 1)."""
        return self == other and canonical_properties(self.filters) == canonical_properties(other.filters)


def same_value(found: object, wanted: PropertyValue) -> bool:
    """Whether a property value equals a filter's as JSON values: true is not 1, false is not 0."""
    return found == wanted and type(found) is type(wanted)


def meter_of(meter_id: str, event_type: str, aggregation: str, prop: str | None, filters: object) -> Meter:
    """Validate a meter definition."""
    require_id(meter_id, field="meter_id")
    require_id(event_type, field="event_type")
    try:
        kind = Aggregation(aggregation)
    except ValueError:
        raise InvalidField(f"aggregation must be one of {', '.join(Aggregation)}", field="aggregation") from None
    if prop is not None:
        require_id(prop, field="property")
    if kind is Aggregation.UNIQUE_COUNT and prop is None:
        raise InvalidField("a unique_count meter counts the distinct values of a property; name it", field="property")
    clean = parse_properties({"properties": filters})
    if len(clean) > limits.METER_FILTERS_MAX:
        raise InvalidField(f"a meter has at most {limits.METER_FILTERS_MAX} filters", field="filters")
    return Meter(meter_id, event_type, kind, prop, clean)


def measure(meter: Meter, quantity_micros: int, properties: Mapping[str, PropertyValue]) -> Decimal | None:
    """What one matching event contributes to a sum or max; ``None`` when it has no value.

    A property's value is a number when it is an integer, or a decimal string with at most
    ``QUANTITY_SCALE`` decimals and at most ``10**15`` in size (as an integer property may be):
    bounded like that, sums stay exact. Anything else (``"9e999999"``, 30 digits) counts as no value.
    """
    if meter.property is None:
        return Decimal(quantity_micros).scaleb(-limits.QUANTITY_SCALE)
    value = properties.get(meter.property)
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    if not number.is_finite() or number.copy_abs() > _PROPERTY_INT_MAX or number != number.quantize(_QUANTUM):
        return None
    return number


def aggregate(meter: Meter, events: Iterable[tuple[str, int, Mapping[str, PropertyValue]]]) -> Decimal:
    """The meter's value over ``(event_type, quantity_micros, properties)`` triples."""
    count, total, top = 0, Decimal(0), None
    seen: set[str] = set()
    with localcontext() as wide:
        wide.prec = _SUM_DIGITS  # values have at most 22 digits: sums of any realistic count are exact
        for event_type, quantity_micros, properties in events:
            if not meter.matches(event_type, properties):
                continue
            count += 1
            if meter.aggregation is Aggregation.UNIQUE_COUNT:
                assert meter.property is not None
                if meter.property in properties:
                    seen.add(json.dumps(properties[meter.property]))
                continue
            value = measure(meter, quantity_micros, properties)
            if value is not None:
                total += value
                top = value if top is None else max(top, value)
    if meter.aggregation is Aggregation.COUNT:
        return Decimal(count)
    if meter.aggregation is Aggregation.UNIQUE_COUNT:
        return Decimal(len(seen))
    if meter.aggregation is Aggregation.MAX:
        return top if top is not None else Decimal(0)
    return total
