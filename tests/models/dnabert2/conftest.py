"""The DNABERT-2 fixture (../shared/fixtures/dnabert2/tiny_a) and its conversion, for the tests of this folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from multimolecule.models.dnabert2.convert_checkpoint import convert_checkpoint

from ...helpers import fixture_dir


@pytest.fixture(scope="module")
def original() -> Path:
    return fixture_dir("dnabert2", "tiny_a")


@pytest.fixture(scope="module")
def probes(original) -> dict:
    return json.loads((original / "reference.json").read_text())


@pytest.fixture(scope="module")
def converted(original, tmp_path_factory) -> Path:
    return convert_checkpoint(original, tmp_path_factory.mktemp("dnabert2") / "tiny_a").output_path


@pytest.fixture
def broken_copy(original, tmp_path) -> Path:
    """A copy of the original checkpoint, for a test to damage."""
    copy = tmp_path / "original"
    shutil.copytree(original, copy)
    return copy
