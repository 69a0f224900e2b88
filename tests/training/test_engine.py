"""Fine-tuning: `multimolecule train`, `evaluate`, `predict` end to end, the checks before training, and the pieces for
your own Trainer (the data's checks: test_data.py; the task inferred: test_tasks.py)."""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import pytest
import torch

import multimolecule
from multimolecule import api
from multimolecule.cli import main
from multimolecule.training import DataCollatorForBaseLevelLabels, Task, TaskMetrics
from multimolecule.training.engine import last_complete_checkpoint
from multimolecule.utils import InputError

from ..helpers import cli_error, fixture_dir, one_thread, random_dna, run_cli, subprocess_env, write_csv  # noqa: F401  (one_thread: a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = ["--max-steps", "12", "--eval-steps", "6", "-q", "--device", "cpu"]


def gc_task(folder: Path, per_base: bool = False, sizes=(64, 24, 24), seed: int = 0) -> Path:
    """GC-rich (label 1) versus AT-rich (label 0) sequences of 40 to 80 bases; per base: is the base G or C."""
    rng = random.Random(seed)
    for split, count in zip(("train", "dev", "test"), sizes):
        rows = []
        for i in range(count):
            label = i % 2
            sequence = random_dna(rng.randint(40, 80), rng, 0.8 if label else 0.2)
            rows.append((sequence, "".join("1" if b in "GC" else "0" for b in sequence) if per_base else label))
        write_csv(folder / f"{split}.csv", "sequence,label", rows)
    return folder


def train_error(capsys, *argv) -> str:
    """The one line of a command that fails with status 1 (bad data or setup, found before training)."""
    return cli_error(capsys, *argv, status=1)


@pytest.fixture(scope="module")
def gc_data(tmp_path_factory) -> Path:
    return gc_task(tmp_path_factory.mktemp("gc") / "data")


@pytest.fixture(scope="module")
def trained(gc_data, tmp_path_factory) -> Path:
    """The bundled DNABERT-2 demo (the default model) fine-tuned for a few steps on the GC task."""
    output = tmp_path_factory.mktemp("trained") / "out"
    assert main(["train", "--data", str(gc_data), "--output-dir", str(output), *FAST]) == 0
    return output


# ------------------------------------------------------------------------------ checks before training


def test_bad_setup_fails_before_training(capsys, tmp_path, gc_data):
    out = tmp_path / "out"
    assert "no dev split" in train_error(capsys, "train", "--train", gc_data / "train.csv", "--output-dir", out)
    assert "not found" in train_error(capsys, "train", "--data", tmp_path / "missing", "--output-dir", out)
    error = train_error(capsys, "train", "--data", gc_data, "--output-dir", out, "--label-column", "score")
    assert "no column 'score'" in error
    assert "model not found" in train_error(
        capsys, "train", "--data", gc_data, "--output-dir", out, "-m", "no-such-model"
    )
    (tmp_path / "run.yaml").write_text("learning_rat: 0.1\n")
    error = train_error(capsys, "train", "--data", gc_data, "--output-dir", out, "--config", tmp_path / "run.yaml")
    assert "unknown setting(s) in" in error and "learning_rat" in error
    assert not out.exists()


def test_a_head_that_does_not_fit_the_task(capsys, trained, tmp_path):
    per_base = gc_task(tmp_path / "per_base", per_base=True, sizes=(4, 2, 2))
    error = train_error(capsys, "train", "--data", per_base, "--output-dir", tmp_path / "out", "-m", trained, *FAST)
    assert "fine-tuned for another kind of task" in error


# ------------------------------------------------------------------------------------------------ train


