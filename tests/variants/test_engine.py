"""The `score-variants` and `mutagenesis` commands, the `head` score of fine-tuned models, and the ISM plot."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from multimolecule import api
from multimolecule.cli import main

from .helpers import example_genome, write_fasta, write_tsv

GENOME = example_genome()


@pytest.fixture(scope="module")
def fasta(tmp_path_factory):
    return write_fasta(tmp_path_factory.mktemp("genome") / "genome.fa", GENOME)


@pytest.fixture(scope="module")
def fine_tuned(tmp_path_factory):
    """The DNABERT-2 demo fine-tuned for a few steps: sequence level and per base."""
    folder = tmp_path_factory.mktemp("fine_tuned")
    models = {}
    for level, per_base in (("sequence", False), ("token", True)):
        data = gc_task(folder / f"data-{level}", per_base)
        api.train(data, folder / level, max_steps=2, eval_steps=2, progress=False, device="cpu")
        models[level] = folder / level
    return models


def gc_task(folder: Path, per_base: bool) -> Path:
    """Windows of E. coli DNA labelled by GC content over a half (or, per base, whether each base is G or C)."""
    sequence = GENOME["chrD"]
    folder.mkdir(parents=True)
    for split, count, offset in (("train", 32, 0), ("dev", 8, 2000), ("test", 8, 2500)):
        rows = ["sequence,label"]
        for i in range(count):
            window = sequence[offset + 31 * i : offset + 31 * i + 40 + i % 40]
            gc = sum(base in "GC" for base in window) / len(window)
            label = "".join("1" if base in "GC" else "0" for base in window) if per_base else str(int(gc > 0.5))
            rows.append(f"{window},{label}")
        (folder / f"{split}.csv").write_text("\n".join(rows) + "\n")
    return folder


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_score_variants_command(capsys, tmp_path, fasta):
    a = GENOME["chrB"]
    variants = write_tsv(tmp_path / "v.tsv", [("chrB", 100, a[99], "A,C,G,T"), ("chrQ", 3, "A", "C")])
    output = tmp_path / "scores.tsv"
    argv = ["score-variants", variants, "-r", fasta, "-o", output, "-m", "nt-demo", "-s", "llr", "-s", "cosine", "-q"]
    code, out, _ = run(capsys, *argv, "--window", 60)
    assert code == 0 and "5 alleles (4 ok, 1 contig-not-found)" in out
    header = output.read_text().splitlines()[0].split("\t")
    assert header == ["id", "chrom", "pos", "ref", "alt", "status", "llr", "cosine", "cosine_variant"]
    code, _, err = run(capsys, *argv)
    assert code == 1 and err.strip().startswith("error: output exists")
    code, _, err = run(capsys, *argv[:-3], "-s", "head", "--overwrite")
    assert code == 2 and "needs a model fine-tuned" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "score-variants", variants, "-r", fasta, "-o", tmp_path / "x.csv")
    assert code == 1 and ".tsv or .vcf" in err


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_mutagenesis_command_writes_table_and_picture(capsys, tmp_path, suffix):
    sequence = GENOME["chrB"][:120]
    target = write_fasta(tmp_path / "s.fa", {"gene": sequence})
    code, out, _ = run(
        capsys, "mutagenesis", f"{target}:11-40", "-o", tmp_path / "ism.tsv", "--plot", tmp_path / f"ism{suffix}", "-q"
    )
    assert code == 0 and "90 SNVs" in out
    lines = (tmp_path / "ism.tsv").read_text().splitlines()
    assert len(lines) == 91 and lines[1].split("\t")[:5] == [
        "gene:11:" + sequence[10] + ":" + lines[1].split("\t")[4],
        "gene",
        "11",
        sequence[10],
        lines[1].split("\t")[4],
    ]
    magic = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}[suffix]
    assert (tmp_path / f"ism{suffix}").read_bytes().startswith(magic)
    code, _, err = run(capsys, "mutagenesis", f"{target}:200-300", "-o", tmp_path / "other.tsv")
    assert code == 1 and "outside gene (1-120)" in err


def test_mutagenesis_llr_is_one_pass_per_position():
    from multimolecule.variants import run_mutagenesis

    from .helpers import scorer

    chosen = scorer("nt-demo", ["llr"])
    result = run_mutagenesis(GENOME["chrC"][:300] + ":101-130", chosen, window=120)
    assert len(result.variants) == 90 and chosen.passes <= 30


def test_head_scores_equal_predict_on_the_two_windows(fine_tuned, tmp_path):
    """alt - ref of the fine-tuned model's probabilities, as `predict` gives them for the two windows' sequences."""
    text = GENOME["chrC"][200:260]
    position = 30
    alt = "A" if text[position] != "A" else "G"
    result = api.mutagenesis(f"{text}:{position + 1}-{position + 1}", model=fine_tuned["sequence"], score="head")
    row = next(row for v, row in zip(result.variants, result.scores) if v.alt == alt)
    ref_prediction, alt_prediction = api.predict(
        [text, text[:position] + alt + text[position + 1 :]], fine_tuned["sequence"]
    )
    for name in ("0", "1"):
        expected = alt_prediction[f"probability_{name}"] - ref_prediction[f"probability_{name}"]
        assert row[f"head_probability_{name}"] == pytest.approx(expected, abs=1e-5)
    assert not math.isnan(row["head_logit_1"])
    with pytest.raises(api.InputError, match="need a masked language model"):
        api.mutagenesis(f"{text}:5-5", model=fine_tuned["sequence"], score="llr")


def test_per_base_head_at_the_changed_base(fine_tuned):
    text = GENOME["chrC"][300:360]
    position = 17
    alt = "C" if text[position] != "C" else "T"
    result = api.mutagenesis(f"{text}:{position + 1}-{position + 1}", model=fine_tuned["token"], score="head")
    row = next(row for v, row in zip(result.variants, result.scores) if v.alt == alt)
    ref_prediction, alt_prediction = api.predict(
        [text, text[:position] + alt + text[position + 1 :]], fine_tuned["token"]
    )
    for k, name in enumerate(("0", "1")):
        expected = alt_prediction["probabilities"][position][k] - ref_prediction["probabilities"][position][k]
        assert row[f"head_probability_{name}"] == pytest.approx(expected, abs=2e-4)  # predict rounds to 4 places
