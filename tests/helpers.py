"""What several test files need: ../shared (beside the clone), the command line run in-process, random DNA and
ragged batches, tiny models, and for the variant tests a genome of real DNA and independent scorers.

../shared holds the original checkpoints' fixtures and the published model cards. Without it the tests that need
it are skipped (conftest.py ends the run with one line counting them); with the `CI` environment variable set, a
missing file is an error instead, so that a green CI run always compared against the originals.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import random
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from multimolecule import api
from multimolecule.cli import main
from multimolecule.demo import EXAMPLE_FASTA
from multimolecule.models import MODELS
from multimolecule.seqio import DNA, read_sequences, revcomp
from multimolecule.variants import ModelContext, Scorer

ROOT = Path(__file__).resolve().parents[1]  # the clone
SHARED = ROOT.parent / "shared"
MISSING = "../shared not found beside the clone"
# A tiny encoder (any registered family's config takes these): fast, and enough to tell two code paths apart.
TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}
# the attention encoders' bundled demos, as their families declare them (the U-Net's, NTv3's, is tested in its folder)
DEMOS = [package.demo[0] for package in MODELS.values() if package.demo and package.contact_prediction is not None]
MASKED = "ATGAAACGCATTAGCACCACCATTACCACC<mask>CATCACCATTACCACAGGTAACGGTGCGGGC"  # E. coli DNA with one mask


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


def random_records(count: int, seed: int) -> dict[str, str]:
    """`count` records r0, r1... of 20 to 700 random bases each, from `seed`."""
    rng = random.Random(seed)
    return {f"r{i}": "".join(rng.choices("ACGT", k=rng.randint(20, 700))) for i in range(count)}


def read_safetensors(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """The metadata and every tensor of a `.safetensors` file."""
    with safe_open(path, "pt") as file:
        return file.metadata(), {key: file.get_tensor(key) for key in file.keys()}


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


def write_csv(path: Path, header: str, rows: list[tuple]) -> None:
    """A labelled table for fine-tuning: `header` (such as `sequence,label`), then one line per row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows))


# Models


def tiny_model(model_class, attn_implementation: str = "eager", **config):
    """`model_class` with random weights (seed 0), the `TINY` size and `config` on top, in eval mode."""
    torch.manual_seed(0)
    configuration = model_class.config_class(**{**TINY, **config})
    return model_class._from_config(configuration, attn_implementation=attn_implementation).eval()


def fine_tuned(folder: Path, task, model: str = "nt-demo") -> Path:
    """What `multimolecule train` leaves in `folder`, without the training: `model` with a new head for `task`
    (random, seed 0), its tokenizer and `task.json`; for the code that uses a fine-tuned model."""
    from multimolecule.training.engine import load_model_for

    torch.manual_seed(0)
    network, tokenizer = load_model_for(task, model)
    network.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "task.json").write_text(json.dumps(task.to_dict()))
    return folder


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


# Variants: a genome of real E. coli DNA (the bundled example), and scorers computed independently


def example_genome() -> dict[str, str]:
    """The four E. coli stretches of the bundled example FASTA (150, 400, 1,000 and 3,000 bp) as chrA..chrD."""
    return {f"chr{'ABCD'[i]}": sequence for i, sequence in enumerate(read_sequences(EXAMPLE_FASTA).values())}


def write_fasta(path: Path, records: dict[str, str], width: int = 60) -> Path:
    lines = []
    for name, sequence in records.items():
        lines.append(f">{name}")
        lines += [sequence[i : i + width] for i in range(0, len(sequence), width)]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_tsv(path: Path, rows: list[tuple]) -> Path:
    path.write_text("chrom\tpos\tref\talt\n" + "".join("\t".join(map(str, row)) + "\n" for row in rows))
    return path


def reverse_genome(records: dict[str, str]) -> dict[str, str]:
    return {name: revcomp(sequence) for name, sequence in records.items()}


def scorer(model: str, scores, network=None, **options) -> Scorer:
    """A `Scorer` of a demo model (or of `network`, loaded otherwise, with the demo's tokenizer)."""
    loaded, tokenizer = api.load_model(model)
    network = network or loaded
    template = api.special_template(tokenizer)
    window = api.trained_window(tokenizer, network.config)
    context = ModelContext(network, tokenizer, template, window, api.token_lengths(network, tokenizer))
    return Scorer(context, scores, **options)


# ---------------------------------------------------------------------------- independent computations
def dna_vocabulary(tokenizer) -> tuple[list[int], list[str]]:
    pairs = sorted((i, t) for t, i in tokenizer.get_vocab().items() if t and all(b in DNA for b in t))
    return [i for i, _ in pairs], [t for _, t in pairs]


