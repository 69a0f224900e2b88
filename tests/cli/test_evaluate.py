"""`multimolecule evaluate`: the metrics it prints and writes, from a file or a split of a folder, and its one-line
refusals (the metrics themselves: training/test_inference.py)."""

from __future__ import annotations

import json

import pytest

from multimolecule import api
from multimolecule.training.tasks import Task

from ..helpers import cli_error, fine_tuned, random_dna, run_cli, write_csv

TASK = Task("sequence", "single_label_classification", 2, ["0", "1"], ["label"], ["sequence"], "value")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return fine_tuned(tmp_path_factory.mktemp("fine_tuned"), TASK)


def test_evaluate_prints_and_writes_the_metrics(capsys, tmp_path, model):
    rows = [(random_dna(30 + 5 * i, i, 0.8 if i % 2 else 0.2), i % 2) for i in range(6)]
    write_csv(tmp_path / "data" / "test.csv", "sequence,label", rows)
    write_csv(tmp_path / "data" / "dev.csv", "sequence,label", rows[:4])
    code, out, err = run_cli(
        capsys, "evaluate", tmp_path / "data" / "test.csv", "-m", model, "-o", tmp_path / "m.json", "-q"
    )
    metrics = api.evaluate(model, file=tmp_path / "data" / "test.csv")
    assert code == 0 and err == "" and json.loads((tmp_path / "m.json").read_text()) == metrics
    assert out.splitlines() == [f"{name:<10} {value:.4f}" for name, value in metrics.items()]
    assert "mcc" in metrics and "accuracy" in metrics
    # a folder's split (--split: its test split unless named)
    code, out, _ = run_cli(capsys, "evaluate", "--data", tmp_path / "data", "--split", "dev", "-m", model, "-q")
    expected = api.evaluate(model, tmp_path / "data", split="dev")
    assert code == 0 and out.splitlines() == [f"{name:<10} {value:.4f}" for name, value in expected.items()]


@pytest.mark.parametrize("arguments", [[], ["test.csv", "--data", "data"]])
def test_evaluate_takes_a_file_or_a_folder(capsys, tmp_path, arguments):
    line = cli_error(capsys, "evaluate", *arguments, "-m", "nt-demo", "-o", tmp_path / "m.json", status=1)
    assert line == "error: give a labelled FILE or --data DIR (one of them)"
    assert not (tmp_path / "m.json").exists()
