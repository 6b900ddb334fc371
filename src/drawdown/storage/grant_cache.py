"""A process-wide cache of grants by id.

Grants are immutable once saved, so a cached grant can never be stale: the cache changes the
cost of loading a grant, never its value. A grant cached from a transaction that later rolled
back is harmless, because grants are only ever reached through projection rows, which rolled
back with it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection

from drawdown.domain import limits
from drawdown.domain.grants import Grant
from drawdown.domain.instants import from_micros
from drawdown.storage import rows
from drawdown.storage.statements import GRANT_WINDOWS_BY_IDS, GRANTS_BY_IDS


class GrantCache:
    def __init__(self, size_max: int = limits.GRANT_CACHE_ENTRIES_MAX) -> None:
        self.size_max = size_max
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()

    def load(self, conn: Connection, grant_ids: Iterable[str]) -> dict[str, Grant]:
        """The grants with these ids (those that exist), from memory or one query."""
        wanted = set(grant_ids)
        found = {gid: g for gid in wanted if (g := self._grants.get(gid)) is not None}
        missing = wanted - found.keys()
        if missing:
            for row in conn.execute(GRANTS_BY_IDS, {"ids": sorted(missing)}).mappings():
                found[row["id"]] = rows.grant_from(row)
            self._remember(found.values())
        return found

    def windows(self, conn: Connection, grant_ids: Iterable[str]) -> dict[str, tuple[datetime, datetime | None]]:
        """When each grant takes effect and expires: from cached grants, else a narrow query
        (posting a batch needs only these, and a new process has no grants cached)."""
        found: dict[str, tuple[datetime, datetime | None]] = {}
        missing = []
        for gid in grant_ids:
            grant = self._grants.get(gid)
            if grant is not None:
                found[gid] = (grant.effective_at, grant.expires_at)
            else:
                missing.append(gid)
        if missing:
            for gid, effective, expires in conn.execute(GRANT_WINDOWS_BY_IDS, {"ids": sorted(missing)}):
                found[gid] = (from_micros(effective), None if expires is None else from_micros(expires))
        return found

    def _remember(self, loaded: Iterable[Grant]) -> None:
        with self._lock:
            if len(self._grants) > self.size_max:
                self._grants.clear()  # crude but bounded; a reload costs one query
            for grant in loaded:
                self._grants[grant.id] = grant
