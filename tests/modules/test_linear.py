"""`Linear`: fp32 CPU inference on oneDNN (with the gated feed-forward's activation fused), F.linear wherever a
gradient is needed; and accelerate's CPU and disk offload, whose hooks load the gated feed-forward's weights only
when the layer is called, give the outputs of a plain load for both families."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.profiler import ProfilerActivity, profile
from transformers import AutoModelForMaskedLM, AutoTokenizer

from multimolecule import AutoModelForTokenPrediction, DnaBert2Model, NucleotideTransformerModel
from multimolecule.demo import demo_model_path
from multimolecule.modules import Linear

from ..helpers import DEMOS, tiny_model

TOLERANCE = 1e-5


def linear_kernels(model, input_ids: torch.Tensor, grad: bool) -> tuple[torch.Tensor, dict[str, int]]:
    """The model's output and how often each linear kernel and each activation ran, from the profiler."""
    with profile(activities=[ProfilerActivity.CPU]) as trace, torch.set_grad_enabled(grad):
        output = model(input_ids).last_hidden_state
    names = ("mkldnn::_linear_pointwise", "aten::linear", "aten::gelu", "aten::silu")
    counts = {name: sum(event.count for event in trace.key_averages() if event.key == name) for name in names}
    return output, counts


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="this PyTorch build has no oneDNN")
@pytest.mark.parametrize("model_class", [DnaBert2Model, NucleotideTransformerModel])
def test_cpu_inference_runs_linear_layers_on_onednn(model_class):
    """fp32 CPU inference: every Linear on oneDNN, the gated feed-forward's activation and product fused into
    its two matmuls; with oneDNN off or with gradients, F.linear and the activation as they are."""
    model = tiny_model(model_class)
    activation = {DnaBert2Model: "aten::gelu", NucleotideTransformerModel: "aten::silu"}[model_class]
    linear_layers = sum(isinstance(module, Linear) for module in model.modules())
    up_projections = len(model.encoder.layer)  # one gated up-projection per layer: two fused matmuls each
    input_ids = torch.randint(6, 400, (3, 17))
    onednn, counts = linear_kernels(model, input_ids, grad=False)
    assert counts["mkldnn::_linear_pointwise"] == linear_layers + up_projections
    assert counts["aten::linear"] == counts[activation] == 0
    with torch.backends.mkldnn.flags(enabled=False):  # PyTorch's own switch turns it off
        blas, counts = linear_kernels(model, input_ids, grad=False)
    assert counts["mkldnn::_linear_pointwise"] == 0
    assert counts["aten::linear"] == linear_layers and counts[activation] == up_projections
    assert (onednn - blas).abs().max() < TOLERANCE
    trained, counts = linear_kernels(model, input_ids, grad=True)  # gradients: F.linear, which has a backward
    assert counts["mkldnn::_linear_pointwise"] == 0 and counts["aten::linear"] == linear_layers
    assert trained.requires_grad and (onednn - trained).abs().max() < TOLERANCE


def test_a_trained_bias_alone_still_gets_its_gradient():
    """A frozen weight with a trainable bias (as in BitFit, or PEFT's `bias="all"`) trains through F.linear."""
    layer = Linear(4, 3)
    layer.weight.requires_grad_(False)
    layer(torch.randn(2, 4)).sum().backward()
    assert torch.equal(layer.bias.grad, torch.full((3,), 2.0))


# ------------------------------------------------------------------------------------------- accelerate's offload

OFFLOADED_TEXTS = ["ACGTAGCTAGGATCCAATGCGCATTTAGGC", "GGCCATTAGC"]


def encode(name: str) -> dict[str, torch.Tensor]:
    tokenizer = AutoTokenizer.from_pretrained(demo_model_path(name))
    return dict(tokenizer(OFFLOADED_TEXTS, padding=True, return_tensors="pt"))


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
    pytest.importorskip("accelerate")
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
    accelerate = pytest.importorskip("accelerate")
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
