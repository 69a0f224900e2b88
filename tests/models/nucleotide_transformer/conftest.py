"""The Nucleotide Transformer v2 fixture (../shared/fixtures/nucleotide_transformer/nt_v2_tiny_a), converted from
its PyTorch and its JAX layout, for the tests of this folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from multimolecule.models.nucleotide_transformer.convert_checkpoint import convert_checkpoint

from ...helpers import fixture_dir


@pytest.fixture(scope="module")
def original() -> Path:
    return fixture_dir("nucleotide_transformer", "nt_v2_tiny_a")


@pytest.fixture(scope="module")
def cases(original) -> list[dict]:
    return json.loads((original / "reference.json").read_text())["tokenizer_cases"]


@pytest.fixture(scope="module")
def conversions(original, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("nt")
    return {
        "pytorch": convert_checkpoint(original, root / "pytorch"),
        "jax": convert_checkpoint(original / "jax_model", root / "jax"),
    }


@pytest.fixture(scope="module")
def converted(conversions) -> Path:
    return conversions["pytorch"].output_path


@pytest.fixture
def broken_copy(original, tmp_path) -> Path:
    """A copy of the original checkpoint, for a test to damage."""
    copy = tmp_path / "original"
    shutil.copytree(original, copy)
    return copy
