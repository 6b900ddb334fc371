"""Usage ingest (per-event results, nothing half-written), meters across DST, async burns."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from drawdown.book import Book
from drawdown.domain.errors import BatchTooLarge, MeterAlreadyExists
from drawdown.services.usage import EventResult
from tests.conftest import START, FixedClock
from tests.integration.checker import check
from tests.integration.dump import snapshot


def setup(book: Book, time_zone: str = "UTC") -> None:
    book.create_account("acme", currency="USD", time_zone=time_zone)
    book.define_meter("calls", event_type="api_call", aggregation="sum")


def event(key: str, **fields: Any) -> dict[str, Any]:
    return {"key": key, "account": "acme", "type": "api_call", "time": "2026-03-01T11:00:00Z", "quantity": "1"} | fields


BAD = [
    ("missing key", {"key": None}, "invalid_field"),
    ("empty key", {"key": ""}, "invalid_field"),
    ("unknown account", {"account": "nobody"}, "account_not_found"),
    ("bad account id", {"account": "a b"}, "invalid_identifier"),
    ("unknown event type", {"type": "gpu_seconds"}, "meter_not_found"),
    ("naive time", {"time": "2026-03-01T11:00:00"}, "naive_datetime"),
    ("unparseable time", {"time": "yesterday"}, "naive_datetime"),
    ("missing time", {"time": None}, "naive_datetime"),
    ("too late", {"time": "2026-02-22T11:59:59Z"}, "event_too_late"),
    ("too far ahead", {"time": "2026-03-01T12:05:01Z"}, "event_in_future"),
    ("negative quantity", {"quantity": "-1"}, "invalid_quantity"),
    ("non-numeric quantity", {"quantity": "lots"}, "invalid_quantity"),
    ("float quantity", {"quantity": 1.5}, "float_not_allowed"),
    ("infinite quantity", {"quantity": "Infinity"}, "invalid_quantity"),
    ("too precise quantity", {"quantity": "0.0000001"}, "invalid_quantity"),
    ("huge quantity", {"quantity": "1e13"}, "invalid_quantity"),
    ("quantity with an underscore", {"quantity": "1_000"}, "invalid_quantity"),  # Decimal() alone reads 1000
    ("quantity in other digits", {"quantity": "\u0661\u0662"}, "invalid_quantity"),  # Arabic-Indic 12
    ("quantity with spaces", {"quantity": " 1"}, "invalid_quantity"),
    ("properties not an object", {"properties": ["a"]}, "invalid_properties"),
    ("nested properties", {"properties": {"a": {"b": 1}}}, "invalid_properties"),
    ("too many properties", {"properties": {f"p{i}": "x" for i in range(21)}}, "invalid_properties"),
    # a lone surrogate is a Python str but not Unicode text: no store can take it as UTF-8
    ("key with a lone surrogate", {"key": "evt-\ud800"}, "invalid_field"),
    ("account with a lone surrogate", {"account": "acme\ud800"}, "invalid_identifier"),
    ("type with a lone surrogate", {"type": "api_call\udfff"}, "invalid_identifier"),
    ("property value with a lone surrogate", {"properties": {"region": "eu\ud800"}}, "invalid_properties"),
    ("property name with a lone surrogate", {"properties": {"\udc00": "eu"}}, "invalid_properties"),
]


@pytest.mark.parametrize(("case", "fields", "code"), BAD, ids=[b[0] for b in BAD])
def test_bad_events_get_their_own_reason_and_write_nothing_while_good_ones_are_kept(
    book: Book, case: str, fields: dict[str, Any], code: str
) -> None:
    setup(book)
    report = book.ingest([event("good-1"), event("bad") | fields, event("good-2")])
    assert [r.status for r in report.results] == ["accepted", "rejected", "accepted"]
    assert report.results[1].code == code, report.results[1].message
    assert report.results[1].message
    with book.engine.connect() as conn:
        keys = sorted(k for (k,) in conn.exec_driver_sql("SELECT key FROM usage_events"))
    assert keys == ["good-1", "good-2"]


def test_the_late_cutoff_is_configurable_and_the_error_names_it(book: Book) -> None:
    setup(book)
    book.set_late_cutoff(3600)
    report = book.ingest([event("old", time="2026-03-01T10:59:59Z"), event("ok", time="2026-03-01T11:00:00Z")])
    assert [r.status for r in report.results] == ["rejected", "accepted"]
    assert "2026-03-01T11:00:00+00:00" in (report.results[0].message or "")


def test_an_oversized_batch_is_refused_whole_and_writes_nothing(book: Book) -> None:
    setup(book)
    before = snapshot(book.engine)
    with pytest.raises(BatchTooLarge):
        book.ingest([event(f"e{i}") for i in range(10_001)])
    assert snapshot(book.engine) == before


def test_duplicates_are_recognised_across_and_within_batches_and_conflicts_write_nothing(book: Book) -> None:
    setup(book)
    first = book.ingest([event("a"), event("b", quantity="2")])
    assert first.accepted == 2
    before = snapshot(book.engine)
    again = book.ingest([event("a"), event("b", quantity="2.000"), event("b", quantity="3")])
    assert [r.status for r in again.results] == ["duplicate", "duplicate", "rejected"]
    assert again.results[2].code == "idempotency_conflict"
    assert snapshot(book.engine) == before
    within = book.ingest([event("c"), event("c"), event("c", quantity="9")])
    assert [r.status for r in within.results] == ["accepted", "duplicate", "rejected"]


def test_a_full_batch_of_ten_thousand_events_is_accepted_in_one_call(book: Book) -> None:
    setup(book)
    report = book.ingest([event(f"e{i:05}", quantity=str(i % 7)) for i in range(10_000)])
    assert report.accepted == 10_000
    [day] = book.meter("calls", "acme", start="2026-03-01T00:00:00Z", end="2026-03-02T00:00:00Z")
    assert day.value == sum(i % 7 for i in range(10_000))


DST = [
    # zone, a local day that is 23 hours long (spring forward), and its UTC start
    ("Europe/Paris", "2026-03-29", datetime(2026, 3, 28, 23, tzinfo=UTC), 23),
    ("America/New_York", "2026-03-08", datetime(2026, 3, 8, 5, tzinfo=UTC), 23),
    ("Australia/Sydney", "2026-04-05", datetime(2026, 4, 4, 13, tzinfo=UTC), 25),  # autumn: 25 hours
    ("Asia/Kolkata", "2026-03-29", datetime(2026, 3, 28, 18, 30, tzinfo=UTC), 24),  # no DST
]


@pytest.mark.parametrize(("zone", "day", "start", "hours"), DST, ids=[d[0] for d in DST])
def test_meters_aggregate_per_local_day_across_dst_with_half_open_boundaries(
    book: Book, clock: FixedClock, zone: str, day: str, start: datetime, hours: int
) -> None:
    clock.at = start + timedelta(days=2)
    setup(book, zone)
    book.define_meter("peak", event_type="api_call", aggregation="max")
    book.define_meter("n", event_type="api_call", aggregation="count")
    instants = [start - timedelta(microseconds=1), start, start + timedelta(hours=hours) - timedelta(microseconds=1)]
    instants.append(start + timedelta(hours=hours))
    book.ingest([event(f"e{i}", time=t.isoformat(), quantity=str(i + 1)) for i, t in enumerate(instants)])
    readings = book.meter("calls", "acme", start=start - timedelta(hours=1), end=start + timedelta(hours=hours + 1))
    assert [(r.period.start, r.period.end - r.period.start) for r in readings][1] == (start, timedelta(hours=hours))
    assert [r.value for r in readings] == [1, 2 + 3, 4]
    assert [r.value for r in book.meter("peak", "acme", start=start, end=start + timedelta(hours=1))] == [3]
    assert [r.value for r in book.meter("n", "acme", start=start, end=start + timedelta(hours=1))] == [2]


def test_property_meters_sum_max_and_count_distinct_values_of_filtered_events(book: Book) -> None:
    setup(book)
    book.define_meter(
        "eu_tokens", event_type="api_call", aggregation="sum", property="tokens", filters={"region": "eu"}
    )
    book.define_meter("users", event_type="api_call", aggregation="unique_count", property="user")
    book.define_meter("biggest", event_type="api_call", aggregation="max", property="tokens")
    props = [
        {"region": "eu", "tokens": "10.5", "user": "u1"},
        {"region": "eu", "tokens": 7, "user": "u2"},
        {"region": "us", "tokens": "100", "user": "u1"},
        {"region": "eu", "user": "u3"},
    ]
    book.ingest([event(f"e{i}", properties=p) for i, p in enumerate(props)])
    window = {"start": START - timedelta(days=1), "end": START, "period": None}
    assert book.meter("eu_tokens", "acme", **window)[0].value == Decimal("17.5")  # type: ignore[arg-type]
    assert book.meter("users", "acme", **window)[0].value == 3  # type: ignore[arg-type]
    assert book.meter("biggest", "acme", **window)[0].value == 100  # type: ignore[arg-type]


def test_a_property_meter_skips_values_too_large_to_sum_exactly_instead_of_failing(book: Book) -> None:
    setup(book)
    book.define_meter("tokens", event_type="api_call", aggregation="sum", property="tokens")
    book.define_meter("most", event_type="api_call", aggregation="max", property="tokens")
    values = ["1e1000000", "10000000000000000000000000001", "2.5", 4, "0.0000001"]
    book.ingest([event(f"e{i}", properties={"tokens": v}) for i, v in enumerate(values)])
    window = {"start": START - timedelta(days=1), "end": START, "period": None}
    assert book.meter("tokens", "acme", **window)[0].value == Decimal("6.5")  # type: ignore[arg-type]
    assert book.meter("most", "acme", **window)[0].value == 4  # type: ignore[arg-type]


def test_a_filter_on_true_counts_only_true_and_redefining_it_with_1_is_a_different_meter(book: Book) -> None:
    setup(book)
    book.define_meter("cached", event_type="api_call", aggregation="count", filters={"cached": True})
    props = [{"cached": True}, {"cached": 1}, {"cached": "true"}, {}]
    book.ingest([event(f"e{i}", properties=p) for i, p in enumerate(props)])
    window = {"start": START - timedelta(days=1), "end": START, "period": None}
    assert book.meter("cached", "acme", **window)[0].value == 1  # type: ignore[arg-type]
    assert book.define_meter("cached", event_type="api_call", aggregation="count", filters={"cached": True})
    with pytest.raises(MeterAlreadyExists):
        book.define_meter("cached", event_type="api_call", aggregation="count", filters={"cached": 1})


def test_async_mode_events_burn_credit_by_event_time_once_and_never_below_the_floor(book: Book) -> None:
    setup(book)
    book.define_unit("CREDIT", scale=3)
    book.define_rate_card("std", "CREDIT", {"api_call": "0.5"}, effective_at=START - timedelta(days=30))
    book.configure_account("acme", mode="async", rate_card="std", overdraft_limits={"CREDIT": "1"})
    book.issue_grant("acme", "2", "CREDIT", reason_code="welcome", effective_at=START - timedelta(days=2))
    book.ingest([event("u1", quantity="3"), event("u2", quantity="4")])  # 1.5 + 2 = 3.5 credits
    report = book.burn_usage()
    assert (report.charged, report.unbilled_units) == (2, 500)  # 2 from the grant, 1 lent, 0.5 unbilled
    b = book.balance("acme", "CREDIT")
    assert (b.available_units, b.consumed_units, b.overdraft_units) == (0, 3000, 1000)
    assert book.burn_usage().charged == 0
    assert check(book.engine, {("acme", "CREDIT"): 1000}) == []


def test_an_async_event_with_a_key_of_the_longest_length_burns_and_does_not_hold_up_the_others(book: Book) -> None:
    """The burn's ledger key is ``usage:<event key>``; an event key may be 255 characters, a ledger
    key too, so a long event key gets a digest instead (PostgreSQL refused the longer key, and every
    later burn with it)."""
    setup(book)
    book.define_unit("CREDIT", scale=3)
    book.define_rate_card("std", "CREDIT", {"api_call": "1"}, effective_at=START - timedelta(days=30))
    book.configure_account("acme", mode="async", rate_card="std")
    book.issue_grant("acme", "10", "CREDIT", reason_code="welcome", effective_at=START - timedelta(days=2))
    long_keys = ["k" * 255, "k" * 254 + "j", "k" * 249]
    assert book.ingest([event(key) for key in [*long_keys, "short"]]).accepted == 4
    assert book.burn_usage().charged == 4
    assert book.balance("acme", "CREDIT").consumed_units == 4000
    burns = [tx.idempotency_key for tx in book.ledger("acme") if tx.kind == "charge"]
    assert len(set(burns)) == 4
    assert max(len(key) for key in burns) <= 255
    assert {"usage:short", f"usage:{'k' * 249}"} <= set(burns)
    assert book.burn_usage().charged == 0


def test_an_async_burn_across_more_grants_than_a_transaction_holds_does_not_stop_other_burns(book: Book) -> None:
    """A transaction has at most 1,000 postings, two per grant drawn: a burn draws from at most
    499 grants (two postings are left for an overdraft loan), and what more grants would have
    covered is unbilled, recorded on the charge, instead of failing every burn after it."""
    setup(book)
    book.create_account("other", currency="USD")
    book.define_unit("CREDIT", scale=3)
    book.define_rate_card("std", "CREDIT", {"api_call": "1"}, effective_at=START - timedelta(days=30))
    for account in ("acme", "other"):
        book.configure_account(account, mode="async", rate_card="std")
    for _ in range(501):
        book.issue_grant("acme", "0.001", "CREDIT", reason_code="promo", effective_at=START - timedelta(days=2))
    book.issue_grant("other", "5", "CREDIT", reason_code="welcome", effective_at=START - timedelta(days=2))
    assert book.ingest([event("big"), event("o1", account="other"), event("small")]).accepted == 3
    report = book.burn_usage()
    assert (report.charged, report.unbilled_units) == (3, 501 + 998)
    assert book.balance("acme", "CREDIT").consumed_units == 501  # 499 for "big", then 2 for "small"
    assert book.balance("other", "CREDIT").consumed_units == 1000
    assert check(book.engine, {}) == []


def test_the_mode_when_an_event_is_recorded_decides_whether_it_burns(book: Book) -> None:
    """Enforce-mode usage is paid by reserve and capture; switching to async later does not bill it again."""
    setup(book)
    book.define_unit("CREDIT", scale=3)
    book.define_rate_card("std", "CREDIT", {"api_call": "1"}, effective_at=START - timedelta(days=30))
    book.configure_account("acme", rate_card="std")
    book.issue_grant("acme", "10", "CREDIT", reason_code="welcome", effective_at=START - timedelta(days=2))
    book.ingest([event("before", quantity="3")])
    book.configure_account("acme", mode="async", rate_card="std")
    book.ingest([event("after", quantity="2")])
    assert book.burn_usage().charged == 1
    assert book.balance("acme", "CREDIT").consumed_units == 2000


def test_ndjson_lines_get_results_by_line_number_and_bad_lines_write_nothing(book: Book) -> None:
    setup(book)
    lines = [
        b'{"key": "n1", "account": "acme", "type": "api_call", "time": "2026-03-01T11:00:00Z", "quantity": "2"}',
        b"",
        b'{"key": "n2", "account": "acme", "type": "api_call", "time": "2026-03-01T11:00:00Z", "quantity": 1.5}',
        b'{"key": "n3", "account": "acme", "type": "api_call", "time": "2026-03-01T11:00:00Z"',
        b'{"key": "n1", "account": "acme", "type": "api_call", "time": "2026-03-01T11:00:00Z", "quantity": "2"}\r',
        b'{"key": "n1", "account": "acme", "type": "api_call", "time": "2026-03-01T11:00:00Z", "quantity": "3"}',
        b"   ",
    ]
    report = book.ingest_ndjson(b"\n".join(lines) + b"\n")
    assert [(r.index, r.key, r.status, r.code) for r in report.results] == [
        (0, "n1", "accepted", None),
        (2, "n2", "rejected", "float_not_allowed"),
        (3, None, "rejected", "invalid_json"),
        (4, "n1", "duplicate", None),
        (5, "n1", "rejected", "idempotency_conflict"),
    ]
    assert "line 4" in (report.results[2].message or "")
    window = {"start": START - timedelta(days=1), "end": START, "period": None}
    assert book.meter("calls", "acme", **window)[0].value == 2  # type: ignore[arg-type]
    again = book.ingest_ndjson(lines[0])
    assert [r.status for r in again.results] == ["duplicate"]


def test_an_ndjson_line_escaping_a_lone_surrogate_is_refused_and_the_other_lines_are_kept(book: Book) -> None:
    setup(book)
    line = b'{"key": "%s", "account": "acme", "type": "api_call", "time": "2026-03-01T11:00:00Z"%s}'
    lines = [line % (b"n1", b""), line % (b"evt-\\ud800", b""), line % (b"n2", b', "properties": {"a": "\\udfff"}'),
             line % (b"n3", b"")]  # fmt: skip
    report = book.ingest_ndjson(b"\n".join(lines))
    assert [(r.index, r.key, r.status, r.code) for r in report.results] == [
        (0, "n1", "accepted", None),
        (1, None, "rejected", "invalid_json"),
        (2, None, "rejected", "invalid_json"),
        (3, "n3", "accepted", None),
    ]
    assert "surrogate" in (report.results[1].message or "")
    with book.engine.connect() as conn:
        assert sorted(k for (k,) in conn.exec_driver_sql("SELECT key FROM usage_events")) == ["n1", "n3"]


def test_an_ndjson_batch_over_the_limit_is_refused_whole(book: Book) -> None:
    setup(book)
    before = snapshot(book.engine)
    line = b'{"key": "k%d", "account": "acme", "type": "api_call", "time": "2026-03-01T11:00:00Z"}'
    with pytest.raises(BatchTooLarge):
        book.ingest_ndjson(b"\n".join(line % i for i in range(10_001)))
    assert snapshot(book.engine) == before


def test_dicts_whole_ndjson_and_ndjson_read_line_by_line_store_the_same_rows(book: Book) -> None:
    """The three ways in (converted dicts; an NDJSON body decoded whole; one that must be read
    line by line, here for a blank line) store byte-identical rows and give the same results."""
    setup(book)
    book.create_account("beta", currency="USD")
    book.configure_account("beta", mode="async")
    fields: list[dict[str, Any]] = [
        {"quantity": "2"}, {"quantity": 7}, {"quantity": "0.000001"}, {"quantity": "1e3"}, {},
        {"time": "2026-03-01T12:30:00+01:00", "account": "beta"}, {"time": "2026-03-01T06:00:00.5-05:00"},
        {"properties": {"region": "eü", "tier": 2, "gold": True}}, {"properties": {"gold": True, "tier": 2}},
        {"properties": {"a": 1}}, {"properties": {"a": True}}, {"properties": {"a": "1"}}, {"properties": None},
    ]  # fmt: skip
    reports = []
    for way in ("dict", "whole", "line"):
        events = [event(f"{way}-{n}") | extra for n, extra in enumerate(fields)]
        events.append(event(f"{way}-0", quantity="2"))  # a duplicate within the batch
        if way == "dict":
            reports.append(book.ingest(events))
            continue
        lines = [json.dumps(e, ensure_ascii=False).encode() for e in events]
        if way == "line":
            lines.insert(1, b"")  # a blank line: results keep line numbers, so the indexes after it move by one
        reports.append(book.ingest_ndjson(b"\n".join(lines) + b"\n"))
    with book.engine.connect() as conn:
        rows = [tuple(r) for r in conn.exec_driver_sql("SELECT * FROM usage_events ORDER BY key")]
    by_way: dict[str, list[tuple[Any, ...]]] = {"dict": [], "whole": [], "line": []}
    for row in rows:
        way, number = row[0].split("-")
        by_way[way].append((int(number), *row[1:]))
    assert len(by_way["dict"]) == len(fields)
    assert sorted(by_way["dict"]) == sorted(by_way["whole"]) == sorted(by_way["line"])
    statuses = [[(r.status, r.code, (r.key or "").partition("-")[2]) for r in report.results] for report in reports]
    assert statuses[0] == statuses[1] == statuses[2]
    assert [r.index for r in reports[2].results][:3] == [0, 2, 3]
    assert [(r.accepted, r.duplicates, r.rejected) for r in reports] == [(len(fields), 1, 0)] * 3
    assert reports[0].results[-1] == EventResult(len(fields), "dict-0", "duplicate")
