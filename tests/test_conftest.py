"""The test suite's own guard: a clone without ../shared skips what needs it and says so, unless `CI` is set."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("ci", ["", "true"])
def test_missing_shared_fixtures_are_counted_or_fail_in_ci(tmp_path, ci):
    """A clone without ../shared: the run ends with one line counting the skipped tests, or fails with CI set."""
    tests = tmp_path / "clone" / "tests"
    tests.mkdir(parents=True)
    for name in ("conftest.py", "helpers.py"):
        shutil.copy(Path(__file__).with_name(name), tests / name)
    (tests / "__init__.py").touch()
    (tests / "test_parity.py").write_text(
        "from .helpers import fixture_dir\n\n"
        "def test_one():\n    fixture_dir('dnabert2', 'tiny_a')\n\n"
        "def test_two():\n    fixture_dir('nucleotide_transformer', 'nt_v2_tiny_a')\n\n"
        "def test_plain():\n    pass\n"
    )
    environment = {key: value for key, value in os.environ.items() if key != "CI"} | {"CI": ci}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=tests.parent,
        env=environment,
        capture_output=True,
        text=True,
    )
    if ci:
        assert result.returncode == 1 and "2 failed, 1 passed" in result.stdout
        assert "CI is set, so the comparison with the originals cannot be skipped" in result.stdout
    else:
        assert result.returncode == 0 and "1 passed, 2 skipped" in result.stdout
        lines = [line for line in result.stdout.splitlines() if "tests against the original implementations" in line]
        assert len(lines) == 1 and lines[0].startswith("2 tests against the original implementations were skipped")
