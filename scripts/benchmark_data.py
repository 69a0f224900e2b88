"""A small benchmark suite of real sequences, in each layout `multimolecule benchmark` reads.

    python scripts/benchmark_data.py data/bench                       # folder of GUE-layout tasks
    python scripts/benchmark_data.py data/bench-gue --layout gue      # the same tasks in GUE's folder names
    python scripts/benchmark_data.py data/bench-nt --layout nt        # a local copy for the nt suite (datasets)
    python scripts/benchmark_data.py data/bench-gb --layout genomic-benchmarks

Tasks (binary unless said otherwise):
- `crp`: the 358 E. coli CRP binding sites (26 bp, RegulonDB) shipped in logomaker's example data, against the
  same sites with their bases shuffled (base composition kept).
- `splice5`: the human 5' splice sites (9 bp, NNNGYNNNN, from GENCODE on hg38) shipped in logomaker's example
  data, against the same sites with every base but the G and the Y shuffled.
- `ecoli`: 300 bp windows of the E. coli chromosome labelled intergenic / + strand gene / - strand gene at their
  centre (3 classes; `scripts/ecoli_tasks.py`, genes called with pyrodigal).

Splits: 70/15/15, seeded, for crp and splice5; ecoli keeps its own (the held-out end of the chromosome). With
`--layout gue` the tasks sit where GUE keeps tasks of their kind: `tf/0` (crp), `splice/reconstructed` (splice5),
`virus/covid` (ecoli, multiclass like the Covid task), so that the authors' per-task settings apply to them. The
nt and genomic-benchmarks layouts have no dev split (the benchmark cuts one from train): train and dev are joined.
Nothing here is committed: the script writes the files where it is told.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

SEED = 0
GUE_NAMES = {"crp": "tf/0", "splice5": "splice/reconstructed", "ecoli": "virus/covid"}


def example_file(name: str) -> Path:
    import logomaker

    return Path(logomaker.__file__).resolve().parent / "examples" / "datafiles" / name


def crp_sites() -> list[str]:
    lines = example_file("crp_sites.fa").read_text().splitlines()
    return [line.strip().upper() for line in lines if line.strip() and not line.startswith(("#", ">"))]


def splice_sites() -> list[str]:
    lines = example_file("ss_sequences.txt").read_text().splitlines()
    rows = [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]
    return [row.upper().replace("U", "T") for row in rows[1:]]  # the first row is the header


def shuffled(sequence: str, rng: random.Random, keep: tuple[int, ...] = ()) -> str:
    """`sequence` with its bases shuffled, those at the positions `keep` left in place."""
    moving = [i for i in range(len(sequence)) if i not in keep]
    bases = [sequence[i] for i in moving]
    rng.shuffle(bases)
    out = list(sequence)
    for i, base in zip(moving, bases):
        out[i] = base
    return "".join(out)


def split_rows(rows: list[tuple[str, str]], limit: int | None) -> dict[str, list[tuple[str, str]]]:
    rng = random.Random(SEED)
    rows = list(rows)
    rng.shuffle(rows)
    if limit:
        rows = rows[:limit]
    train, dev = int(len(rows) * 0.70), int(len(rows) * 0.85)
    return {"train": rows[:train], "dev": rows[train:dev], "test": rows[dev:]}


def motif_task(positives: list[str], keep: tuple[int, ...], limit: int | None) -> dict:
    rng = random.Random(SEED)
    rows = [(s, "1") for s in positives] + [(shuffled(s, rng, keep), "0") for s in positives]
    return split_rows(rows, limit)


def ecoli_task(limit: int | None) -> dict:
    from ecoli_tasks import build

    with tempfile.TemporaryDirectory() as folder:
        build(Path(folder))
        splits = {}
        for split in ("train", "dev", "test"):
            with open(Path(folder) / "sequence" / f"{split}.csv", newline="") as handle:
                rows = [(row["sequence"], row["label"]) for row in csv.DictReader(handle)]
            splits[split] = rows[:limit] if limit else rows
    return splits


def tasks(limit: int | None = None, ecoli: bool = True) -> dict[str, dict]:
    """{task: {split: [(sequence, label)]}}; `limit` caps crp and splice5 rows in all and ecoli's per split."""
    out = {
        "crp": motif_task(crp_sites(), (), limit),
        "splice5": motif_task(splice_sites(), (3, 4), limit),
    }
    if ecoli:
        out["ecoli"] = ecoli_task(limit)
    return out


def write_csv(path: Path, header: list[str], rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write(output: Path, layout: str = "folder", limit: int | None = None, ecoli: bool = True) -> Path:
    """Write the suite in `layout` (folder, gue, nt, genomic-benchmarks) under `output`; returns `output`."""
    suite = tasks(limit, ecoli)
    for name, splits in suite.items():
        if layout in ("folder", "gue"):
            folder = output / (GUE_NAMES[name] if layout == "gue" else name)
            for split, rows in splits.items():
                write_csv(folder / f"{split}.csv", ["sequence", "label"], rows)
        elif layout == "genomic-benchmarks":
            for split, rows in (("train", splits["train"] + splits["dev"]), ("test", splits["test"])):
                for number, (sequence, label) in enumerate(rows):
                    file = output / name / split / f"class{label}" / f"{number}.txt"
                    file.parent.mkdir(parents=True, exist_ok=True)
                    file.write_text(sequence)
    if layout == "nt":
        for split in ("train", "test"):
            rows = [
                (sequence, label, name)
                for name, splits in suite.items()
                for sequence, label in (splits["train"] + splits["dev"] if split == "train" else splits["test"])
            ]
            write_csv(output / f"{split}.csv", ["sequence", "label", "task"], rows)
    return output


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="where the suite is written")
    parser.add_argument("--layout", default="folder", choices=("folder", "gue", "nt", "genomic-benchmarks"))
    parser.add_argument("--limit", type=int, help="at most this many rows per motif task, and per ecoli split")
    parser.add_argument("--no-ecoli", dest="ecoli", action="store_false", help="leave out the ecoli task")
    args = parser.parse_args(argv)
    write(args.output, args.layout, args.limit, args.ecoli)
    print(f"wrote {args.output} ({args.layout} layout)")


if __name__ == "__main__":
    main()
