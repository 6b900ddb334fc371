"""Repositories for enforcement: settings (the kill switch, per-account modes and overdraft
limits, shadow decisions), rate cards and holds.

None of these tables is the ledger: money moves only through ``LedgerStore.post_many``.
``holds`` is a status projection written in the same unit of work as the hold's ledger
transactions. Rate-card versions are insert-only and cached (see ``definition_cache``);
settings are read through the SQLite writer connection's ``SettingsCache``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from drawdown.domain.enforcement import AccountEnforcement, Mode
from drawdown.domain.holds import Hold, HoldStatus
from drawdown.domain.instants import from_micros, to_micros
from drawdown.domain.rates import RateCard
from drawdown.storage import statements as sql
from drawdown.storage.definition_cache import Definition, DefinitionCache
from drawdown.storage.rows import dumps
from drawdown.storage.schema import account_enforcement, enforcement_decisions, holds, rate_cards, settings
from drawdown.storage.settings_cache import SettingsCache


class Settings:
    """Settings and per-account enforcement; on the SQLite writer connection, read through
    :class:`~drawdown.storage.settings_cache.SettingsCache` (which every write here empties)."""

    def __init__(self, conn: Connection, cache: SettingsCache | None = None) -> None:
        self.conn = conn
        self.cache = cache

    def get(self, key: str) -> str | None:
        if self.cache is not None:
            return self.cache.get(("setting", key), lambda: self._get(key))
        return self._get(key)

    def _get(self, key: str) -> str | None:
        found = sql.P_SETTING.rows(self.conn, {"key": key})
        return found[0][0] if found else None

    def put(self, key: str, value: str) -> None:
        if self.cache is not None:
            self.cache.invalidate()
        if self.conn.execute(update(settings).where(settings.c.key == key).values(value=value)).rowcount == 0:
            self.conn.execute(insert(settings).values(key=key, value=value))

    def enforcement(self, account_id: str) -> AccountEnforcement:
        if self.cache is not None:
            return self.cache.get(("enforcement", account_id), lambda: self._enforcement(account_id))
        return self._enforcement(account_id)

    def _enforcement(self, account_id: str) -> AccountEnforcement:
        found = sql.P_ACCOUNT_ENFORCEMENT.mappings(self.conn, {"account_id": account_id})
        if not found:
            return AccountEnforcement(account_id)
        row = found[0]
        return AccountEnforcement(
            account_id, Mode(row["mode"]), json.loads(row["overdraft_limits"]), row["rate_card_id"],
            row["rate_card_version"],
        )  # fmt: skip

    def put_enforcement(self, value: AccountEnforcement) -> None:
        if self.cache is not None:
            self.cache.invalidate()
        fields = {
            "mode": str(value.mode), "overdraft_limits": dumps(value.overdraft_limits or {}),
            "rate_card_id": value.rate_card_id, "rate_card_version": value.rate_card_version,
        }  # fmt: skip
        t = account_enforcement
        if self.conn.execute(update(t).where(t.c.account_id == value.account_id).values(fields)).rowcount == 0:
            self.conn.execute(insert(t).values(account_id=value.account_id, **fields))

    def in_mode(self, mode: Mode, account_ids: Sequence[str]) -> set[str]:
        """Which of ``account_ids`` are set to ``mode`` (the default mode is never stored, so ask for others)."""
        assert mode is not Mode.ENFORCE, "accounts without settings are in enforce mode"
        t = account_enforcement.c
        found: set[str] = set()
        for chunk in sql.id_chunks(account_ids):
            query = select(t.account_id).where(t.mode == str(mode), t.account_id.in_(chunk))
            found.update(self.conn.execute(query).scalars())
        return found

    def log_decision(self, row: dict[str, Any]) -> None:
        self.conn.execute(insert(enforcement_decisions).values(row))

    def decisions(self, account_id: str) -> list[dict[str, Any]]:
        t = enforcement_decisions.c
        query = select(enforcement_decisions).where(t.account_id == account_id).order_by(t.decided_at, t.id)
        return [dict(r) for r in self.conn.execute(query).mappings()]


class RateCards:
    """Versions are insert-only: one read from a committed row is cached (see definition_cache)."""

    def __init__(
        self, conn: Connection, cache: DefinitionCache, read: list[Definition], settings: SettingsCache | None = None
    ) -> None:
        self.conn = conn
        self.cache = cache
        self.read = read  # what this unit of work read, for the cache once it commits
        self.settings = settings  # the newest version of each card, on the SQLite writer connection

    def latest_version(self, card_id: str) -> int:
        found = self.conn.execute(select(func.max(rate_cards.c.version)).where(rate_cards.c.id == card_id)).scalar()
        return int(found or 0)

    def add(self, card: RateCard, created_at: int) -> None:
        if self.settings is not None:
            self.settings.invalidate()
        self.conn.execute(
            insert(rate_cards).values(
                id=card.id, version=card.version, unit=card.unit, effective_at=to_micros(card.effective_at),
                rates=dumps({k: str(v) for k, v in card.rates.items()}), created_at=created_at,
            )
        )  # fmt: skip

    def get(self, card_id: str, version: int | None, at: datetime) -> RateCard | None:
        """Version ``version``, or the newest version effective at ``at`` when it is None."""
        if version is None:
            version = self._in_force(card_id, to_micros(at))
            if version is None:
                return None
        cached = self.cache.rate_card(card_id, version)
        if cached is not None:
            return cached
        found = sql.P_RATE_CARD.mappings(self.conn, {"card_id": card_id, "version": version})
        if not found:
            return None
        row = found[0]
        rates = {k: Decimal(v) for k, v in json.loads(row["rates"]).items()}  # the card keeps a read-only copy
        card = RateCard(row["id"], row["version"], row["unit"], from_micros(row["effective_at"]), rates)
        self.read.append(card)
        return card

    def _in_force(self, card_id: str, at: int) -> int | None:
        """The newest version effective at ``at``. Which one that is changes when a version is
        added, so it is read from the store, or from the settings cache, which a new version
        empties: the newest version is the answer whenever it is already effective."""
        if self.settings is not None:
            newest = self.settings.get(("newest_rate_card", card_id), lambda: self._newest(card_id))
            if newest is not None and newest[1] <= at:
                return newest[0]
        in_force = sql.P_RATE_CARD_IN_FORCE.rows(self.conn, {"card_id": card_id, "at": at})
        return int(in_force[0][0]) if in_force else None

    def _newest(self, card_id: str) -> tuple[int, int] | None:
        found = sql.P_NEWEST_RATE_CARD.rows(self.conn, {"card_id": card_id})
        return (int(found[0][0]), int(found[0][1])) if found else None


class Holds:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, hold: Hold) -> None:
        sql.P_INSERT_HOLD.run(self.conn, _hold_row(hold))

    def get(self, hold_id: str) -> Hold | None:
        found = sql.P_HOLD_BY_ID.mappings(self.conn, {"hold_id": hold_id})
        return _hold_from(found[0]) if found else None

    def by_transaction(self, tx_id: str) -> Hold | None:
        row = self.conn.execute(select(holds).where(holds.c.hold_tx_id == tx_id)).mappings().first()
        return None if row is None else _hold_from(row)

    def resolve(self, hold: Hold) -> None:
        """Record a resolution; only an open hold can resolve (the writer lock is held)."""
        row = _hold_row(hold)
        values = {f"v_{name}": row[name] for name in sql.HOLD_RESOLUTION_COLUMNS}
        changed = sql.P_RESOLVE_HOLD.run(self.conn, {"hold_id": hold.id, **values})
        assert changed == 1, f"hold {hold.id} was not open"

    def due(self, now: int, limit: int) -> list[Hold]:
        t = holds.c
        query = (
            select(holds)
            .where(t.status == str(HoldStatus.OPEN), t.expires_at <= now)
            .order_by(t.expires_at, t.id)
            .limit(limit)
        )
        return [_hold_from(r) for r in self.conn.execute(query).mappings()]

    def open_units(self, account_id: str, unit: str, *, overdraft_only: bool = False) -> int:
        """What the account's open holds hold in ``unit`` (only their overdraft parts if asked)."""
        t = holds.c
        column = t.overdraft_units if overdraft_only else t.amount_units
        query = select(func.coalesce(func.sum(column), 0)).where(
            t.account_id == account_id, t.unit == unit, t.status == str(HoldStatus.OPEN)
        )
        return int(self.conn.execute(query).scalar_one())


