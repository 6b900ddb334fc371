"""Realistic demo data: a few customers with promotional, purchased and support grants,
an enterprise pool with team sub-budgets, some usage, an expired trial and a voided grant.

Used by ``drawdown demo``; everything goes through the public :class:`~drawdown.book.Book`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from drawdown.book import Book

CUSTOMERS = ("acme", "globex", "initech", "umbrella")


def seed(book: Book, now: datetime) -> None:
    """Fill an empty book. Idempotent: every write carries a fixed idempotency key."""
    book.define_unit("AI_CREDIT", scale=3)
    book.create_account("acme", currency="USD", time_zone="America/New_York")
    book.create_account("globex", currency="EUR", time_zone="Europe/Paris")
    book.create_account("initech", currency="USD", time_zone="America/Chicago")
    book.create_account("umbrella", currency="USD", time_zone="Asia/Tokyo")
    book.create_account("umbrella-ml", currency="USD", parent="umbrella", pool_caps={"USD": ("500", "month")})
    book.create_account("umbrella-web", currency="USD", parent="umbrella", pool_caps={"USD": ("200", "month")})

    def grant(key: str, account: str, amount: str, unit: str, **fields: object) -> str:
        return book.issue_grant(account, amount, unit, idempotency_key=f"demo-{key}", actor="demo", **fields).id

    month_ago = now - timedelta(days=30)
    grant("acme-welcome", "acme", "50.00", "USD", source="promotional", reason_code="welcome", effective_at=month_ago,
          expires_at=now + timedelta(days=60), external_ref="campaign:welcome-2026")  # fmt: skip
    grant("acme-topup", "acme", "200.00", "USD", source="purchased", cost_basis="1", reason_code="top-up",
          effective_at=month_ago,
          external_ref="invoice:INV-1001")  # fmt: skip
    grant("acme-ai", "acme", "10000", "AI_CREDIT", source="allotment", reason_code="pro-plan",
          effective_at=month_ago, expires_at=now + timedelta(days=1), scope="products:image-gen,text-gen")  # fmt: skip
    grant("acme-sla", "acme", "25.00", "USD", source="sla", reason_code="sla-breach", priority=10,
          effective_at=now - timedelta(days=10),
          external_ref="incident:INC-4412", scope="category:usage")  # fmt: skip
    grant("globex-trial", "globex", "100.00", "EUR", source="trial", reason_code="trial",
          effective_at=month_ago, expires_at=now - timedelta(days=2))  # fmt: skip
    grant("globex-bundle", "globex", "500.00", "EUR", source="purchased", cost_basis="0.9", effective_at=month_ago,
          reason_code="bundle-500", external_ref="contract:GX-7")  # fmt: skip
    mistake = grant("initech-goodwill", "initech", "75.00", "USD", source="support", reason_code="goodwill",
                    effective_at=month_ago)  # fmt: skip
    grant("initech-next-month", "initech", "30.00", "USD", source="allotment", reason_code="monthly",
          effective_at=now + timedelta(days=10))  # fmt: skip
    grant("globex-goodwill", "globex", "15.00", "EUR", source="support", reason_code="outage-goodwill",
          effective_at=now - timedelta(days=6), expires_at=now + timedelta(days=24),
          external_ref="ticket:SUP-2231")  # fmt: skip
    grant("umbrella-referral", "umbrella", "100.00", "USD", source="referral", reason_code="referral",
          effective_at=now - timedelta(days=15), expires_at=now + timedelta(days=75),
          external_ref="referral:initech")  # fmt: skip
    grant("umbrella-pool", "umbrella", "2000.00", "USD", source="purchased", cost_basis="1", effective_at=month_ago,
          reason_code="enterprise-pool", external_ref="contract:UMB-2026")  # fmt: skip

    def burn(key: str, account: str, amount: str, unit: str, product: str, days_ago: float) -> None:
        book.charge(account, amount, unit, product=product, at=now - timedelta(days=days_ago),
                    idempotency_key=f"demo-{key}", actor="demo", allow_partial=True)  # fmt: skip

    burn("acme-1", "acme", "12.40", "USD", "api-calls", 20)
    burn("acme-2", "acme", "31.75", "USD", "api-calls", 9)
    burn("acme-3", "acme", "1250.5", "AI_CREDIT", "image-gen", 5)
    burn("acme-4", "acme", "18.20", "USD", "storage", 1)
    burn("globex-1", "globex", "80.00", "EUR", "api-calls", 12)
    burn("globex-2", "globex", "9.30", "EUR", "storage", 2)
    burn("initech-1", "initech", "5.00", "USD", "api-calls", 3)
    burn("umbrella-ml-1", "umbrella-ml", "420.00", "USD", "gpu-hours", 4)
    burn("umbrella-web-1", "umbrella-web", "95.00", "USD", "api-calls", 2)
    book.void_grant(mistake, reason="issued to the wrong customer", idempotency_key="demo-void-initech", actor="demo")
    book.expire_due(now=now)
    _seed_metering(book, now)
    _seed_invoices(book, now)


def _seed_metering(book: Book, now: datetime) -> None:
    """A rate card, enforcement on acme, a meter with recent events, an open hold and a captured one."""
    book.define_rate_card("standard", "AI_CREDIT", {"image-gen": "2.5", "text-gen": "0.5"}, effective_at=now)
    book.configure_account("acme", mode="enforce", rate_card="standard", overdraft_limits={"AI_CREDIT": "100"})
    book.define_meter("api-calls", event_type="request", aggregation="count", filters={"status": "ok"})
    book.ingest([
        {"key": f"demo-request-{i}", "account": "acme", "type": "request", "quantity": "1",
         "time": (now - timedelta(hours=3 * i)).isoformat(), "properties": {"status": "ok" if i % 7 else "error"}}
        for i in range(1, 40)
    ])  # fmt: skip
    done = book.reserve("acme", "image-gen", "40", ttl_seconds=600, idempotency_key="demo-hold-1", actor="demo")
    book.capture(done.id, "36", idempotency_key="demo-capture-1", actor="demo")
    book.reserve("acme", "text-gen", "200", ttl_seconds=3600, idempotency_key="demo-hold-2", actor="demo")


def _seed_invoices(book: Book, now: datetime) -> None:
    """A price book, last month's usage for acme and its finalized invoice."""
    first_of_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = first_of_month - timedelta(days=2 if now.day > 1 else 33)
    book.publish_price_book(
        "default",
        "USD",
        [
            {
                "product": "api-calls",
                "category": "usage",
                "model": "graduated",
                "tiers": [{"up_to": "1000", "unit_price": "0.01"}, {"up_to": None, "unit_price": "0.005"}],
            },
            {"product": "storage", "category": "usage", "model": "per_unit", "unit_price": "0.10"},
        ],
        effective_at=last_month - timedelta(days=60),
    )
    start = last_month.replace(day=1)
    book.record_usage(
        "acme",
        [
            {
                "event_id": f"demo-usage-{i}",
                "product": "api-calls" if i % 3 else "storage",
                "quantity": str(100 + 37 * i) if i % 3 else str(5 + i),
                "occurred_at": (start + timedelta(days=i, hours=5)).isoformat(),
            }
            for i in range(20)
        ],
    )
    book.finalize_invoice("acme", last_month.strftime("%Y-%m"), actor="demo")
