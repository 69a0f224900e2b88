"""Pin every runtime dependency to its lower bound in pyproject.toml: pip constraints for the minimum environment.

    python scripts/minimum_constraints.py > constraints.txt && pip install -c constraints.txt -e ".[test]"

.ci/run installs the package with these constraints and runs the tests marked `minimum` (tests/conftest.py), so
every lower bound of `[project].dependencies` is a version tested; the extras (test tools among them) are not
pinned. Needs Python 3.11 (tomllib).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

LOWER_BOUND = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*([^,;\s]+)")


def constraints(pyproject: Path) -> list[str]:
    """`name==lower bound` for each dependency of `pyproject` (the extras are left out); one without a lower bound
    is an error.

    Example:
        >>> lines = constraints(Path(__file__).resolve().parents[1] / "pyproject.toml")
        >>> [line.split("==")[0] for line in lines]
        ['torch', 'transformers', 'tokenizers', 'safetensors', 'numpy', 'tqdm', 'danling', 'chanfig']
    """
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    matches = [LOWER_BOUND.match(dependency) for dependency in dependencies]
    unbounded = [dependency for dependency, match in zip(dependencies, matches) if not match]
    if unbounded:
        raise ValueError(f"no lower bound to pin in {pyproject}: {', '.join(unbounded)}")
    return [f"{match[1]}=={match[2]}" for match in matches]


if __name__ == "__main__":
    sys.stdout.write(
        "".join(f"{line}\n" for line in constraints(Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")))
    )