def _hold_row(hold: Hold) -> dict[str, Any]:
    return {
        "id": hold.id, "account_id": hold.account_id, "unit": hold.unit, "feature": hold.feature,
        "quantity": str(hold.quantity), "rate": str(hold.rate), "amount_units": hold.amount_units,
        "requested_units": hold.requested_units, "overdraft_units": hold.overdraft_units, "status": str(hold.status),
        "created_at": to_micros(hold.created_at), "expires_at": to_micros(hold.expires_at),
        "hold_tx_id": hold.hold_tx_id, "resolution_tx_id": hold.resolution_tx_id,
        "captured_units": hold.captured_units, "released_units": hold.released_units,
        "resolved_at": None if hold.resolved_at is None else to_micros(hold.resolved_at),
    }  # fmt: skip


def _hold_from(row: Any) -> Hold:
    return Hold(
        id=row["id"], account_id=row["account_id"], unit=row["unit"], feature=row["feature"],
        quantity=Decimal(row["quantity"]), rate=Decimal(row["rate"]), amount_units=row["amount_units"],
        requested_units=row["requested_units"], overdraft_units=row["overdraft_units"],
        status=HoldStatus(row["status"]),
        created_at=from_micros(row["created_at"]), expires_at=from_micros(row["expires_at"]),
        hold_tx_id=row["hold_tx_id"], resolution_tx_id=row["resolution_tx_id"],
        captured_units=row["captured_units"], released_units=row["released_units"],
        resolved_at=None if row["resolved_at"] is None else from_micros(row["resolved_at"]),
    )  # fmt: skip
