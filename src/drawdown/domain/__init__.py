"""The pure core of drawdown: money, instants, accounts, grants, the ledger and drawdown.

Stdlib only. No I/O, no clock, no id generation: callers pass instants and ids in, and get
values and transaction drafts back. Invariants every module here keeps:

- amounts are ``int`` units at a unit's fixed scale; floats are refused;
- instants are aware and in UTC; periods are half-open ``[start, end)``;
- every transaction's postings sum to zero per unit;
- drawdown follows one total order per policy, so equal inputs give equal draws.
"""
