"""accelerate's CPU and disk offload give the outputs of a plain load, for both families and their gated
feed-forward layers (whose weights an offload hook loads only when the layer is called)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer

from multimolecule import AutoModelForTokenPrediction
from multimolecule.demo import demo_model_path

accelerate = pytest.importorskip("accelerate")

DEMOS = ["dnabert2-demo", "nt-demo"]
TEXTS = ["ACGTAGCTAGGATCCAATGCGCATTTAGGC", "GGCCATTAGC"]


def encode(name: str) -> dict[str, torch.Tensor]:
    tokenizer = AutoTokenizer.from_pretrained(demo_model_path(name))
    return dict(tokenizer(TEXTS, padding=True, return_tensors="pt"))


def split_device_map(model) -> dict[str, str]:
    """The embeddings and the even layers on the CPU; the odd layers and a new head offloaded to disk (the
    masked-LM head stays beside the embeddings its decoder may be tied to)."""
    device_map = {}
    for name, _ in model.named_modules():
        parent = name.rpartition(".")[0]
        if parent == "model.encoder.layer":  # one transformer layer
            device_map[name] = "cpu" if int(name.rpartition(".")[2]) % 2 == 0 else "disk"
        elif parent in ("model", "model.encoder") and name not in ("model.encoder", "model.encoder.layer"):
            device_map[name] = "cpu"
        elif parent == "" and name not in ("", "model"):
            device_map[name] = "cpu" if name == "lm_head" else "disk"
    return device_map


@pytest.mark.parametrize("auto_class", [AutoModelForMaskedLM, AutoModelForTokenPrediction])
@pytest.mark.parametrize("name", DEMOS)
def test_from_pretrained_with_disk_offload(name: str, auto_class, tmp_path: Path) -> None:
    plain = auto_class.from_pretrained(demo_model_path(name)).eval()
    plain.save_pretrained(tmp_path / "model")  # with the head, so that both loads have the same weights
    plain = auto_class.from_pretrained(tmp_path / "model").eval()
    offloaded = auto_class.from_pretrained(
        tmp_path / "model", device_map=split_device_map(plain), offload_folder=tmp_path / "offload"
    ).eval()
    assert "disk" in set(offloaded.hf_device_map.values())
    assert any(hasattr(module, "_hf_hook") for module in offloaded.modules())
    inputs = encode(name)
    with torch.no_grad():
        torch.testing.assert_close(offloaded(**inputs).logits, plain(**inputs).logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("offload", ["cpu_offload", "disk_offload"])
@pytest.mark.parametrize("name", DEMOS)
def test_accelerate_offload_functions(name: str, offload: str, tmp_path: Path) -> None:
    model = AutoModelForMaskedLM.from_pretrained(demo_model_path(name)).eval()
    inputs = encode(name)
    with torch.no_grad():
        expected = model(**inputs).logits
        if offload == "cpu_offload":
            accelerate.cpu_offload(model, execution_device=torch.device("cpu"))
        else:
            accelerate.disk_offload(model, tmp_path / "offload", execution_device=torch.device("cpu"))
        layer = model.model.encoder.layer[0]
        gated = layer.mlp.gated_layers if hasattr(layer, "mlp") else layer.intermediate.dense  # the gated projection
        assert gated.weight.device.type == "meta"
        torch.testing.assert_close(model(**inputs).logits, expected, rtol=1e-5, atol=1e-5)
