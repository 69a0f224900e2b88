"""Fixtures shared by the test modules, and the run's last line: how many tests were skipped for want of
../shared (see tests/helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer

from .helpers import MISSING, SHARED, fixture_dir


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


# The model, loading and contract tests, which .ci/run also runs on the declared minimum versions (`-m minimum`):
# every file of tests/models/<model_type>/, and these, by file stem; test_metrics and test_config (danling, chanfig:
# training/ and pretraining/) and test_progress (tqdm) are there so that each pinned dependency is exercised.
MINIMUM_VERSION_TESTS = {"test_common", "test_loading_utils", "test_load_report", "test_heads"}
MINIMUM_VERSION_TESTS |= {"test_metrics", "test_config", "test_progress"}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        family = item.path.parents[1].name == "models" and item.path.parents[2].name == "tests"
        if item.path.stem in MINIMUM_VERSION_TESTS or family:
            item.add_marker(pytest.mark.minimum)
