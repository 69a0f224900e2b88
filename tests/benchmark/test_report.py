"""`multimolecule.benchmark.report`: the tables merged from the finished units' `result.json` files, against
statistics computed here; a partial table says so."""

from __future__ import annotations

import statistics

import pytest

from multimolecule.benchmark import report

from ..helpers import read_csv

SETTINGS = {
    "suite": "folder",
    "model": "dnabert2-demo",
    "modes": ["probe", "kmer"],
    "seeds": [42, 1, 2],
    "tasks": [{"name": "crp", "metric": "mcc", "published": 61.5, "source": "a paper"}],
}


def write_units(output, values: dict) -> None:
    for (mode, seed), value in values.items():
        unit = {"task": "crp", "mode": mode, "seed": seed, "metrics": {"mcc": value, "f1": value / 2}, "seconds": 1}
        report.write_json(report.unit_folder(output, "crp", mode, seed) / report.RESULT, unit)


def test_merge_writes_results_and_the_mean_and_sd_of_the_seeds(tmp_path):
    values = {("probe", 42): 0.41, ("probe", 1): 0.52, ("probe", 2): 0.47, ("kmer", 42): 0.3, ("kmer", 1): 0.3}
    write_units(tmp_path, values)
    tables = report.merge(tmp_path, SETTINGS)
    probe = [100 * values["probe", seed] for seed in (42, 1, 2)]
    assert tables["crp"]["probe"]["mean"] == pytest.approx(statistics.fmean(probe))
    assert tables["crp"]["probe"]["sd"] == pytest.approx(statistics.stdev(probe))
    assert sorted(v for _, v in tables["crp"]["probe"]["seeds"]) == pytest.approx(sorted(probe))
    rows = read_csv(tmp_path / "results.csv")
    assert list(rows[0]) == ["task", "mode", "seed", "metric", "value"] and len(rows) == 2 * len(values)
    assert [r["mode"] for r in rows[::2]] == ["probe"] * 3 + ["kmer"] * 2  # the modes in their order
    summary = (tmp_path / "summary.md").read_text()
    mean, sd = statistics.fmean(probe), statistics.stdev(probe)
    assert f"| crp | MCC | {mean:.2f} ± {sd:.2f} (n=3) | 30.00 ± 0.00 (n=2) | 61.50 |" in summary
    assert "5 of 6 task x mode x seed units finished (a partial table" in summary
    assert "Published: a paper." in summary
    write_units(tmp_path, {("kmer", 2): 0.3})
    report.merge(tmp_path, SETTINGS)
    assert "6 of 6 task x mode x seed units finished\n" in (tmp_path / "summary.md").read_text()
