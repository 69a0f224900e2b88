"""The NTv3 fixtures (../shared/fixtures/ntv3: `ntv3_tiny_a` pre-trained, `ntv3_post_tiny_a` post-trained), their
reference outputs, and their conversions, for the tests of this folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from multimolecule.models.ntv3.convert_checkpoint import convert_checkpoint

from ...helpers import fixture_dir


@pytest.fixture(scope="module")
def pre() -> Path:
    return fixture_dir("ntv3", "ntv3_tiny_a")


@pytest.fixture(scope="module")
def post() -> Path:
    return fixture_dir("ntv3", "ntv3_post_tiny_a")


@pytest.fixture(scope="module")
def pre_reference(pre) -> dict:
    return load_file(pre / "reference.safetensors")


@pytest.fixture(scope="module")
def post_reference(post) -> dict:
    return load_file(post / "reference.safetensors")


@pytest.fixture(scope="module")
def pre_facts(pre) -> dict:
    return json.loads((pre / "reference.json").read_text())


@pytest.fixture(scope="module")
def converted(pre, post, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ntv3")
    return {
        "pre": convert_checkpoint(pre, root / "pre").output_path,
        "post": convert_checkpoint(post, root / "post").output_path,
    }