def token_spans(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """The ids of `text` and each token's (start, end) in it, from the token strings."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    spans, start = [], 0
    for token in tokenizer.convert_ids_to_tokens(ids):
        spans.append((start, start + len(token)))
        start += len(token)
    assert start == len(text)
    return ids, spans


@torch.no_grad()
def masked_log_probs(model: str, text: str, masked: list[int]) -> tuple[list[str], torch.Tensor]:
    """(DNA token strings, (masked tokens, DNA tokens) log-probabilities) with the tokens `masked` all masked."""
    network, tokenizer = api.load_model(model)
    ids, _ = token_spans(tokenizer, text)
    row = tokenizer(text)["input_ids"]  # with the special tokens
    assert row[0] == tokenizer.cls_token_id and row[1 : 1 + len(ids)] == ids
    first = 1  # both families put one <cls> first
    for i in masked:
        row[first + i] = tokenizer.mask_token_id
    logits = network(input_ids=torch.tensor([row])).logits[0].double()
    candidate_ids, candidate_texts = dna_vocabulary(tokenizer)
    return candidate_texts, logits[[first + i for i in masked]][:, candidate_ids].log_softmax(-1)


def independent_llr(model: str, text: str, position: int, alt: str) -> float:
    """log P(alt) - log P(ref) at `position` of `text`: the token over it masked, bases read off the token texts."""
    _, tokenizer = api.load_model(model)
    _, spans = token_spans(tokenizer, text)
    token = next(i for i, (start, end) in enumerate(spans) if start <= position < end)
    texts, log_probs = masked_log_probs(model, text, [token])
    offset = position - spans[token][0]
    probabilities = log_probs[0].exp()
    reach = sum(float(p) for t, p in zip(texts, probabilities) if len(t) > offset)
    marginal = {
        b: sum(float(p) for t, p in zip(texts, probabilities) if len(t) > offset and t[offset] == b) for b in DNA
    }
    return math.log(marginal[alt] / reach) - math.log(marginal[text[position]] / reach)


def independent_pll(model: str, ref_text: str, alt_text: str) -> float:
    """Sum of log p(token | the rest) over the tokens that differ, alt minus ref, one masked pass per token."""
    _, tokenizer = api.load_model(model)
    (ref_ids, ref_spans), (alt_ids, alt_spans) = token_spans(tokenizer, ref_text), token_spans(tokenizer, alt_text)
    ref_tokens = list(zip(ref_ids, ref_spans))
    alt_tokens = list(zip(alt_ids, alt_spans))
    shift = len(alt_text) - len(ref_text)
    lead = 0
    while lead < min(len(ref_tokens), len(alt_tokens)) and ref_tokens[lead] == alt_tokens[lead]:
        lead += 1
    trail = 0
    while (
        trail < min(len(ref_tokens), len(alt_tokens)) - lead
        and ref_ids[-1 - trail] == alt_ids[-1 - trail]
        and ref_spans[-1 - trail][0] + shift == alt_spans[-1 - trail][0]
    ):
        trail += 1
    total = 0.0
    for sign, text, ids in ((-1, ref_text, ref_ids), (1, alt_text, alt_ids)):
        for i in range(lead, len(ids) - trail):
            texts, log_probs = masked_log_probs(model, text, [i])
            token_text = tokenizer.convert_ids_to_tokens(ids[i])
            total += sign * float(log_probs[0, texts.index(token_text)])
    return total


@torch.no_grad()
def encoder_states(model: str, text: str) -> torch.Tensor:
    """(tokens, hidden) last hidden states of `text` from the encoder alone (`AutoModel`), special tokens dropped."""
    encoder, tokenizer = api.load_model(model, task="feature-extraction")
    encoded = tokenizer(text, return_tensors="pt")
    states = encoder(**encoded).last_hidden_state[0].double()
    special = set(tokenizer.all_special_ids)
    keep = [i for i, token in enumerate(encoded["input_ids"][0].tolist()) if token not in special]
    return states[keep]


class GcShift:
    """A scorer without a model, for the engines: the alternative window's G+C count minus the reference's (NaN
    where the alternative is `nan_for`); it remembers how many sites each call scored."""

    def __init__(self, nan_for: str | None = None):
        self.nan_for, self.calls = nan_for, []

    def columns(self) -> list[str]:
        return ["gc_shift"]

    def __call__(self, sites, tick=None) -> list[dict[str, float]]:
        self.calls.append(len(sites))
        if tick is not None:
            tick(len(sites))
        gc = lambda text: sum(base in "GC" for base in text)  # noqa: E731
        return [
            {"gc_shift": math.nan if site.alt == self.nan_for else float(gc(site.alt_text) - gc(site.text))}
            for site in sites
        ]


# Benchmarks: the small suite of real sequences (scripts/benchmark_data.py), built once per run (`benchmark_suite`
# in conftest.py), and the k-mer baseline recomputed with scikit-learn directly

BENCHMARK_LIMIT = 240  # rows per motif task, and per E. coli split: each mode of a task runs in seconds


def load_script(name: str):
    """A script of scripts/ as a module."""
    sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_csv(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def kmer_reference(folder) -> float:
    """The kmer mode's test MCC, recomputed here from the CSV files with scikit-learn directly."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import matthews_corrcoef
    from sklearn.preprocessing import StandardScaler

    from multimolecule.benchmark import baselines

    splits = {s: read_csv(folder / f"{s}.csv") for s in ("train", "dev", "test")}
    x = {s: baselines.kmer_frequencies([r["sequence"] for r in rows]) for s, rows in splits.items()}
    y = {s: np.array([int(r["label"]) for r in rows]) for s, rows in splits.items()}
    scaler = StandardScaler(with_mean=False).fit(x["train"])
    best = None
    for strength in baselines.STRENGTHS:
        model = LogisticRegression(C=strength, max_iter=1000).fit(scaler.transform(x["train"]), y["train"])
        dev = matthews_corrcoef(y["dev"], model.predict(scaler.transform(x["dev"])))
        if best is None or dev > best[0]:
            best = (dev, model)
    return matthews_corrcoef(y["test"], best[1].predict(scaler.transform(x["test"])))
