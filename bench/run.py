"""Run every benchmark under bench/ (each ``bench_*.py``), one after another.

.venv/bin/python bench/run.py            # full sizes (minutes)
.venv/bin/python bench/run.py --quick    # small sizes, a smoke run
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    quick = ["--quick"] if "--quick" in sys.argv[1:] else []
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n### {script.name}", flush=True)
        failed += subprocess.call([sys.executable, str(script), *quick]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
