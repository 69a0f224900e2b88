"""The Nucleotide Transformer converter: both layouts (PyTorch, JAX), its command line, and the one-line refusals
of damaged or foreign checkpoints."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig

from multimolecule.models import ConversionError
from multimolecule.models.nucleotide_transformer.convert_checkpoint import convert_checkpoint, main

from ...helpers import fixture_dir


def test_converter_output(conversions, converted):
    config = json.loads((converted / "config.json").read_text())
    assert config["model_type"] == "nucleotide_transformer" and config["position_embedding_type"] == "rotary"
    keys = set(load_file(converted / "model.safetensors"))
    for key in (
        "model.embeddings.word_embeddings.weight",
        "model.encoder.layer.0.attention.layer_norm.weight",
        "model.encoder.layer.0.attention.self.query.weight",
        "model.encoder.layer.1.attention.output.dense.bias",
        "model.encoder.layer.1.intermediate.dense.weight",
        "model.encoder.layer.1.output.dense.weight",
        "model.encoder.layer_norm.weight",
        "lm_head.transform.dense.weight",
        "lm_head.decoder.weight",
        "lm_head.bias",
    ):
        assert key in keys
    assert not any("position" in key or "LayerNorm" in key or "contact" in key for key in keys)
    assert conversions["pytorch"].layout == "pytorch" and conversions["jax"].layout == "jax"
    assert conversions["pytorch"].dropped == [
        "esm.contact_head.regression.bias",
        "esm.contact_head.regression.weight",
        "esm.embeddings.position_embeddings.weight",
        "esm.encoder.layer.0.attention.self.rotary_embeddings.inv_freq",
        "esm.encoder.layer.1.attention.self.rotary_embeddings.inv_freq",
    ]
    assert AutoConfig.from_pretrained(conversions["jax"].output_path).layer_norm_eps == 1e-5
    assert "unused tensors dropped: esm.contact_head" in str(conversions["pytorch"])


def test_converter_command_line_and_layout_choice(original, tmp_path, capsys):
    main(["--checkpoint-path", str(original), "--output-path", str(tmp_path / "out")])
    assert "pytorch checkpoint" in capsys.readouterr().out  # both layouts present: the PyTorch files win
    jax_only = tmp_path / "repo"
    shutil.copytree(original / "jax_model", jax_only / "jax_model")
    main(["--checkpoint-path", str(jax_only), "--output-path", str(tmp_path / "out_jax")])
    assert "jax checkpoint" in capsys.readouterr().out
    with pytest.raises(SystemExit) as error:
        main(["--checkpoint-path", str(tmp_path / "nowhere"), "--output-path", str(tmp_path / "bad")])
    assert error.value.code == 1 and "not a directory" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_converter_rejects_another_model(tmp_path):
    with pytest.raises(ConversionError, match="not a Nucleotide Transformer"):
        convert_checkpoint(fixture_dir("dnabert2", "tiny_a"), tmp_path / "out")
    with pytest.raises(ConversionError, match="neither config.json"):
        convert_checkpoint(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_converter_rejects_missing_files(broken_copy, tmp_path):
    (broken_copy / "vocab.txt").unlink()
    with pytest.raises(ConversionError, match="missing file: .*vocab.txt"):
        convert_checkpoint(broken_copy, tmp_path / "out")
    (broken_copy / "jax_model" / "pytree_ckpt.joblib").unlink()
    with pytest.raises(ConversionError, match="missing file: .*pytree_ckpt.joblib"):
        convert_checkpoint(broken_copy / "jax_model", tmp_path / "out")
    (broken_copy / "model.safetensors").unlink()
    (broken_copy / "pytorch_model.bin").unlink()
    shutil.copy(fixture_dir("nucleotide_transformer", "nt_v2_tiny_a") / "vocab.txt", broken_copy)
    with pytest.raises(ConversionError, match="no weights"):
        convert_checkpoint(broken_copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["model.safetensors", "pytorch_model.bin", "jax_model/pytree_ckpt.joblib"])
def test_converter_rejects_truncated_weights(broken_copy, tmp_path, name):
    weights = broken_copy / name
    weights.write_bytes(weights.read_bytes()[:10_000])
    if name == "pytorch_model.bin":
        (broken_copy / "model.safetensors").unlink()
    with pytest.raises(ConversionError, match="truncated or corrupt"):
        convert_checkpoint(broken_copy / "jax_model" if "jax" in name else broken_copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()


class Payload:
    """Unpickled, it would create the folder `marker` (`os.mkdir`): proof that the pickle ran code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return os.mkdir, (self.marker,)


@pytest.mark.parametrize("where", ["top", "array"])
def test_a_planted_pickle_payload_never_runs(broken_copy, tmp_path, capsys, where):
    """`convert` on a JAX folder whose `pytree_ckpt.joblib` carries a payload: one line, the payload never runs,
    nothing written. The genuine file (numpy arrays in dicts) still reads as `joblib.load` reads it."""
    import pickle

    import joblib
    import numpy as np

    from multimolecule.cli import main as cli_main
    from multimolecule.models.conversion_utils import load_haiku_joblib

    weights = broken_copy / "jax_model" / "pytree_ckpt.joblib"
    genuine = joblib.load(weights)
    loaded = load_haiku_joblib(weights)
    assert loaded.keys() == {f"{m}/{n}" for m, params in genuine.items() for n in params}
    assert all(
        torch.equal(loaded[f"{m}/{n}"], torch.from_numpy(np.asarray(a)))
        for m, p in genuine.items()
        for n, a in p.items()
    )
    marker = tmp_path / "payload-ran"
    tree = (
        Payload(marker) if where == "top" else {**genuine, "esm_transformer/~/embed": {"embeddings": Payload(marker)}}
    )
    weights.write_bytes(pickle.dumps(tree))
    code = cli_main(["convert", "-m", str(broken_copy / "jax_model"), "--output-dir", str(tmp_path / "out")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 1 and len(err) == 1 and "it names posix.mkdir, which could run code" in err[0], err
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_converter_lists_unknown_and_missing_tensors(broken_copy, tmp_path):
    state_dict = load_file(broken_copy / "model.safetensors")
    state_dict["esm.extra.weight"] = torch.zeros(1)
    del state_dict["esm.encoder.layer.1.attention.LayerNorm.bias"]
    save_file(state_dict, broken_copy / "model.safetensors")
    with pytest.raises(ConversionError, match=r"does not know: esm\.extra\.weight"):
        convert_checkpoint(broken_copy, tmp_path / "out")
    del state_dict["esm.extra.weight"]
    save_file(state_dict, broken_copy / "model.safetensors")
    with pytest.raises(ConversionError, match=r"unfilled: model\.encoder\.layer\.1\.attention\.layer_norm\.bias"):
        convert_checkpoint(broken_copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()
