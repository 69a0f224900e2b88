"""`score_variants`' engine: scores back in input order with their statuses, shards merged (NaN kept) and
resumed (the command's table and refusals: cli/test_score_variants.py)."""

from __future__ import annotations

import json
import math

import pytest

from multimolecule import api
from multimolecule.utils import InputError, runner
from multimolecule.variants import VariantScores, run_score_variants
from multimolecule.variants.engine import restore_nan

from ..helpers import GcShift, cli_error, example_genome, write_fasta, write_tsv

GENOME = example_genome()


@pytest.fixture(scope="module")
def fasta(tmp_path_factory):
    return write_fasta(tmp_path_factory.mktemp("genome") / "genome.fa", GENOME)


def test_resume_keeps_finished_shards(tmp_path, fasta, monkeypatch):
    a = GENOME["chrD"]
    rows = [("chrD", p, a[p - 1], "A" if a[p - 1] != "A" else "C") for p in range(100, 100 + 70)]
    variants = write_tsv(tmp_path / "v.tsv", rows)
    output = tmp_path / "out.tsv"
    expected = api.score_variants(variants, fasta, model="nt-demo", score="llr", window=60)
    from multimolecule.variants import scores

    calls = []
    original = scores.Scorer.__call__

    def fail_on_second_shard(self, sites, tick=None):
        calls.append(len(sites))
        if len(calls) == 2:
            raise RuntimeError("stopped")
        return original(self, sites, tick)

    monkeypatch.setattr(scores.Scorer, "__call__", fail_on_second_shard)
    with pytest.raises(RuntimeError, match="stopped"):
        api.score_variants(variants, fasta, model="nt-demo", score="llr", window=60, output=output, resume=True)
    assert not output.exists() and len(list((tmp_path / "out.tsv.shards").glob("shard-*"))) == 1
    calls.clear()
    result = api.score_variants(variants, fasta, model="nt-demo", score="llr", window=60, output=output, resume=True)
    assert calls == [70 - 64]  # only the unfinished shard was scored again
    assert [r["llr"] for r in result.scores] == pytest.approx([r["llr"] for r in expected.scores])
    assert not (tmp_path / "out.tsv.shards").exists()
    monkeypatch.undo()
    (tmp_path / "out.tsv.shards").mkdir()
    (tmp_path / "out.tsv.shards" / "manifest.json").write_text("{}")  # shards of another job
    with pytest.raises(InputError, match="another job"):
        api.score_variants(variants, fasta, model="nt-demo", output=output, resume=True, overwrite=True, window=60)


def test_scores_come_back_in_input_order_with_their_statuses(tmp_path, fasta):
    a = GENOME["chrA"]
    other = {"A": "G", "C": "T", "G": "A", "T": "C"}  # G/C <-> A/T: the G+C count moves by one
    rows = [
        ("chrA", 60, a[59], other[a[59]]),
        ("chrQ", 5, "A", "C"),
        ("chrA", 61, other[a[60]], a[60]),  # not the genome's base
    ]
    rows += [("chrA", 70, a[69], a[69])]  # the same base: no change
    result = run_score_variants(write_tsv(tmp_path / "v.tsv", rows), fasta, GcShift(), window=41)
    assert result.statuses == ["ok", "contig-not-found", "ref-mismatch", "ok"]
    assert result.scores[0]["gc_shift"] == (1.0 if a[59] in "AT" else -1.0)
    assert result.scores[1] == result.scores[2] == {} and result.scores[3] == {"gc_shift": 0.0}
    rows = result.rows()
    assert [row["pos"] for row in rows] == [60, 5, 61, 70] and rows[1]["gc_shift"] is None
    assert rows[0] == {"id": "chrA:60:" + a[59] + ":" + other[a[59]], "chrom": "chrA", "pos": 60, "ref": a[59],
                       "alt": other[a[59]], "status": "ok", "gc_shift": result.scores[0]["gc_shift"]}  # fmt: skip
    assert isinstance(result, VariantScores) and result.columns == ["gc_shift"]


