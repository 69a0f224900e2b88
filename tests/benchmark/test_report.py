"""`multimolecule.benchmark.report`: the tables merged from the finished units' `result.json` files, against
statistics computed here (a partial table says so); `summary.md` shows every published figure of a suite in its
row, with the source and the suite's note on the figures, and a suite without figures says why. Checked on the
whole GUE table, and end to end on GUE-layout tasks."""

from __future__ import annotations

import json
import random
import statistics

import pytest

from multimolecule.benchmark import report, suites

from ..helpers import one_thread, random_dna, read_csv  # noqa: F401  (one_thread: a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


def table(summary: str) -> dict[str, dict[str, str]]:
    """The summary's table as {task: {column: cell}}."""
    lines = [line for line in summary.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    return {row[0]: dict(zip(header, row)) for row in rows}


def summary_of(tmp_path, suite: str, tasks: list[dict]) -> str:
    """`summary.md` of `suite` for `tasks` (name, metric, published, source), each with one k-mer unit."""
    units = [{"task": t["name"], "mode": "kmer", "seed": 42, "metrics": {t["metric"]: 0.5}} for t in tasks]
    settings = {"suite": suite, "model": "m", "modes": ["kmer"], "seeds": [42], "tasks": tasks}
    return report.write_summary(tmp_path, report.summarise(units, tasks), settings, len(units), len(units)).read_text()


def test_summary_shows_every_gue_figure_with_its_source(tmp_path):
    tasks = [
        {"name": name, "metric": "f1" if name == "virus/covid" else "mcc", "published": f.value, "source": f.source}
        for name, f in suites.PUBLISHED["gue"].items()
    ]
    summary = summary_of(tmp_path, "gue", tasks)
    rows = table(summary)
    assert len(rows) == 28
    for name, figure in suites.PUBLISHED["gue"].items():
        assert rows[name]["published"] == f"{figure.value:.2f}", name
        assert rows[name]["kmer"] == "50.00 ± 0.00 (n=1)"
    assert rows["virus/covid"]["metric"] == "F1" and rows["mouse/0"]["published"] == "56.76"
    assert f"Published: {suites.DNABERT2_SOURCE}." in summary
    assert suites.PUBLISHED_NOTES["gue"] in summary  # what the figures were (not) checked against


@pytest.mark.parametrize("suite", ["nt", "genomic-benchmarks"])
def test_a_suite_without_figures_says_why(tmp_path, suite):
    tasks = [{"name": name, "metric": "mcc", "published": None, "source": None} for name in ("H3K4me3", "promoter_all")]
    summary = summary_of(tmp_path, suite, tasks)
    assert list(table(summary)["H3K4me3"]) == ["task", "metric", "kmer"]  # no empty published column
    assert suites.PUBLISHED_NOTES[suite].startswith("No published column") and suites.PUBLISHED_NOTES[suite] in summary
    assert "Published:" not in summary


def test_a_folder_suite_has_no_published_note(tmp_path):
    tasks = [{"name": "crp", "metric": "mcc", "published": None, "source": None}]
    summary = summary_of(tmp_path, str(tmp_path / "tasks"), tasks)
    assert not any(note in summary for note in suites.PUBLISHED_NOTES.values()) and "Published" not in summary


def test_benchmark_reports_the_figures_of_the_tasks_it_ran(tmp_path):
    """End to end: a GUE folder with three tasks (GC-rich against AT-rich sequences, so the k-mer floor is high),
    the kmer baseline alone; the summary and the plot carry the published figures, and settings.json their
    sources."""
    from multimolecule.api import benchmark

    rng = random.Random(0)
    for name in ("tf/0", "mouse/0", "virus/covid"):
        folder = tmp_path / "GUE" / name
        folder.mkdir(parents=True)
        for split, count in (("train", 60), ("dev", 20), ("test", 20)):
            rows = [(random_dna(40, rng, gc=0.7 if i % 2 else 0.3), i % 2) for i in range(count)]
            (folder / f"{split}.csv").write_text("sequence,label\n" + "".join(f"{s},{y}\n" for s, y in rows))
    out = tmp_path / "out"
    stats = benchmark("gue", out, data=tmp_path / "GUE", modes=[], seeds="42", progress=False)
    rows = table((out / "summary.md").read_text())
    assert {name: row["published"] for name, row in rows.items()} == {
        "virus/covid": "71.02",
        "mouse/0": "56.76",
        "tf/0": "71.99",
    }
    assert stats["tf/0"]["kmer"]["mean"] > 80  # the k-mer floor sees the GC content
    saved = json.loads((out / "settings.json").read_text())["tasks"]
    assert {t["source"] for t in saved} == {suites.DNABERT2_SOURCE}
    assert (out / "summary.png").read_bytes()[:4] == b"\x89PNG"


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
