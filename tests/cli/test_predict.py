"""`multimolecule predict`: what it writes and prints, and its one-line refusals (the predictions themselves:
training/test_inference.py)."""

from __future__ import annotations

import pytest

from multimolecule import api
from multimolecule.training.tasks import Task

from ..helpers import cli_error, fine_tuned, random_dna, run_cli, write_fasta

TASK = Task("sequence", "single_label_classification", 2, ["0", "1"], ["label"], ["sequence"], "value")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return fine_tuned(tmp_path_factory.mktemp("fine_tuned"), TASK)


def test_predict_writes_the_predictions_and_says_how_many(capsys, tmp_path, model):
    fasta = write_fasta(tmp_path / "new.fasta", {"gc_rich": random_dna(60, 1, 0.9), "at_rich": random_dna(70, 2, 0.1)})
    output = tmp_path / "p.csv"
    code, out, err = run_cli(capsys, "predict", fasta, "--model", model, "-o", output, "-q")
    assert (code, out, err) == (0, f"wrote {output}: predictions for 2 sequences\n", "")
    api.predict(fasta, model, output=tmp_path / "api.csv")
    assert output.read_text() == (tmp_path / "api.csv").read_text()


@pytest.mark.parametrize(
    ("model_name", "options", "message", "status"),
    [
        (None, ["--max-tokens", "0"], "error: --max-tokens must be an integer of at least 1, got 0", 2),
        (None, ["-b", "-1"], "error: -b/--batch-size must be an integer of at least 1, got -1", 2),
        ("dnabert2-demo", [], "error: dnabert2-demo is not a fine-tuned model (no task.json); train one with", 1),
    ],
)
def test_predict_refuses_in_one_line(capsys, tmp_path, model, model_name, options, message, status):
    fasta = write_fasta(tmp_path / "new.fasta", {"one": "ACGTACGTAC"})
    line = cli_error(
        capsys, "predict", fasta, "--model", model_name or model, "-o", tmp_path / "p.csv", *options, status=status
    )
    assert line.startswith(message), line
    assert not (tmp_path / "p.csv").exists()
