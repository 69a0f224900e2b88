from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures"


def fixture_dir(*parts: str) -> Path:
    """A directory of ../shared/fixtures; skips the test when the shared fixtures are not beside the repo."""
    path = FIXTURES.joinpath(*parts)
    if not path.is_dir():
        pytest.skip(f"shared fixtures not found at {path}")
    return path
