"""`multimolecule.benchmark.suites`: the published figures (`suites.PUBLISHED`: every figure has a value in range and
a source that says where it is printed, every named suite has figures or a note saying why not, and the tasks a
suite loads carry them), and the suites on real sequences (scripts/benchmark_data.py, `benchmark_suite` in
conftest.py): the GUE layout with the authors' settings, the converted nt and genomic-benchmarks layouts against
the folder one, and labels that differ between splits."""

from __future__ import annotations

import csv
import re
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


# A source names the model and where the paper prints the figure: a table, a figure, a supplement or an address.
WHERE = re.compile(r"\b(Tables?|Fig\.|Supplementary)\b|https?://|huggingface\.co/")


def figure_problems(published: dict[str, dict[str, suites.Published]], notes: dict[str, str]) -> list[str]:
    """Every way `published` (with `notes`) breaks the rules above, one line each; none for a sound table."""
    problems = []
    for suite in suites.SUITES:
        figures = published.get(suite)
        if figures is None:
            problems.append(f"{suite}: no entry")
            continue
        if not notes.get(suite, "").strip():
            problems.append(f"{suite}: no note on its figures (what they were checked against, or why none)")
        if not figures and not notes.get(suite, "").startswith("No published column"):
            problems.append(f"{suite}: no figures and no line saying why")
        known = suites.GUE_TASKS if suite == "gue" else None
        for task, figure in figures.items():
            if known is not None and task not in known:
                problems.append(f"{suite}/{task}: not a task of the suite")
            if not isinstance(figure.value, float) or not -100 <= figure.value <= 100:
                problems.append(f"{suite}/{task}: value {figure.value!r} is not a score x 100")
            if not WHERE.search(figure.source or ""):
                problems.append(f"{suite}/{task}: source {figure.source!r} does not say where the figure is printed")
    return problems


def test_every_published_figure_has_a_source():
    assert figure_problems(suites.PUBLISHED, suites.PUBLISHED_NOTES) == []
    assert len(suites.PUBLISHED["gue"]) == len(suites.GUE_TASKS) == 28
    assert suites.PUBLISHED["gue"]["virus/covid"] == suites.Published(71.02, suites.DNABERT2_SOURCE)
    assert "arXiv:2306.15006" in suites.DNABERT2_SOURCE and "DNABERT-2 (117M)" in suites.DNABERT2_SOURCE


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda p, n: p["gue"].__setitem__("tf/0", suites.Published(71.99, "")), "gue/tf/0: source ''"),
        (lambda p, n: p["gue"].__setitem__("tf/9", suites.Published(1.0, "Table 4")), "gue/tf/9: not a task"),
        (lambda p, n: p["gue"].__setitem__("tf/0", suites.Published(0.7199, "Table 4")), None),
        (lambda p, n: p["gue"].__setitem__("tf/0", suites.Published(7199.0, "Table 4")), "gue/tf/0: value 7199.0"),
        (lambda p, n: n.pop("nt"), "nt: no note"),
        (lambda p, n: p.pop("genomic-benchmarks"), "genomic-benchmarks: no entry"),
    ],
)
def test_the_source_check_catches_a_bad_figure(change, problem):
    """The check above fails on a figure without a source, of an unknown task or out of range, and on a suite with
    no note; a value of the wrong scale but in range (0.72 for 71.99) passes it: the check is no substitute for
    reading the paper."""
    published = {suite: dict(figures) for suite, figures in suites.PUBLISHED.items()}
    notes = dict(suites.PUBLISHED_NOTES)
    change(published, notes)
    found = figure_problems(published, notes)
    assert found == [] if problem is None else any(line.startswith(problem) for line in found), found


def test_tasks_carry_their_suite_figures(tmp_path):
    for name in ("tf/0", "mouse/0", "virus/covid"):
        (tmp_path / "GUE" / name).mkdir(parents=True)
    tasks = suites.gue_tasks(tmp_path)
    assert [(t.name, t.metric, t.published, t.source) for t in tasks] == [
        ("virus/covid", "f1", 71.02, suites.DNABERT2_SOURCE),
        ("mouse/0", "mcc", 56.76, suites.DNABERT2_SOURCE),
        ("tf/0", "mcc", 71.99, suites.DNABERT2_SOURCE),
    ]
    assert suites.published("nt", "H3K4me3") == (None, None)
    assert suites.published("gue", "EMP/H3") == (78.27, suites.DNABERT2_SOURCE)
