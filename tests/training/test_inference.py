"""Using a fine-tuned model (`training/inference.py`): predictions and metrics that are the model's own outputs
however they are batched, one result per kind of task, the inputs it reads and the files it writes."""

from __future__ import annotations

import csv
import json
import math
import re

import pytest
import torch

from multimolecule.training.inference import (
    evaluate_model,
    load_fine_tuned,
    output_format,
    predict_model,
    prediction_fields,
    read_inputs,
)
from multimolecule.training.tasks import Task
from multimolecule.utils import InputError

from ..helpers import fine_tuned, random_dna, write_csv

BINARY = Task("sequence", "single_label_classification", 2, ["0", "1"], ["label"], ["sequence"], "value")
TOKEN = Task("token", "single_label_classification", 2, ["0", "1"], ["label"], ["sequence"], "string")
# three lengths, so that a batch of them is padded
SEQUENCES = {"gc_rich": random_dna(60, 1, 0.9), "at_rich": random_dna(90, 2, 0.1), "short": "ACGTAGCATT"}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return fine_tuned(tmp_path_factory.mktemp("fine_tuned"), BINARY)


@pytest.fixture(scope="module")
def token_model(tmp_path_factory):
    return fine_tuned(tmp_path_factory.mktemp("fine_tuned_per_base"), TOKEN)


SHORT = {"gc_short": "GGCGCGTA", "at_short": "ATTATAATAT"}


@pytest.fixture(scope="module")
def alone(model) -> dict[str, list[float]]:
    """Each sequence through the model alone, without batching or padding: its class probabilities."""
    network, tokenizer, _ = load_fine_tuned(model)
    with torch.no_grad():
        return {
            name: network(**tokenizer(sequence, return_tensors="pt")).logits[0].softmax(-1).tolist()
            for name, sequence in {**SEQUENCES, **SHORT}.items()
        }


@pytest.mark.parametrize("max_tokens", [None, 1])  # all in one padded batch, or one sequence per forward pass
def test_predictions_are_the_models_outputs_in_the_input_order(model, alone, max_tokens):
    results = predict_model(SEQUENCES, model, max_tokens=max_tokens)
    assert [result["id"] for result in results] == list(SEQUENCES)
    for result in results:
        probabilities = alone[result["id"]]
        assert [result["probability_0"], result["probability_1"]] == pytest.approx(probabilities, abs=1e-5)
        assert result["label"] == str(probabilities.index(max(probabilities)))


def test_metrics_are_those_of_the_models_outputs(model, alone, tmp_path):
    labelled = {**SEQUENCES, **SHORT}
    rows = [(sequence, i % 2) for i, sequence in enumerate(labelled.values())]
    write_csv(tmp_path / "test.csv", "sequence,label", rows)
    metrics = evaluate_model(model, file=tmp_path / "test.csv", batch_size=2)
    right = [alone[name].index(max(alone[name])) == i % 2 for i, name in enumerate(labelled)]
    assert metrics["accuracy"] == pytest.approx(sum(right) / len(right), abs=1e-6)
    assert {"mcc", "f1", "auroc"} <= set(metrics)


def test_per_base_predictions_are_the_models_outputs(token_model):
    network, tokenizer, _ = load_fine_tuned(token_model)
    results = predict_model(SEQUENCES, token_model)
    for sequence, result in zip(SEQUENCES.values(), results):
        with torch.no_grad():
            probabilities = network(**tokenizer(sequence, return_tensors="pt")).logits[0].softmax(-1)
        assert probabilities.shape == (len(sequence), 2)  # one row per base
        assert len(result["label"]) == len(result["probabilities"]) == len(sequence)
        assert result["label"] == "".join(str(int(k)) for k in probabilities.argmax(-1))
        flat = [p for row in result["probabilities"] for p in row]
        assert flat == pytest.approx(probabilities.flatten().tolist(), abs=1e-4)  # rounded to 4 places


def test_a_sequence_longer_than_the_window(model, token_model, capsys):
    """A sequence label reads the window's first 128 tokens (the demo's trained length), with a note; per-base
    labels cannot be cut, so they are refused."""
    long = random_dna(6 * 140, 7)
    (result,) = predict_model([long], model)
    assert capsys.readouterr().out == "note: 1 sequences are longer than 128 tokens; only their start is used\n"
    network, tokenizer, _ = load_fine_tuned(model)
    with torch.no_grad():
        start = tokenizer(long, truncation=True, max_length=128, return_tensors="pt")
        probabilities = network(**start).logits[0].softmax(-1).tolist()
    assert [result["probability_0"], result["probability_1"]] == pytest.approx(probabilities, abs=1e-5)
    message = "1 sequences are longer than the model's 128 tokens; per-base predictions need them cut into windows"
    with pytest.raises(InputError, match=re.escape(message)):
        predict_model([long], token_model)


