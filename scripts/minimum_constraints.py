"""Pin torch and transformers to their lower bounds in pyproject.toml: pip constraints for the minimum environment.

    python scripts/minimum_constraints.py > constraints.txt && pip install -c constraints.txt -e ".[test]"

.ci/run installs the package with these constraints and runs the tests marked `minimum` (tests/conftest.py), so
the declared lower bounds of torch and transformers are versions tested (the other lower bounds are not yet).
Needs Python 3.11 (tomllib).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

PINNED = {"torch", "transformers"}
LOWER_BOUND = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*([^,;\s]+)")


def constraints(pyproject: Path) -> list[str]:
    """`name==lower bound` for torch and transformers in the dependencies of `pyproject`.

    Example:
        >>> lines = constraints(Path(__file__).resolve().parents[1] / "pyproject.toml")
        >>> any(line.startswith("transformers==") for line in lines)
        True
    """
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return [f"{match[1]}=={match[2]}" for match in map(LOWER_BOUND.match, dependencies) if match and match[1] in PINNED]


if __name__ == "__main__":
    sys.stdout.write(
        "".join(f"{line}\n" for line in constraints(Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")))
    )
