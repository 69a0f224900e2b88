"""The suites' published figures (`suites.PUBLISHED`): every figure has a value in range and a source that says where
it is printed, every named suite has figures or a note saying why not, and the tasks a suite loads carry them."""

from __future__ import annotations

import re

import pytest

from multimolecule.benchmark import suites

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
