"""Use cases: one function per thing a caller can ask of drawdown.

Each runs inside one unit of work: load what it needs, call the pure domain, post the
resulting transactions through the ledger's one writer, and return values. Services decide
nothing the domain could decide; they own idempotency (a replayed key returns the original
result) and the order of loading and posting. Storage, clock and ids come in through
:mod:`drawdown.services.ports`.
"""