def test_shards_merge_in_order_and_keep_nan(tmp_path, fasta, monkeypatch):
    """Five shards of three variants written, merged and removed; NaN survives the JSON lines."""
    monkeypatch.setattr(runner, "SHARD_RECORDS", 3)
    a = GENOME["chrD"]
    rows = [("chrD", p, a[p - 1], alt) for p in range(200, 205) for alt in "ACGT" if alt != a[p - 1]][:14]
    variants = write_tsv(tmp_path / "v.tsv", rows)
    in_memory = run_score_variants(variants, fasta, GcShift(nan_for="C"), window=31)
    scorer = GcShift(nan_for="C")
    output = tmp_path / "scores.tsv"
    sharded = run_score_variants(variants, fasta, scorer, window=31, output=output, resume=True)
    assert scorer.calls == [3, 3, 3, 3, 2] and not (tmp_path / "scores.tsv.shards").exists()
    for kept, direct in zip(sharded.scores, in_memory.scores):
        assert kept.keys() == direct.keys() == {"gc_shift"}
        assert math.isnan(kept["gc_shift"]) == math.isnan(direct["gc_shift"])
        assert math.isnan(kept["gc_shift"]) or kept["gc_shift"] == direct["gc_shift"]
    assert any(math.isnan(row["gc_shift"]) for row in sharded.scores)
    assert len(output.read_text().splitlines()) == 1 + len(rows)
    with pytest.raises(InputError, match="resume needs an output file"):
        run_score_variants(variants, fasta, GcShift(), window=31, resume=True)


def test_restore_nan_makes_every_value_a_float():
    restored = restore_nan({"a": 1, "b": None, "c": float("nan"), "d": -0.5})
    assert restored["a"] == 1.0 and isinstance(restored["a"], float) and restored["d"] == -0.5
    assert math.isnan(restored["b"]) and math.isnan(restored["c"])


def test_resume_resumes_only_the_same_job(tmp_path, capsys, monkeypatch):
    """A changed reference, planted, short or damaged shards and a 0-byte manifest: each refused in one line."""
    genome = dict(GENOME)
    reference = write_fasta(tmp_path / "genome.fa", genome)
    a = genome["chrD"]
    rows = [("chrD", p, a[p - 1], "A" if a[p - 1] != "A" else "C") for p in range(100, 100 + 70)]
    variants = write_tsv(tmp_path / "v.tsv", rows)
    output = tmp_path / "out.tsv"
    directory = tmp_path / "out.tsv.shards"
    from multimolecule.variants import scores

    original = scores.Scorer.__call__

    def stop_on_second_shard(self, sites, tick=None):
        if len(sites) < 64:
            raise KeyboardInterrupt
        return original(self, sites, tick)

    monkeypatch.setattr(scores.Scorer, "__call__", stop_on_second_shard)
    with pytest.raises(KeyboardInterrupt):
        api.score_variants(variants, reference, model="nt-demo", window=60, output=output, resume=True)
    monkeypatch.undo()
    first = directory / "shard-00000-of-00002.jsonl"
    kept = first.read_text()
    assert json.loads(kept.splitlines()[0])["shard"]["rows"] == 64 and len(kept.splitlines()) == 65  # its stamp

    # The reference changed around the first variant (not at its base): the shards belong to another job.
    changed = a[:90] + a[90:99].translate(str.maketrans("ACGT", "CATG")) + a[99:]
    write_fasta(reference, {**genome, "chrD": changed})
    command = ["score-variants", variants, "-r", reference, "-m", "nt-demo", "-o", output, "--window", "60", "-q"]
    line = cli_error(capsys, *command, "--resume")
    assert line == (
        f"error: {directory} holds shards of another job (differing: the reference); remove it, or run without "
        "--resume to start afresh"
    )
    line = cli_error(capsys, *command, "--resume", "--layer", "-2")
    assert "(differing: the reference, setting layer);" in line
    write_fasta(reference, genome)

    plants = {
        '{"llr": 999}\n': "was not written for these inputs",
        kept.splitlines()[0] + "\n" + "".join(line + "\n" for line in kept.splitlines()[1:10]): "holds 9 rows, not 64",
        kept[: len(kept) // 2]: "is damaged (JSONDecodeError)",
    }
    for content, message in plants.items():
        first.write_text(content)
        line = cli_error(capsys, *command, "--resume")
        assert line.startswith(f"error: {first} ") and message in line, line
        assert not output.exists()
    first.write_text(kept)
    manifest = directory / "manifest.json"
    saved = manifest.read_text()
    manifest.write_text("")  # left by a full disk
    line = cli_error(capsys, *command, "--resume")
    assert line == f"error: {manifest} is damaged (not a job manifest); remove {directory} to start afresh"
    manifest.write_text(saved)
    resumed = api.score_variants(variants, reference, model="nt-demo", window=60, output=output, resume=True)
    fresh = api.score_variants(variants, reference, model="nt-demo", window=60)
    assert [row["llr"] for row in resumed.scores] == [row["llr"] for row in fresh.scores]
    assert not directory.exists()
