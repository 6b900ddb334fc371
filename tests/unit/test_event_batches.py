"""``parse_events`` (the batch fast path) answers exactly as ``parse_event`` does, event by event.

The fast path checks events of the usual shape inline and hands everything else to
``parse_event``; if it ever accepted an event the reference refuses, or built a different
event, billing would depend on which path an event happened to take.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from drawdown.domain.errors import DrawdownError
from drawdown.domain.usage import Event, Window, canonical_properties, parse_event, parse_events

NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
WINDOW = Window(NOW, timedelta(days=7))

ids = st.one_of(
    st.sampled_from(["acct-1", "api_call", "a.b:c@d-e_f", "x" * 64]),
    st.sampled_from(["", "x" * 65, "acct\n", "-lead", "sp ace", "ünï", "acct-1\r"]),
    st.text(max_size=6),
    st.integers(),
    st.none(),
    st.sampled_from([["acct-1"], {"id": "acct-1"}]),  # unhashable: must be refused, not crash
)
keys = st.one_of(st.text(min_size=1, max_size=8), st.just(""), st.just("k" * 256), st.just("k" * 255), st.integers())
aware = st.datetimes(
    min_value=datetime(2026, 3, 15), max_value=datetime(2026, 4, 5), timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    ),
)  # fmt: skip
times = st.one_of(
    aware.map(lambda d: d.isoformat()),
    aware.map(lambda d: d.isoformat().replace("+00:00", "Z")),
    aware.map(lambda d: d.replace(tzinfo=None).isoformat()),  # naive
    aware.map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S%z")),
    aware,  # a datetime object, not text
    st.sampled_from(["2026-03-29", "yesterday", "", "2026-03-29T01:00:00+25:00", "2026-03-29T01:00:00.1234567Z"]),
    st.integers(),
)
quantities = st.one_of(
    st.integers(min_value=-2, max_value=10**12 + 2).map(str),
    st.integers(min_value=-2, max_value=10**12 + 2),
    st.sampled_from(["007", "1.5", "1.0000001", "1e3", "١٢", "０", " 1", "1 ", "+1", "-0", "", "NaN"]),
    st.just("10000000000000"),
    st.decimals(allow_nan=False, places=7, min_value=-1, max_value=10**6),
    st.sampled_from([True, False, 1.5, None, [1]]),
)
values = st.one_of(
    st.text(max_size=4), st.just("v" * 201), st.just("v" * 200),
    st.integers(min_value=-(10**15) - 1, max_value=10**15 + 1),
    st.booleans(), st.floats(allow_nan=False), st.none(), st.just([1]),
)  # fmt: skip
properties = st.one_of(
    st.none(),
    st.dictionaries(st.one_of(st.text(max_size=4), st.just("p" * 65), st.integers()), values, max_size=4),
    st.dictionaries(st.text(min_size=1, max_size=3), st.just("v"), min_size=21, max_size=22),
    st.just([]),
    st.just("flat"),
)


good = {
    "key": st.text(min_size=1, max_size=8),
    "account": st.sampled_from(["acct-1", "acct-2"]),
    "type": st.just("api_call"),
    "time": st.datetimes(min_value=datetime(2026, 3, 23), max_value=datetime(2026, 3, 29), timezones=st.just(UTC))
    .map(lambda d: d.isoformat()),
    "quantity": st.one_of(st.integers(0, 10**12).map(str), st.integers(0, 10**12), st.sampled_from(["0", "1"])),
    "properties": st.dictionaries(st.text(min_size=1, max_size=3), st.one_of(st.text(max_size=3), st.booleans(),
                                                                              st.integers(-5, 5)), max_size=3),
}  # fmt: skip
near_misses = {
    "key": st.sampled_from(["k" * 255, "k" * 256, "", 5, "k\x00"]),
    "account": st.sampled_from(["a" * 64, "a" * 65, "acct-1\n", "_acct", "acct 1", ["acct-1"], {"a": 1}]),
    "type": st.sampled_from(["api_call\n", "api call", None, ["api_call"]]),
    "time": st.sampled_from(["2026-03-29T01:35:00+00:00", "2026-03-29T01:36:00+00:00", "2026-03-22T01:30:00Z",
                             "2026-03-22T01:29:59.999999Z", "2026-03-29T01:30:00", "2026-03-29"]),
    "quantity": st.sampled_from(["1000000000000", "1000000000001", 10**12, 10**12 + 1, -1, "-1", "1.000000",
                                 "0.0000001", "١", True, 2.0, None]),
    "properties": st.sampled_from([{"a": 1.5}, {"a": 10**15}, {"a": 10**15 + 1}, {"a": -(10**15) - 1},
                                   {"a": "v" * 200}, {"a": "v" * 201}, {"": "x"}, {"k" * 64: 1}, {"k" * 65: 1},
                                   {str(i): i for i in range(20)}, {str(i): i for i in range(21)}, {"a": None},
                                   {"b": True, "a": 1}, {3: "x"}, {"a\x00": 1}, {"a": "v\x00"}, None, [], "flat"]),
}  # fmt: skip
anything = {
    name: st.one_of(broad, near_misses[name])
    for name, broad in
    {"key": keys, "account": ids, "type": ids, "time": times, "quantity": quantities, "properties": properties}.items()
}  # fmt: skip
aliases = {"key": "idempotency_key", "type": "event_type", "time": "event_at"}


@st.composite
def raw_events(draw: st.DrawFn) -> object:
    """Mostly valid events with a field or two broken, moved to an alias, or left out."""
    if draw(st.integers(0, 29)) == 0:
        return draw(st.sampled_from([None, "event", [], 7]))
    event: dict[str, Any] = {}
    for name in good:
        how = draw(st.integers(0, 15))
        if how <= 11:
            event[name] = draw(good[name])
        elif how <= 13:
            event[name] = draw(anything[name])
        elif how == 14 and name in aliases:
            event[aliases[name]] = draw(good[name])
    return event


def reference(raw: object) -> Event | DrawdownError:
    try:
        return parse_event(raw, WINDOW)  # type: ignore[arg-type]
    except DrawdownError as error:
        return error


def shape(item: Event | DrawdownError) -> tuple[object, ...]:
    """What must be identical: the error's type, code, field and message; or every field of the
    event, with property value types (``True == 1`` in Python) and key order made visible."""
    if isinstance(item, DrawdownError):
        return ("error", type(item), item.code, item.message, getattr(item, "field", None))
    props = [(k, type(v), v) for k, v in item.properties.items()]
    return ("event", item.key, item.account_id, item.event_type, item.event_at, item.event_at.tzinfo,
            item.quantity_micros, props, canonical_properties(item.properties))  # fmt: skip


@settings(max_examples=1500)
@given(st.lists(raw_events(), max_size=12))
def test_the_batch_path_answers_as_the_reference_does(raws: list[object]) -> None:
    batch = parse_events(raws, WINDOW)
    assert [shape(item) for item in batch] == [shape(reference(raw)) for raw in raws]


def test_usual_events_take_the_fast_path_and_match() -> None:
    raws = [
        {"key": "e1", "account": "acct-1", "type": "api_call", "time": "2026-03-29T01:00:00Z", "quantity": "12",
         "properties": {"region": "eu", "tier": 2, "gold": True}},
        {"key": "e2", "account": "acct-1", "type": "api_call", "time": "2026-03-29T03:00:00+02:00"},
        {"key": "e3", "account": "acct-1", "type": "api_call", "time": "2026-03-29T01:00:00Z", "quantity": "1.5"},
    ]  # fmt: skip
    first, second, third = parse_events(raws, WINDOW)
    assert isinstance(first, Event)
    assert first.quantity == Decimal(12)
    assert list(first.properties) == ["gold", "region", "tier"]  # sorted, as parse_properties sorts
    assert isinstance(second, Event)
    assert second.event_at == datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert second.quantity_micros == 1_000_000  # no quantity counts one
    assert isinstance(third, Event)
    assert third.quantity_micros == 1_500_000


def test_an_id_with_a_trailing_newline_is_refused_on_both_paths() -> None:
    raw = {"key": "e1", "account": "acct-1\n", "type": "api_call", "time": "2026-03-29T01:00:00Z"}
    [item] = parse_events([raw], WINDOW)
    assert isinstance(item, DrawdownError)
    assert item.code == "invalid_identifier"


def test_each_near_miss_answers_as_the_reference_does() -> None:
    """Every boundary value of every field, in an otherwise valid event (a table, not a sample)."""
    base = {"key": "e1", "account": "acct-1", "type": "api_call", "time": "2026-03-29T01:00:00Z", "quantity": "3",
            "properties": {"region": "eu"}}  # fmt: skip
    raws: list[object] = []
    for name, strategy in near_misses.items():
        for value in strategy.elements:  # type: ignore[attr-defined]
            raws.append({**base, name: value})
        raws.append({k: v for k, v in base.items() if k != name})
    assert len(raws) > 50
    assert [shape(item) for item in parse_events(raws, WINDOW)] == [shape(reference(raw)) for raw in raws]
