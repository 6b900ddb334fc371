"""Rules the code itself must keep: no floats in money paths, no clock or I/O in the domain,
and no UPDATE or DELETE of ledger tables anywhere in the source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "drawdown"


def _python(folder: str) -> list[Path]:
    return sorted((SRC / folder).rglob("*.py"))


def test_the_domain_never_uses_floats() -> None:
    offenders = []
    for path in _python("domain"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name) and node.id == "float" and not _is_isinstance_check(path, node):
                offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Constant) and isinstance(node.value, float):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def _is_isinstance_check(path: Path, node: ast.Name) -> bool:
    """``isinstance(value, float)`` is how floats are refused; that use is allowed."""
    line = path.read_text().splitlines()[node.lineno - 1]
    return "isinstance(" in line


def test_the_domain_reads_no_clock_and_does_no_io() -> None:
    banned = re.compile(r"datetime\.now\(|time\.time\(|open\(|random\.|uuid|secrets|os\.environ")
    hits = [f"{p.name}: {m.group(0)}" for p in _python("domain") for m in banned.finditer(p.read_text())]
    assert hits == []


def updates_or_deletes(tables: str) -> list[str]:
    """Where the source (migrations aside) updates or deletes rows of the ``tables`` pattern."""
    pattern = re.compile(
        rf"(update|delete)\(\s*{tables}\b|(UPDATE|DELETE FROM)\s+{tables}\b|\b{tables}\.(update|delete)\(",
        re.IGNORECASE,
    )
    migrations = SRC / "storage" / "migrations"
    return [
        f"{p.relative_to(SRC)}:{m.group(0)}"
        for p in SRC.rglob("*.py")
        if migrations not in p.parents
        for m in pattern.finditer(p.read_text())
    ]


def test_no_source_file_updates_or_deletes_ledger_rows() -> None:
    assert updates_or_deletes(r"ledger_(transactions|entries)") == []


def test_no_source_file_updates_or_deletes_rows_the_process_caches() -> None:
    """Units, rate-card versions, accounts and grants are cached per process once read from a
    committed row (storage/definition_cache.py, grant_cache.py): that is only right while
    nothing ever changes or removes one."""
    assert updates_or_deletes(r"(accounts|units|rate_cards|grants)") == []