def test_train_outputs(trained, gc_data):
    from transformers import AutoModelForSequenceClassification

    metrics = json.loads((trained / "metrics.json").read_text())
    assert set(metrics) == {"dev", "test"}
    assert {"accuracy", "f1", "mcc", "precision", "recall", "auroc", "auprc", "loss"} <= set(metrics["test"])
    assert all(name == name.lower() for name in metrics["test"])
    config = (trained / "train_config.yaml").read_text()
    assert "max_steps: 12" in config and "model: dnabert2-demo" in config
    log = [json.loads(line) for line in (trained / "log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log if "eval_mcc" in entry] == [6, 12]
    assert any("loss" in entry for entry in log)
    assert (
        "pooling: mean" in config and "shifts: 5" in config and "learning_rate: 0.0006" in config
    )  # the demo is 128 wide: 1e-4 x 768 / 128
    model = AutoModelForSequenceClassification.from_pretrained(trained)
    assert model.config.id2label == {0: "0", 1: "1"} and model.config.head_pooling == "mean"
    assert not any(path.name.endswith(".tmp") for path in trained.iterdir())
    # the model really learned the task, and `evaluate` reproduces the test score of the saved model
    assert metrics["test"]["accuracy"] >= 0.9, metrics
    scores = api.evaluate(trained, gc_data)
    assert scores["accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=1e-6)
    assert scores["mcc"] == pytest.approx(metrics["test"]["mcc"], abs=1e-4)


def test_pooling_setting(gc_data, tmp_path):
    output = tmp_path / "cls"
    assert main(["train", "--data", str(gc_data), "--output-dir", str(output), "--pooling", "cls", *FAST]) == 0
    assert multimolecule.DnaBert2Config.from_pretrained(output).head_pooling == "cls"
    with pytest.raises(InputError, match="pooling must be one of mean, cls"):
        api.train(gc_data, tmp_path / "bad", pooling="max", max_steps=1, progress=False)


def test_same_seed_same_metrics(trained, gc_data, tmp_path):
    again = tmp_path / "again"
    assert main(["train", "--data", str(gc_data), "--output-dir", str(again), *FAST]) == 0
    assert (again / "metrics.json").read_text() == (trained / "metrics.json").read_text()


def test_two_processes_on_the_cpu(trained, gc_data, tmp_path):
    """`torchrun --nproc-per-node 2` (gloo): half the batch per process, the same task metrics."""
    import subprocess
    import sys

    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "multimolecule"]
    command += ["train", "--data", str(gc_data), "--output-dir", str(out), "--batch-size", "16", *FAST]
    env = subprocess_env(OMP_NUM_THREADS="1")
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    single, double = (json.loads((path / "metrics.json").read_text())["test"] for path in (trained, out))
    assert double["accuracy"] == pytest.approx(single["accuracy"], abs=0.1)
    assert double["mcc"] == pytest.approx(single["mcc"], abs=0.2)


def test_output_dir_is_protected_and_resumable(capsys, gc_data, trained, tmp_path, monkeypatch):
    error = train_error(capsys, "train", "--data", gc_data, "--output-dir", trained, *FAST)
    assert "not empty; pass --resume" in error
    out = tmp_path / "out"
    monkeypatch.chdir(gc_data.parent)  # relative paths, in the data's folder
    argv = [
        "train",
        "--data",
        gc_data.name,
        "--output-dir",
        os.path.relpath(out),
        "--max-steps",
        "4",
        "--eval-steps",
        "2",
    ]
    assert main([*argv, "-q"]) == 0
    # continue the finished run up to step 8, from another directory: the settings come back from
    # OUT/train_config.yaml, whose paths are absolute
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--output-dir", str(out), "--resume", "--max-steps", "8"]) == 0
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert max(steps) == 8 and steps.count(2) == 1  # steps 1 to 4 were not trained again
    assert (out / "checkpoints" / "checkpoint-8").is_dir()


def test_an_interrupted_run_resumes(gc_data, tmp_path):
    """Killed mid-run: OUT has checkpoints but no final model; `--resume` finishes it."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    command = [sys.executable, "-m", "multimolecule", "train", "--data", str(gc_data), "--output-dir", str(out)]
    command += ["--max-steps", "400", "--eval-steps", "2", "-q", "--device", "cpu"]
    env = subprocess_env()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (out / "checkpoints" / "checkpoint-4" / "trainer_state.json").exists() and time.time() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert last_complete_checkpoint(out / "checkpoints") is not None  # which one depends on the kill's timing
    assert not (out / "config.json").exists() and not (out / "metrics.json").exists()
    assert main(["train", "--output-dir", str(out), "--resume", "--max-steps", "8"]) == 0
    assert json.loads((out / "metrics.json").read_text())["test"]["accuracy"] >= 0
    assert (out / "config.json").exists()


# ---------------------------------------------------------------------------------------------- predict


def test_the_fine_tuned_model_predicts_its_task(trained, tmp_path):
    """New GC-rich and AT-rich sequences, predicted by the trained model: classes 1 and 0. (What `predict` and
    `evaluate` print and write: cli/test_predict.py, cli/test_evaluate.py; their numbers against the model's own
    outputs, however batched: test_inference.py.)"""
    rng = random.Random(5)
    fasta = tmp_path / "new.fasta"
    fasta.write_text(">gc_rich\n" + random_dna(60, rng, 0.9) + "\n>at_rich\n" + random_dna(70, rng, 0.1) + "\n")
    results = api.predict(fasta, trained)
    assert [(result["id"], result["label"]) for result in results] == [("gc_rich", "1"), ("at_rich", "0")]


@pytest.mark.parametrize("model", ["nt-demo", "dnabert2-demo", "ntv3-demo"])
def test_per_base_task(tmp_path, model):
    """A per-base task trains on each demo model (NTv3's a U-Net); predictions come one label per base."""
    data = gc_task(tmp_path / "data", per_base=True, sizes=(32, 8, 8))
    metrics = api.train(data, tmp_path / "out", model=model, max_steps=4, eval_steps=4, progress=False, device="cpu")
    assert "auroc" not in metrics["test"] and 0 <= metrics["test"]["accuracy"] <= 1
    assert json.loads((tmp_path / "out" / "task.json").read_text())["level"] == "token"
    # scored base by base, the same in `evaluate` as in training's evaluation
    assert api.evaluate(tmp_path / "out", data)["mcc"] == pytest.approx(metrics["test"]["mcc"], abs=1e-4)
    results = api.predict(["ACGTAGCTAGCTAGGATCCAAT", "GGCCA"], tmp_path / "out", output=tmp_path / "p.jsonl")
    assert [len(r["label"]) for r in results] == [22, 5] and set("".join(r["label"] for r in results)) <= {"0", "1"}
    assert len(results[1]["probabilities"]) == 5
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 2


def test_lora_keeps_the_head_trained_and_saves_a_merged_model(tmp_path, gc_data):
    from multimolecule import AutoModelForSequencePrediction

    out = tmp_path / "lora"
    api.train(gc_data, out, lora=True, max_steps=6, eval_steps=6, progress=False, device="cpu", head_learning_rate=1e-2)
    model = AutoModelForSequencePrediction.from_pretrained(out)  # a plain model: adapters merged in
    demo = AutoModelForSequencePrediction.from_pretrained(api.resolve_name("dnabert2-demo"), num_labels=2)
    query = "model.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(model.state_dict()[query], demo.state_dict()[query])  # adapters were trained and merged
    assert not any("lora" in key for key in model.state_dict())
    for name in ("mlp.gated_layers", "mlp.wo", "attention.output.dense"):  # every Linear of the encoder: a target
        key = f"model.encoder.layer.0.{name}.weight"
        assert not torch.equal(model.state_dict()[key], demo.state_dict()[key]), name
    norm = "model.encoder.layer.0.attention.output.layer_norm.weight"
    assert torch.equal(model.state_dict()[norm], demo.state_dict()[norm])  # not a LoRA target: frozen
    results = api.predict(["GCGCGGCCGCGGCGCCGC" * 3, "ATATTATAATTTATAAAT" * 3], out)
    assert results == api.predict(["GCGCGGCCGCGGCGCCGC" * 3, "ATATTATAATTTATAAAT" * 3], out)  # deterministic


# ------------------------------------------------------------------------------- pieces for your Trainer


def test_contact_head_evaluates_over_batches_of_different_lengths(tmp_path):
    """Plain `Trainer.evaluate` with our collator and `TaskMetrics` on base-pair labels of several lengths."""
    from transformers import AutoTokenizer, Trainer, TrainingArguments

    from multimolecule import AutoModelForContactPrediction

    path = api.resolve_name("nt-demo")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForContactPrediction.from_pretrained(path, num_labels=2)
    rng = random.Random(0)
    examples = []
    for length in (12, 30, 18, 24, 9):
        sequence = random_dna(length, rng, 0.5)
        pairs = torch.zeros(length, length, dtype=torch.long)
        for i in range(length // 3):
            pairs[i, length - 1 - i] = pairs[length - 1 - i, i] = 1
        examples.append({"input_ids": tokenizer(sequence)["input_ids"], "labels": pairs.tolist()})
    task = Task("contact", "single_label_classification", 2, ["0", "1"], ["label"], ["sequence"], "pairs")
    args = TrainingArguments(
        str(tmp_path), per_device_eval_batch_size=2, batch_eval_metrics=True, report_to="none", use_cpu=True
    )
    trainer = Trainer(
        model=model,
        args=args,
        eval_dataset=examples,
        data_collator=DataCollatorForBaseLevelLabels(tokenizer),
        compute_metrics=TaskMetrics(task),
    )
    metrics = trainer.evaluate()
    assert {"eval_mcc", "eval_accuracy", "eval_f1"} <= set(metrics)
    # the same numbers as scoring every labelled pair at once
    model.eval()
    scores, targets = [], []
    with torch.no_grad():
        for example in examples:
            logits = model(input_ids=torch.tensor([example["input_ids"]])).logits[0]
            scores.append(logits.softmax(-1)[..., 1].flatten())
            targets.append(torch.tensor(example["labels"]).flatten())
    accuracy = float(((torch.cat(scores) > 0.5).long() == torch.cat(targets)).float().mean())
    assert metrics["eval_accuracy"] == pytest.approx(accuracy, abs=1e-6)


@pytest.mark.parametrize("family", ["dnabert2-demo", "nt-demo"])
@pytest.mark.parametrize("head", ["token", "contact"])
def test_base_level_heads_train_with_our_collator_over_mixed_lengths(tmp_path, family, head):
    """Per-base and base-pair labels of sequences of different lengths, padded by `DataCollatorForBaseLevelLabels`,
    through a plain `Trainer`: the loss goes down. (Every head with transformers' own collators on equal-length
    windows is tests/test_heads.py's.)"""
    from transformers import AutoTokenizer, Trainer, TrainingArguments

    import multimolecule

    path = api.resolve_name(family)
    tokenizer = AutoTokenizer.from_pretrained(path)
    rng = random.Random(1)
    sequences = [random_dna(rng.randint(20, 40), rng, 0.8 if i % 2 else 0.2) for i in range(8)]
    examples = [{"input_ids": tokenizer(sequence)["input_ids"]} for sequence in sequences]
    auto = {"token": "Token", "contact": "Contact"}[head]
    model = getattr(multimolecule, f"AutoModelFor{auto}Prediction").from_pretrained(path, num_labels=2)
    for example, sequence in zip(examples, sequences):
        gc = [int(base in "GC") for base in sequence]
        example["labels"] = gc if head == "token" else [[a * b for b in gc] for a in gc]
    collator = DataCollatorForBaseLevelLabels(tokenizer)
    args = TrainingArguments(
        str(tmp_path), max_steps=10, per_device_train_batch_size=8, learning_rate=1e-3, logging_steps=1,
        report_to="none", use_cpu=True, seed=0, save_strategy="no", disable_tqdm=True,
    )  # fmt: skip
    trainer = Trainer(model=model, args=args, train_dataset=examples, data_collator=collator)
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 10 and all(map(torch.isfinite, torch.tensor(losses)))
    assert sum(losses[-3:]) < sum(losses[:3]), losses


@pytest.mark.parametrize(
    "fixture", [("dnabert2", "tiny_a"), ("nucleotide_transformer", "nt_v2_tiny_a"), ("ntv3", "ntv3_tiny_a")]
)
def test_train_from_a_published_checkpoint(tmp_path, gc_data, fixture):
    """`--model` takes an original checkpoint directory of each family, as its authors published it."""
    from multimolecule import AutoModelForSequencePrediction
    from multimolecule.models import get_model

    original = fixture_dir(*fixture)
    out = tmp_path / "out"
    assert (
        main(["train", "--data", str(gc_data), "--output-dir", str(out), "-m", str(original), "--max-steps", "2", "-q"])
        == 0
    )
    model = AutoModelForSequencePrediction.from_pretrained(out)
    assert model.config.model_type == get_model(fixture[0]).config.model_type and model.config.num_labels == 2


def test_a_run_whose_loss_stops_being_finite_is_one_line_and_saves_no_model(capsys, gc_data, tmp_path):
    out = tmp_path / "out"
    argv = ["train", "--data", gc_data, "--output-dir", out, "--learning-rate", "1e30", "--logging-steps", "1", *FAST]
    error = train_error(capsys, *argv)
    assert re.fullmatch(
        r"error: the loss is no longer finite at step \d+: the learning rate \(1e\+30\) is likely .*", error
    )
    assert not (out / "config.json").exists() and not (out / "metrics.json").exists()
