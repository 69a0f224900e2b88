"""`multimolecule pretrain` and `api.pretrain`: continued and from-scratch runs, their outputs, resuming, and the
checks that refuse bad input before any work."""

from __future__ import annotations

import json
import random

import pytest
import torch
from safetensors.torch import load_file
from transformers.testing_utils import CaptureLogger
from transformers.utils import logging

import multimolecule
from multimolecule import api
from multimolecule.cli import main
from multimolecule.modules.heads import MaskedLMHead
from multimolecule.pretraining import GenomeWindows, HeldOut, MaskedTokenMetrics, MaskedWindows, genome_files

from ..helpers import one_thread  # noqa: F401  (a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = ["--max-steps", "4", "--eval-steps", "2", "--batch-size", "4", "--eval-windows", "8", "-q", "--device", "cpu"]


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    rng = random.Random(0)
    folder = tmp_path_factory.mktemp("genome")
    text = "".join(f">chr{c}\n" + "".join(rng.choice("ACGT") for _ in range(6000)) + "\n" for c in range(3))
    (folder / "genome.fa").write_text(text)
    return folder / "genome.fa"


@pytest.fixture(scope="module")
def continued(genome, tmp_path_factory):
    output = tmp_path_factory.mktemp("continued") / "out"
    argv = [
        "pretrain",
        "--data",
        str(genome),
        "--model",
        "nt-demo",
        "--output-dir",
        str(output),
        "--max-length",
        "24",
        *FAST,
    ]
    assert main(argv) == 0
    return output


def test_continued_pretraining_keeps_the_best_checkpoint_loadable(genome, continued):
    assert {"config.json", "model.safetensors", "tokenizer.json", "metrics.json", "log.jsonl"} <= {
        p.name for p in continued.iterdir()
    }
    metrics = json.loads((continued / "metrics.json").read_text())
    model = multimolecule.from_pretrained(continued, task="fill-mask").eval()
    tokenizer = multimolecule.tokenizer_from_pretrained(continued)
    assert tokenizer.model_max_length == metrics["window"] == 24  # the trained length travels with the model
    # the saved model, scored again on the same held-out windows, gives the reported numbers
    windows = GenomeWindows(genome_files(genome), tokenizer, 24, "eval", HeldOut(fraction=0.05), shuffle=False, limit=8)
    held = list(MaskedWindows(windows, tokenizer, 0.15, seed=42))
    scores = MaskedTokenMetrics(tokenizer)
    with torch.no_grad():
        ids = torch.tensor([w["input_ids"] for w in held])
        labels = torch.tensor([w["labels"] for w in held])
        logits = model(ids).logits
    from transformers import EvalPrediction

    expected = scores(EvalPrediction(predictions=logits, label_ids=labels))
    for name in ("accuracy", "perplexity", "first_base_accuracy", "baseline_accuracy", "masked_tokens"):
        assert metrics[name] == pytest.approx(expected[name], rel=1e-4), name
    targets = labels[labels != -100]
    assert metrics["baseline_accuracy"] == pytest.approx(int(torch.bincount(targets).max()) / len(targets), abs=1e-6)


def test_from_scratch_with_a_trained_tokenizer(genome, tmp_path, monkeypatch):
    head_inputs = []  # the rank of what the masked-LM head is given, call by call
    forward = MaskedLMHead.forward
    monkeypatch.setattr(
        MaskedLMHead, "forward", lambda self, hidden: head_inputs.append(hidden.dim()) or forward(self, hidden)
    )
    tokenizer = api.train_tokenizer(genome, tmp_path / "bpe", vocab_size=64)
    sizes = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
    verbosity = logging.get_verbosity()
    logging.set_verbosity_warning()  # an earlier inference test may have silenced transformers
    try:
        with CaptureLogger(logging.get_logger("transformers.trainer")) as trainer_log:
            metrics = api.pretrain(
                genome, tmp_path / "out", config="dnabert2", tokenizer=str(tmp_path / "bpe"), max_steps=2,
                eval_steps=2, batch_size=4, eval_windows=4, progress=False, device="cpu", **sizes,
            )  # fmt: skip
    finally:
        logging.set_verbosity(verbosity)
    # the best model is reloaded at the end: its tied lm_head.decoder.weight (stored once) is not "missing"
    assert "missing keys" not in trainer_log.out
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["model_type"] == "dnabert2" and config["vocab_size"] == len(tokenizer) == 64
    assert {k: config[k] for k in sizes} == sizes
    assert metrics["window"] == 128  # DNABERT-2's pretraining length, for a model from scratch
    assert 0 <= metrics["accuracy"] <= 1 and metrics["masked_tokens"] > 0
    # training and evaluation ran the head at the masked positions only, (masked, hidden), never (batch, length,
    # hidden); the model is saved with full logits, as it came
    assert head_inputs and set(head_inputs) == {2}
    assert multimolecule.from_pretrained(tmp_path / "out", task="fill-mask").config.sparse_prediction is False


