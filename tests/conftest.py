"""Access to ../shared (beside the clone): the original checkpoints' fixtures and the published model cards.

Without ../shared the tests that need it are skipped, and the run ends with one line counting them; with the
`CI` environment variable set, a missing file is an error instead, so that a green CI run always compared
against the originals.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures"
MISSING = "../shared not found beside the clone"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def shared_path(*parts: str) -> Path:
    """A file or directory of ../shared; skips the test when it is missing, or fails it when `CI` is set."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"{MISSING}: {Path('../shared', *parts)} (expected at {path})"
        if in_ci():
            pytest.fail(f"{message}; CI is set, so the comparison with the originals cannot be skipped", False)
        pytest.skip(message)
    return path


def fixture_dir(*parts: str) -> Path:
    """A directory of ../shared/fixtures (an original checkpoint with its reference outputs)."""
    return shared_path("fixtures", *parts)


def masked_max_diff(actual: torch.Tensor, expected: torch.Tensor, mask: torch.Tensor) -> float:
    """The largest absolute difference over the real tokens of `mask`."""
    return (actual - expected)[mask.bool()].abs().max().item()


@pytest.fixture(scope="module")
def original(request) -> Path:
    """The original checkpoint named by the test module's `FIXTURE` (parts of a path under ../shared/fixtures)."""
    return fixture_dir(*request.module.FIXTURE)


@pytest.fixture(scope="module")
def reference(original) -> dict[str, torch.Tensor]:
    """The original implementation's outputs on the fixture's reference batch."""
    return load_file(original / "reference.safetensors")


@pytest.fixture(scope="module")
def tokenizer(converted):
    """The tokenizer of the test module's `converted` directory."""
    return AutoTokenizer.from_pretrained(converted)


def pytest_terminal_summary(terminalreporter) -> None:
    """One line at the end: how many tests were skipped for want of ../shared, and why."""
    skipped = [report for report in terminalreporter.stats.get("skipped", []) if MISSING in str(report.longrepr)]
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} tests against the original implementations were skipped: {MISSING} "
            f"(expected at {SHARED}); set CI=true to make this an error",
            yellow=True,
            bold=True,
        )


# The model, loading and contract tests, which .ci/run also runs on the declared minimum versions (`-m minimum`);
# named by file stem so that moving a file keeps it selected.
MINIMUM_VERSION_TESTS = {
    "test_dnabert2",
    "test_nucleotide_transformer",
    "test_loading",
    "test_load_reports",
    "test_model_contract",
    "test_heads",
}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if item.path.stem in MINIMUM_VERSION_TESTS:
            item.add_marker(pytest.mark.minimum)
