"""The pricing and invoicing endpoints through the real app, on SQLite and PostgreSQL:
price books, contracts, preview, finalize (idempotent), read, explain, credit notes,
void and re-issue — success, each domain error, and the customer fence on invoices and previews."""

from __future__ import annotations

from tests.api.conftest import World, invoicing
from tests.integration.dump import snapshot

PRICE = {"product": "api", "model": "per_unit", "unit_price": "0.01"}


def test_price_books_version_and_contracts_amend(world: World) -> None:
    body = {"id": "pro", "unit": "USD", "prices": [PRICE], "effective_at": "2026-01-01T00:00:00Z"}
    first = world.call("finance", "POST", "/v1/price-books", json=body)
    assert first.status_code == 201, first.text
    assert (first.json()["version"], first.json()["prices"][0]["product"]) == (1, "api")
    assert world.call("finance", "POST", "/v1/price-books", json=body).json()["version"] == 2
    terms = {"price_book": "pro", "discounts": [{"rule": "loyal", "percent": "10"}],
             "commit": {"rule": "floor", "amount": "100"}}  # fmt: skip
    amended = world.call("finance", "POST", "/v1/accounts/acme/contracts", json=terms)
    assert amended.status_code == 201, amended.text
    assert amended.json()["version"] == 1
    assert amended.json()["terms"]["discounts"][0]["percent"] == "10"
    assert world.call("finance", "POST", "/v1/accounts/acme/contracts", json=terms).json()["version"] == 2
    mismatch = world.call("finance", "POST", "/v1/accounts/globex/contracts", json=terms)
    assert (mismatch.status_code, mismatch.json()["code"]) == (422, "unit_mismatch")
    twice = world.call("finance", "POST", "/v1/price-books", json={**body, "prices": [PRICE, PRICE]})
    assert (twice.status_code, twice.json()["code"]) == (422, "invalid_field")


