"""Count the test suite's checks: every collected test item, each parametrised case counted once, per folder of
`tests/` and for the doctests of `multimolecule/`.

    python scripts/count_checks.py [PYTEST ARGS...]

It runs `pytest --collect-only -q` (nothing is executed) from the root of the clone.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def collected(arguments: list[str]) -> list[str]:
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *arguments]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    items = [line for line in result.stdout.splitlines() if "::" in line]
    if result.returncode != 0 or not items:
        sys.exit(f"collection failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return items


def main() -> None:
    items = collected(sys.argv[1:])
    groups = Counter()
    for item in items:
        path = Path(item.split("::")[0])
        groups[str(path.parent) if path.parts[0] == "tests" else f"{path.parts[0]} (doctests)"] += 1
    for group, count in sorted(groups.items()):
        print(f"{count:5d}  {group}")
    print(f"{len(items):5d}  in all")


if __name__ == "__main__":
    main()
