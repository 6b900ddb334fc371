"""Shared benchmark plumbing: machine facts and a report that prints each figure beside its
same-run baseline, the ratio, and the target."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from dataclasses import dataclass, field


def machine_facts() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"machine: {cpu}, {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"SQLite {sqlite3.sqlite_version}; {platform.system()} {platform.release()}; argv {' '.join(sys.argv[1:])}"
    )


@dataclass
class Report:
    title: str
    lines: list[str] = field(default_factory=list)

    def row(self, what: str, value: float, unit: str, baseline: float, against: str, *, target: float | None) -> None:
        """A throughput figure (higher is better); ratio = value / baseline."""
        ratio = value / baseline
        verdict = "" if target is None else (" ok" if ratio >= target else " BELOW TARGET")
        goal = "" if target is None else f" (target ≥ {target}×){verdict}"
        self.lines.append(f"{what}: {value:,.0f} {unit} vs {against}: {baseline:,.0f} {unit} → {ratio:.2f}×{goal}")

    def latency(self, what: str, p50: float, p99: float, b50: float, b99: float, against: str,
                *, target: float | None) -> None:  # fmt: skip
        """A latency figure in µs (lower is better); ratio = value / baseline."""
        ratio = p50 / b50
        verdict = "" if target is None else (" ok" if ratio <= target else " ABOVE TARGET")
        goal = "" if target is None else f" (target p50 ≤ {target}×){verdict}"
        self.lines.append(
            f"{what}: p50 {p50:.1f} µs, p99 {p99:.1f} µs vs {against}: p50 {b50:.1f} µs, p99 {b99:.1f} µs "
            f"→ p50 {ratio:.2f}×{goal}"
        )

    def print(self) -> None:
        print(f"\n== {self.title} ==")
        for line in self.lines:
            print(line)
