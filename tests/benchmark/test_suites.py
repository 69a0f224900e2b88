"""`multimolecule.benchmark.suites` on real sequences (scripts/benchmark_data.py, `benchmark_suite` in
conftest.py): the GUE layout with the authors' settings and published figures, the converted nt and
genomic-benchmarks layouts against the folder one, and labels that differ between splits."""

from __future__ import annotations

import csv
import shutil

import pytest

from multimolecule.benchmark import suites

from ..helpers import one_thread, read_csv  # noqa: F401  (one_thread: a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def data(benchmark_suite):
    return benchmark_suite


def test_gue_layout_takes_the_authors_settings_and_published_figures(data, tmp_path):
    from multimolecule.api import benchmark

    tasks = suites.load_suite("gue", str(data["gue"]), tmp_path)
    assert [t.name for t in tasks] == ["splice/reconstructed", "virus/covid", "tf/0"]
    splice = tasks[0].settings
    assert splice["finetune"]["max_length"] == 80 and splice["finetune"]["learning_rate"] == 2e-5
    assert splice["lora"]["learning_rate"] == 1e-4 and splice["lora"]["batch_size"] == 8
    assert tasks[1].metric == "f1" and tasks[1].published == 71.02
    table = benchmark("gue", tmp_path / "out", data=data["gue"], modes=[], tasks=["tf"], seeds="42")
    assert list(table) == ["tf/0"] and list(table["tf/0"]) == ["kmer"]
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "| tf/0 | MCC |" in summary and "| 71.99 |" in summary and "arXiv:2306.15006" in summary


def row_key(row: dict) -> tuple[str, str]:
    return row["sequence"], row["label"].removeprefix("class")  # genomic-benchmarks' classes are folder names


@pytest.mark.parametrize("layout", ["nt", "genomic-benchmarks"])
def test_converted_suites_match_the_folder_suite(data, tmp_path, layout):
    """The nt (through `datasets`) and genomic-benchmarks layouts give the same tasks and rows; the dev split is
    cut from train there, so the k-mer scores differ only by that."""
    tasks = suites.load_suite(layout, str(data[layout]), tmp_path)
    assert sorted(t.name for t in tasks) == ["crp", "ecoli", "splice5"]
    for task in tasks:
        rows = {s: read_csv(task.folder / f"{s}.csv") for s in ("train", "dev", "test")}
        source = {s: read_csv(data["folder"] / task.name / f"{s}.csv") for s in ("train", "dev", "test")}
        assert len(rows["train"]) + len(rows["dev"]) == len(source["train"]) + len(source["dev"])
        assert sorted(map(row_key, rows["test"])) == sorted(map(row_key, source["test"]))
        assert suites.check_task(task)


def test_labels_differing_between_splits_are_named(data, tmp_path):
    folder = tmp_path / "t"
    shutil.copytree(data["folder"] / "crp", folder)
    rows = read_csv(folder / "test.csv")
    with open(folder / "test.csv", "w", newline="") as handle:  # the test split loses class 0
        writer = csv.writer(handle)
        writer.writerow(["sequence", "label"])
        writer.writerows((r["sequence"], r["label"]) for r in rows if r["label"] == "1")
    with pytest.raises(suites.InputError, match=r"labels differ between splits \(train 0, 1; dev 0, 1; test 1\)"):
        suites.check_task(suites.BenchmarkTask("t", folder))