def close(actual, expected) -> bool:
    """Equal, floats to 1e-4, in nested dicts and lists."""
    if isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(close(actual[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(close(a, e) for a, e in zip(actual, expected))
    if isinstance(expected, float):
        return math.isclose(actual, expected, abs_tol=1e-4)
    return actual == expected


LOG3 = math.log(3)  # softmax([0, log 3]) = [0.25, 0.75]; sigmoid(log 3) = 0.75
TOKEN_WORDS = Task("token", "single_label_classification", 2, ["exon", "intron"], ["label"], ["sequence"], "list")
TOKEN_VALUES = Task("token", "regression", 1, None, ["label"], ["sequence"], "list")
CONTACT = Task("contact", "single_label_classification", 2, ["0", "1"], ["label"], ["sequence"], "pairs")
PAIR = torch.zeros(4, 4, 2)  # 3 bases and one padded position
PAIR[0, 2, 1] = PAIR[2, 0, 1] = PAIR[3, 3, 1] = LOG3


@pytest.mark.parametrize(
    ("task", "logits", "length", "expected"),
    [
        (BINARY, [0.0, LOG3], 3, {"label": "1", "probability_0": 0.25, "probability_1": 0.75}),
        (
            Task("sequence", "multi_label_classification", 3, ["a", "b", "c"], ["a", "b", "c"], ["s"], "value"),
            [0.0, LOG3, -LOG3],  # 0.5 is not above 0.5
            3,
            {"labels": "b", "probability_a": 0.5, "probability_b": 0.75, "probability_c": 0.25},
        ),
        (Task("sequence", "regression", 1, None, ["y"], ["s"], "value"), [1.5], 3, {"value": 1.5}),
        (Task("sequence", "regression", 2, None, ["a", "b"], ["s"], "value"), [1.5, -2.0], 3, {"a": 1.5, "b": -2.0}),
        (
            TOKEN,
            [[0.0, LOG3], [LOG3, 0.0], [9.0, 9.0]],
            2,
            {"label": "10", "probabilities": [[0.25, 0.75], [0.75, 0.25]]},
        ),
        (
            TOKEN_WORDS,
            [[0.0, LOG3], [LOG3, 0.0]],
            2,
            {"label": ["intron", "exon"], "probabilities": [[0.25, 0.75], [0.75, 0.25]]},
        ),
        (TOKEN_VALUES, [[0.123456], [-1.0], [7.0]], 2, {"values": [0.1235, -1.0]}),
        (CONTACT, PAIR, 3, {"pairs": [[0, 2]], "probabilities": [0.75]}),  # the upper triangle, within the bases
    ],
)
def test_one_prediction_of_each_kind_of_task(task, logits, length, expected):
    assert close(prediction_fields(torch.as_tensor(logits), task, length), expected)


@pytest.mark.parametrize(
    ("output", "task", "result"),
    [
        ("p.CSV", BINARY, "csv"),
        ("p.tsv", BINARY, "tsv"),
        ("p.json", TOKEN, "jsonl"),
        ("p.txt", BINARY, "predictions are written as .csv, .tsv or .jsonl, not .txt: p.txt"),
        ("predictions", BINARY, "predictions are written as .csv, .tsv or .jsonl, not no extension: predictions"),
        ("p.tsv", CONTACT, "per-base and base-pair predictions are written as JSON lines: use an .jsonl output"),
    ],
)
def test_the_output_format_is_its_suffix(output, task, result):
    if result in ("csv", "tsv", "jsonl"):
        assert output_format(output, task) == result
    else:
        with pytest.raises(InputError, match=re.escape(result)):
            output_format(output, task)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_predictions_are_written_as_returned(model, tmp_path, suffix):
    output = tmp_path / f"p{suffix}"
    results = predict_model(SEQUENCES, model, output=output)
    if suffix == ".jsonl":
        assert [json.loads(line) for line in output.read_text().splitlines()] == results
    else:
        with open(output, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="," if suffix == ".csv" else "\t"))
        assert list(rows[0]) == ["id", "label", "probability_0", "probability_1"]
        assert rows == [{key: str(value) for key, value in result.items()} for result in results]


def test_inputs_from_a_table_keep_its_ids(tmp_path):
    write_csv(tmp_path / "new.csv", "Name,sequence", [("first", "ACGT"), ("second", "GGCC")])
    ids, rows = read_inputs(tmp_path / "new.csv", BINARY)
    assert ids == ["first", "second"] and rows[1] == {"Name": "second", "sequence": "GGCC"}
    write_csv(tmp_path / "plain.csv", "sequence", [("ACGT",), ("GGCC",)])
    assert read_inputs(tmp_path / "plain.csv", BINARY)[0] == ["0", "1"]  # no id column: the row numbers


@pytest.mark.parametrize(
    ("table", "task", "message"),
    [
        ("dna\nACGT\n", BINARY, "has no column 'sequence' (columns: dna)"),
        ("sequence\n", BINARY, "new.csv is empty"),
        (None, Task(**{**vars(BINARY), "sequence_columns": ["sequence1", "sequence2"]}), "this model takes pairs"),
    ],
)
def test_inputs_that_do_not_fit_the_model(tmp_path, table, task, message):
    inputs = ["ACGTACGT"]
    if table is not None:
        inputs = tmp_path / "new.csv"
        inputs.write_text(table)
    with pytest.raises(InputError, match=re.escape(message)):
        read_inputs(inputs, task)
