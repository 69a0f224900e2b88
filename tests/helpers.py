"""What several test files need: ../shared (beside the clone), the command line run in-process, random DNA and
ragged batches, tiny models.

../shared holds the original checkpoints' fixtures and the published model cards. Without it the tests that need
it are skipped (conftest.py ends the run with one line counting them); with the `CI` environment variable set, a
missing file is an error instead, so that a green CI run always compared against the originals.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from multimolecule.cli import main

ROOT = Path(__file__).resolve().parents[1]  # the clone
SHARED = ROOT.parent / "shared"
MISSING = "../shared not found beside the clone"
# A tiny encoder (any registered family's config takes these): fast, and enough to tell two code paths apart.
TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}


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


def subprocess_env(**variables: str) -> dict[str, str]:
    """The environment for a child Python that must import this clone's `multimolecule`."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **variables}


# The command line, in-process


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """`multimolecule ARGV...`: its exit status, stdout and stderr."""
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(code: int, err: str, status: int | None = None) -> str:
    """The one `error: ...` line a failed command printed (and nothing else, no traceback); checks the status."""
    assert code != 0 if status is None else code == status, (code, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def cli_error(capsys, *argv, status: int | None = None) -> str:
    """Runs `multimolecule ARGV...`, which must fail with one line; returns that line."""
    code, _, err = run_cli(capsys, *argv)
    return one_line_error(code, err, status)


# Random inputs


def random_dna(length: int, seed: int | random.Random = 0, gc: float | None = None) -> str:
    """`length` random bases from `seed` (a number or a generator to draw on); with `gc`, that share of G or C."""
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    if gc is None:
        return "".join(rng.choice("ACGT") for _ in range(length))
    return "".join(rng.choice("GC") if rng.random() < gc else rng.choice("AT") for _ in range(length))


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int, left: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id lists as one batch, right- (or left-) padded with `pad_id`: input ids and attention mask."""
    longest = max(map(len, rows))
    input_ids = torch.full((len(rows), longest), pad_id)
    attention_mask = torch.zeros(len(rows), longest, dtype=torch.long)
    for i, row in enumerate(rows):
        columns = slice(longest - len(row), longest) if left else slice(0, len(row))
        input_ids[i, columns] = torch.tensor(row, dtype=torch.long)
        attention_mask[i, columns] = 1
    return input_ids, attention_mask


def ragged_batch(
    lengths: Sequence[int], pad_id: int, left: bool = False, ids: tuple[int, int] = (5, 4000), seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences of `lengths` random ids from `ids` (a half-open range: ordinary tokens), padded into one batch."""
    generator = torch.Generator().manual_seed(seed)
    rows = [torch.randint(*ids, (length,), generator=generator).tolist() for length in lengths]
    return pad_rows(rows, pad_id, left)


# Models


def tiny_model(model_class, attn_implementation: str = "eager", **config):
    """`model_class` with random weights (seed 0), the `TINY` size and `config` on top, in eval mode."""
    torch.manual_seed(0)
    configuration = model_class.config_class(**{**TINY, **config})
    return model_class._from_config(configuration, attn_implementation=attn_implementation).eval()


def masked_max_diff(actual: torch.Tensor, expected: torch.Tensor, mask: torch.Tensor) -> float:
    """The largest absolute difference over the real tokens of `mask`."""
    return (actual - expected)[mask.bool()].abs().max().item()


def python_blocks(markdown: str) -> list[str]:
    """The ```python blocks of a Markdown text."""
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


@pytest.fixture(scope="module")
def one_thread():
    """One CPU thread for a module (use it with `pytestmark = pytest.mark.usefixtures("one_thread")` and import it),
    as `multimolecule train` and `pretrain` use by default: these tiny models gain nothing from more."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
