"""`multimolecule embed`: safetensors, .npy and .npz outputs per sequence and per base, the input order kept, and
the input errors and a full disk each one line with nothing left behind."""

from __future__ import annotations

import errno
import gc
import gzip
import json
import os
import re
import sys

import numpy as np
import pytest
import torch
from safetensors import safe_open
from transformers.testing_utils import CaptureLogger
from transformers.utils import logging

from multimolecule import api
from multimolecule.cli import main
from multimolecule.demo import EXAMPLE_FASTA
from multimolecule.modules import load_report

from ..helpers import DEMOS, cli_error, random_dna, run_cli


@pytest.mark.parametrize("suffix", [".npz", ".npy", ".safetensors"])
def test_a_full_disk_is_one_error_line(capsys, tmp_path, monkeypatch, suffix):
    unraisable = []  # what the interpreter reports as "Exception ignored in ...", with a traceback
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np.lib.format, "write_array", full_disk)  # .npz members
    monkeypatch.setattr(np, "save", full_disk)  # .npy
    monkeypatch.setattr(os, "fsync", full_disk)  # every format flushes its file to disk last
    code = main(["embed", "--example", "-o", str(tmp_path / f"out{suffix}"), "-q"])
    gc.collect()  # an unclosed archive would write to its closed file now
    err = capsys.readouterr().err
    assert code == 1
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: [Errno {errno.ENOSPC}] {os.strerror(errno.ENOSPC)}"
    ]
    assert "Traceback" not in err and not unraisable
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("model", DEMOS)
def test_embed_safetensors_per_base(capsys, tmp_path, model):
    output = tmp_path / "out.safetensors"
    code, out, err = run_cli(capsys, "embed", str(EXAMPLE_FASTA), "-o", str(output), "--per-base", "-m", model, "-q")
    assert code == 0, err
    lengths = [len(s) for s in api.read_sequences(EXAMPLE_FASTA).values()]
    with safe_open(output, "pt") as file:
        ids = json.loads(file.metadata()["ids"])
        embeddings = file.get_tensor("embeddings")
        per_base = [file.get_tensor(f"per_base.{i}") for i in range(len(ids))]
    hidden = api.info(model)["hidden_size"]
    assert len(ids) == len(lengths) and embeddings.shape == (len(lengths), hidden)
    assert [len(x) for x in per_base] == lengths  # one vector per base, windows stitched for the long records
    assert all(torch.isfinite(x).all() for x in [embeddings, *per_base])
    assert "wrote" in out


def test_embed_npy_npz_gzip_and_order(tmp_path):
    sequences = {"long": random_dna(900, 1), "short": "ACGTTGCA", "mid": random_dna(200, 2)}
    fasta = tmp_path / "in.fa.gz"
    fasta.write_bytes(gzip.compress("".join(f">{k} description\n{v}\n" for k, v in sequences.items()).encode()))
    assert main(["embed", str(fasta), "-o", str(tmp_path / "a.npy"), "-q", "--batch-size", "2"]) == 0
    matrix = np.load(tmp_path / "a.npy")
    reference = api.embed(list(sequences.values()), batch_size=1).embeddings.numpy()  # unsorted, one at a time
    np.testing.assert_allclose(matrix, reference, atol=1e-4)  # order restored after sorting by length
    assert main(["embed", str(fasta), "-o", str(tmp_path / "a.npz"), "--per-base", "--pooling", "cls", "-q"]) == 0
    archive = np.load(tmp_path / "a.npz")
    assert list(archive["ids"]) == list(sequences)
    assert [archive[f"per_base.{i}"].shape[0] for i in range(3)] == [900, 8, 200]


@pytest.mark.parametrize(
    "content, pattern",
    [
        (b"", "no sequences"),
        (b"\n\n", "no sequences"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not a text FASTA"),
        (b"name,value\nx,1\n", "not a DNA sequence"),
        (b">only_symbols\n%%%%-----\n", "not a DNA sequence"),
        (b">only_n\nNNNNNNNN\n", "no A/C/G/T"),
        (b">empty\n>next\nACGT\n", "empty"),
    ],
)
def test_embed_bad_input(capsys, tmp_path, content, pattern):
    source, output = tmp_path / "input.fa", tmp_path / "out.safetensors"
    source.write_bytes(content)
    assert re.search(pattern, cli_error(capsys, "embed", source, "-o", output, "-q"))
    assert list(tmp_path.iterdir()) == [source]  # nothing partial left


def test_bad_arguments_leave_nothing(capsys, tmp_path):
    output = tmp_path / "out.npy"
    assert re.search(".npy", cli_error(capsys, "embed", str(EXAMPLE_FASTA), "-o", str(output), "--per-base", "-q"))
    assert re.search("not found", cli_error(capsys, "embed", str(tmp_path / "missing.fa"), "-o", str(output)))
    assert re.search("unsupported", cli_error(capsys, "embed", str(EXAMPLE_FASTA), "-o", str(tmp_path / "x.csv")))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("model", DEMOS)
def test_embedding_models_load_without_a_warning(model):
    """The engines' loader builds no pooler (DNABERT-2's would be random and is never used) and says nothing of
    the masked-LM head it drops, as expected: a warning only where something is wrong."""
    with (
        CaptureLogger(load_report.logger) as ours,
        CaptureLogger(logging.get_logger("transformers.modeling_utils")) as theirs,
    ):
        network, _ = api.load_model(model, task="feature-extraction")
    assert ours.out == theirs.out == "" and getattr(network, "pooler", None) is None