def test_preview_writes_nothing_and_finalize_freezes_the_same_figures(world: World) -> None:
    invoicing(world)
    before = snapshot(world.book.engine)
    preview = world.call("finance", "GET", "/v1/accounts/umbrella/invoices/preview", params={"period": "2026-03"})
    assert preview.status_code == 200, preview.text
    assert (preview.json()["status"], preview.json()["id"]) == ("preview", None)
    assert snapshot(world.book.engine) == before
    final = world.call("finance", "POST", "/v1/accounts/umbrella/invoices", json={"period": "2026-03"})
    assert final.status_code == 201, final.text
    assert final.json()["status"] == "finalized"
    assert final.json()["amount_due"] == preview.json()["amount_due"]
    again = world.call("finance", "POST", "/v1/accounts/umbrella/invoices", json={"period": "2026-03"})
    assert (again.status_code, again.json()["id"]) == (200, final.json()["id"])  # finalizing is idempotent
    early = world.call("finance", "POST", "/v1/accounts/umbrella/invoices", json={"period": "2026-04"})
    assert (early.status_code, early.json()["code"]) == (422, "invalid_period")
    bad = world.call("finance", "GET", "/v1/accounts/acme/invoices/preview", params={"period": "2026-13"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_period")


def test_an_invoice_reads_explains_takes_credit_notes_and_voids_once(world: World) -> None:
    invoice = invoicing(world).grants["invoice"]
    read = world.call("support", "GET", f"/v1/invoices/{invoice}").json()
    assert (read["amount_due"], read["outstanding"], read["currency"]) == ("955.000000", "955.000000", "USD")
    explained = world.call("support", "GET", f"/v1/invoices/{invoice}/explanation").json()
    assert explained["document"] == read["document"]
    assert "amount due 955.00 USD" in explained["text"]
    note = world.call("finance", "POST", f"/v1/invoices/{invoice}/credit-notes", json={"amount": "5", "reason": "x"})
    assert note.status_code == 201, note.text
    assert (note.json()["amount"], note.json()["invoice_id"]) == ("5.000000", invoice)
    read = world.call("finance", "GET", f"/v1/invoices/{invoice}").json()
    assert (read["outstanding"], len(read["credit_notes"])) == ("950.000000", 1)
    big = world.call("finance", "POST", f"/v1/invoices/{invoice}/credit-notes", json={"amount": "951", "reason": "x"})
    assert (big.status_code, big.json()["code"]) == (409, "credit_note_too_large")
    voided = world.call("finance", "POST", f"/v1/invoices/{invoice}/void", json={"reason": "re-rate"})
    assert (voided.status_code, voided.json()["status"]) == (200, "voided")
    again = world.call("finance", "POST", f"/v1/invoices/{invoice}/void", json={"reason": "re-rate"})
    assert (again.status_code, again.json()["code"]) == (409, "invoice_already_voided")
    missing = world.call("finance", "GET", "/v1/invoices/inv_ghost/explanation")
    assert (missing.status_code, missing.json()["code"]) == (404, "invoice_not_found")


def test_a_voided_invoice_is_reissued_once_as_the_next_revision(world: World) -> None:
    invoice = invoicing(world).grants["invoice"]
    early = world.call("finance", "POST", f"/v1/invoices/{invoice}/reissue", json={"reason": "re-rate"})
    assert (early.status_code, early.json()["code"]) == (409, "invoice_not_voided")
    world.call("finance", "POST", f"/v1/invoices/{invoice}/void", json={"reason": "wrong price"})
    reissued = world.call("finance", "POST", f"/v1/invoices/{invoice}/reissue", json={"reason": "right price"})
    assert reissued.status_code == 201, reissued.text
    new = reissued.json()
    assert (new["status"], new["revision"], new["amount_due"]) == ("finalized", 2, "955.000000")
    assert new["document"]["replaces"] == {"invoice": invoice, "revision": 2, "reason": "right price"}
    again = world.call("finance", "POST", f"/v1/invoices/{invoice}/reissue", json={"reason": "retry"})
    assert (again.status_code, again.json()["id"]) == (200, new["id"])  # re-issuing is idempotent
    assert world.call("finance", "GET", f"/v1/invoices/{invoice}").json()["revision"] == 1
    world.call("finance", "POST", f"/v1/invoices/{new['id']}/void", json={"reason": "wrong again"})
    third = world.call("finance", "POST", f"/v1/invoices/{new['id']}/reissue", json={"reason": "third time"})
    assert (third.status_code, third.json()["revision"]) == (201, 3)
    stale = world.call("finance", "POST", f"/v1/invoices/{invoice}/reissue", json={"reason": "stale"})
    assert (stale.status_code, stale.json()["code"]) == (409, "invoice_superseded")
    assert world.call("support", "POST", f"/v1/invoices/{invoice}/reissue", json={"reason": "x"}).status_code == 403


def test_a_customer_key_sees_its_own_invoices_and_others_as_missing(world: World) -> None:
    own, other = invoicing(world).grants["invoice"], world.grants["invoice-ml"]
    missing = "inv_" + "Z" * 26
    for suffix in ("", "/explanation"):
        assert world.call("customer", "GET", f"/v1/invoices/{own}{suffix}").status_code == 200
        fenced = world.call("customer", "GET", f"/v1/invoices/{other}{suffix}")
        absent = world.call("customer", "GET", f"/v1/invoices/{missing}{suffix}")
        assert fenced.status_code == absent.status_code == 404
        fenced_body, absent_body = fenced.json(), absent.json()
        assert fenced_body["detail"].replace(other, "ID") == absent_body["detail"].replace(missing, "ID")
        assert fenced_body["code"] == absent_body["code"] == "invoice_not_found"
        assert world.call("customer-ml", "GET", f"/v1/invoices/{own}{suffix}").status_code == 404
    preview = world.call("customer", "GET", "/v1/accounts/umbrella-ml/invoices/preview", params={"period": "2026-03"})
    assert (preview.status_code, preview.json()["code"]) == (404, "account_not_found")
    assert world.call("customer", "GET", "/v1/accounts/acme/invoices/preview", params={"period": "2026-03"}).is_success


def test_finalize_and_credit_notes_replay_with_the_same_idempotency_key(world: World) -> None:
    invoicing(world)
    key = {"Idempotency-Key": "fin-1"}
    first = world.call("admin", "POST", "/v1/accounts/acme-team/invoices", json={"period": "2026-03"}, headers=key)
    assert first.status_code == 201, first.text
    before = snapshot(world.book.engine)
    again = world.call("admin", "POST", "/v1/accounts/acme-team/invoices", json={"period": "2026-03"}, headers=key)
    assert (again.status_code, again.content, again.headers["idempotent-replayed"]) == (201, first.content, "true")
    assert snapshot(world.book.engine) == before
    other = world.call("admin", "POST", "/v1/accounts/acme-team/invoices", json={"period": "2026-02"}, headers=key)
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_conflict")
    path = f"/v1/invoices/{world.grants['invoice']}/credit-notes"
    note = world.call("admin", "POST", path, json={"amount": "1", "reason": "x"}, headers={"Idempotency-Key": "cn"})
    replay = world.call("admin", "POST", path, json={"amount": "1", "reason": "x"}, headers={"Idempotency-Key": "cn"})
    assert (replay.content, replay.headers["idempotent-replayed"]) == (note.content, "true")
    notes = world.call("admin", "GET", f"/v1/invoices/{world.grants['invoice']}").json()["credit_notes"]
    assert len(notes) == 1


def test_a_term_commitment_over_http_amends_reads_back_trues_up_and_guards_its_void(world: World) -> None:
    invoicing(world)  # March billed for acme: 100,000 api calls, $1,000
    term = {"rule": "q1-5000", "amount": "5000", "start": "2026-01", "end": "2026-04"}
    bad = world.call("finance", "POST", "/v1/accounts/acme/contracts", json={"term_commit": {**term, "end": "2026-01"}})
    assert (bad.status_code, bad.json()["code"], bad.json()["field"]) == (422, "invalid_field", "term_commit.end")
    world.book.create_account("initech", currency="USD")
    amended = world.call("finance", "POST", "/v1/accounts/initech/contracts",
                         json={"term_commit": term, "effective_at": "2026-01-01T00:00:00Z"})  # fmt: skip
    assert amended.status_code == 201, amended.text
    assert amended.json()["terms"]["term_commit"] == term
    listed = world.call("support", "GET", "/v1/accounts/initech/contracts")
    assert [c["terms"]["term_commit"]["rule"] for c in listed.json()["items"]] == ["q1-5000"]
    assert world.call("customer", "GET", "/v1/accounts/initech/contracts").status_code == 404  # fenced
    assert world.call("customer", "GET", "/v1/accounts/acme/contracts").json()["items"] == []
    world.book.record_usage("initech", [{"event_id": "i-feb", "product": "api", "quantity": "100000",
                                         "occurred_at": "2026-02-10T00:00:00Z"}])  # fmt: skip
    february = world.call("finance", "POST", "/v1/accounts/initech/invoices", json={"period": "2026-02"}).json()
    march = world.call("finance", "POST", "/v1/accounts/initech/invoices", json={"period": "2026-03"})
    assert march.status_code == 201, march.text
    doc = march.json()["document"]
    assert ([line["product"] for line in doc["lines"]], doc["totals"]["amount_due"]) == (["term_commit"], "4000.00")
    assert [i["spend"] for i in doc["term_commit"]["invoices"]] == ["1000.00", "0.00"]
    refused = world.call("finance", "POST", f"/v1/invoices/{february['id']}/void", json={"reason": "x"})
    assert (refused.status_code, refused.json()["code"]) == (409, "invoice_counted_in_term")
    assert refused.json()["counted_by"] == march.json()["id"]
    explained = world.call("finance", "GET", f"/v1/invoices/{march.json()['id']}/explanation").json()["text"]
    assert "term commitment 5000.00 USD by rule q1-5000" in explained
