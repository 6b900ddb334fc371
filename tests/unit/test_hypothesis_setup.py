"""Hypothesis's one-time set-up is done before any test is timed (see ``tests/conftest.py``).

Without it, a fresh clone's first test to draw text inside an ``@st.composite`` paid for
Hypothesis's Unicode tables (about 2 s) as data generation and failed ``too_slow``:
``tests/unit/test_event_batches.py`` did, every time, in a fresh worktree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_fresh_checkout_has_hypothesis_unicode_tables_built_when_the_session_starts(tmp_path: Path) -> None:
    fresh = tmp_path / "hypothesis"  # an empty storage directory, as in a fresh clone
    env = {**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(fresh)}
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", __file__]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    # collecting draws nothing, so only the session start can have built (and cached) the table
    # of what UTF-8 encodes: the one st.text() needs, and the slow one to build
    assert list(fresh.glob("unicode_data/*/codec-*utf-8*")), sorted(p.name for p in fresh.rglob("*"))