def test_resume_continues_from_the_last_checkpoint(genome, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [
        "pretrain",
        "--data",
        str(genome),
        "--model",
        "nt-demo",
        "--output-dir",
        str(out),
        "--max-length",
        "24",
        *FAST,
    ]
    assert main(argv) == 0
    assert main(argv) == 1 and "not empty; pass --resume" in capsys.readouterr().err
    assert main(["pretrain", "--output-dir", str(out), "--resume", "--max-steps", "6"]) == 0  # settings from OUT
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert max(steps) == 6 and steps.count(2) == 1
    assert (out / "checkpoints" / "checkpoint-6").is_dir()


def test_a_resumed_run_equals_the_uninterrupted_one(genome, tmp_path):
    """Killed after checkpoint-2 (what is past it removed), resumed: the same weights at step 4, bit for bit on the
    CPU (the masks of a window do not depend on the global random state), and each step once in log.jsonl."""
    import shutil

    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    argv = ["pretrain", "--data", str(genome), "--model", "nt-demo", "--max-length", "24", "--logging-steps", "1"]
    assert main([*argv, "-o", str(whole), *FAST]) == 0
    shutil.copytree(whole, resumed)
    shutil.rmtree(resumed / "checkpoints" / "checkpoint-4")
    for name in ("config.json", "model.safetensors", "metrics.json"):
        (resumed / name).unlink()
    assert main(["pretrain", "--output-dir", str(resumed), "--resume"]) == 0
    final = [load_file(path / "checkpoints" / "checkpoint-4" / "model.safetensors") for path in (whole, resumed)]
    assert final[0].keys() == final[1].keys()
    assert all(torch.equal(final[0][name], final[1][name]) for name in final[0])
    logs = [(path / "log.jsonl").read_text().splitlines() for path in (whole, resumed)]
    losses = [[json.loads(line)["loss"] for line in log if "loss" in json.loads(line)] for log in logs]
    assert len(losses[0]) == 4 and losses[0] == losses[1]
    steps = [json.loads(line)["step"] for line in logs[1] if "loss" in json.loads(line)]
    assert steps == [1, 2, 3, 4]


def test_a_run_whose_loss_is_not_finite_stops_with_one_line(capsys, genome, tmp_path):
    out = tmp_path / "out"
    argv = [
        "pretrain",
        "--data",
        str(genome),
        "--model",
        "nt-demo",
        "--output-dir",
        str(out),
        "--max-length",
        "24",
        *FAST,
    ]
    code = main([*argv, "--learning-rate", "1e30", "--logging-steps", "1"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith("error: the loss is no longer finite at step 2: the learning rate (1e+30) is likely")
    assert not (out / "config.json").exists() and not (out / "model.safetensors").exists()
    for checkpoint in (out / "checkpoints").glob("checkpoint-*"):  # nothing NaN is kept
        weights = load_file(checkpoint / "model.safetensors")
        assert all(torch.isfinite(tensor).all() for tensor in weights.values())


@pytest.mark.parametrize(
    ("genome_text", "options", "message"),
    [
        (None, ["--mask-probability", "0"], "--mask-probability must be between 0 and 1 (exclusive), got 0.0"),
        (None, ["--mask-probability", "1"], "--mask-probability must be between 0 and 1 (exclusive), got 1.0"),
        (None, ["--logging-steps", "0"], "--logging-steps must be an integer of at least 1, got 0"),
        (None, ["--max-length", "4000"], "a window of 4000 tokens is longer than the model allows (2050 positions)"),
        (None, ["--max-length", "3"], "a window of 3 tokens holds 2 DNA token(s), fewer than one masked per window"),
        (None, ["--learning-rate", "inf"], "--learning-rate must be a finite number above 0, got inf"),
        ("", [], "contains no sequences"),
        (">chr1\n\n>chr2\nNNNN\n", [], "the genomes have no A/C/G/T bases to train on"),
        (">chr1\nACGTQQ\n", [], "line 2: not DNA (unexpected character 'Q')"),
        ("ACGTACGT\n", [], "is not a FASTA file: line 1 comes before any '>' header"),
        (None, ["--eval-contigs", "chrX"], "held-out contig(s) not found in the genomes: chrX"),
        (None, ["--eval-fraction", "0.001"], "the held-out DNA (18 bases) is too short for one window of"),
        (
            None,
            ["--architecture", "dnabert2"],
            "give either --model (continued pretraining) or --architecture (from scratch)",
        ),
    ],
)
def test_bad_input_is_one_error_before_any_work(capsys, genome, tmp_path, genome_text, options, message):
    data = genome
    if genome_text is not None:
        data = tmp_path / "bad.fa"
        data.write_text(genome_text)
    out = tmp_path / "out"
    code = main(["pretrain", "--data", str(data), "--model", "nt-demo", "--output-dir", str(out), *options, *FAST])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    expected = 2 if message.startswith("--") else 1  # an option out of range: status 2, naming the flag
    assert code == expected and len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not out.exists()  # nothing was written


def test_from_scratch_dnabert2_needs_a_tokenizer(capsys, genome, tmp_path):
    code = main(
        ["pretrain", "--data", str(genome), "--architecture", "dnabert2", "--output-dir", str(tmp_path / "out"), *FAST]
    )
    assert code == 1 and "needs a tokenizer: give --tokenizer DIR" in capsys.readouterr().err


def test_two_processes_on_the_cpu(genome, continued, tmp_path):
    """`torchrun --nproc-per-node 2` (gloo): the same held-out set is scored as in one process."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "multimolecule"]
    command += [
        "pretrain",
        "--data",
        str(genome),
        "--model",
        "nt-demo",
        "--output-dir",
        str(out),
        "--max-length",
        "24",
        *FAST,
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    single, double = (json.loads((path / "metrics.json").read_text()) for path in (continued, out))
    for name in ("masked_tokens", "baseline_accuracy", "first_base_baseline_accuracy"):
        assert double[name] == single[name], name
    assert multimolecule.from_pretrained(out, task="fill-mask").config.model_type == "nucleotide_transformer"


def test_from_scratch_from_a_config_folder(genome, tmp_path):
    """`--architecture DIR` (a config.json, and the tokenizer beside it): that architecture, freshly initialised."""
    from multimolecule.demo import demo_model_path
    from multimolecule.pretraining import PretrainConfig, build_from_config

    folder = demo_model_path("nt-demo")
    settings = PretrainConfig()
    settings.config = str(folder)
    model, tokenizer = build_from_config(settings)
    demo = multimolecule.from_pretrained(folder, task="fill-mask")
    assert model.config.num_hidden_layers == demo.config.num_hidden_layers and len(tokenizer) == demo.config.vocab_size
    assert not torch.equal(model.lm_head.decoder.weight, demo.lm_head.decoder.weight)  # new weights
    metrics = api.pretrain(genome, tmp_path / "out", config=str(folder), max_steps=1, eval_steps=1, batch_size=2,
                           eval_windows=2, max_length=24, progress=False, device="cpu")  # fmt: skip
    assert metrics["window"] == 24


def test_from_scratch_by_family_name_at_the_sizes_given():
    """`--architecture nucleotide_transformer` with sizes: the family's masked-LM at those sizes, its vocabulary the
    standard 6-mer tokenizer's, its window the family's pretraining length. (DNABERT-2, which needs a trained
    tokenizer: test_from_scratch_with_a_trained_tokenizer.)"""
    family = "nucleotide_transformer"
    from multimolecule.models import MODELS, get_model
    from multimolecule.pretraining import PretrainConfig, build_from_config

    settings = PretrainConfig()
    settings.config = family
    sizes = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
    settings.merge(sizes)
    model, tokenizer = build_from_config(settings)
    package = get_model(family)
    assert isinstance(model, package.role("masked_lm")) and {k: getattr(model.config, k) for k in sizes} == sizes
    assert model.config.vocab_size == len(tokenizer) == len(package.tokenizer.standard())
    assert model.get_input_embeddings().weight.shape == (len(tokenizer), 32)
    assert tokenizer.model_max_length == MODELS[package.config.model_type].trained_length
