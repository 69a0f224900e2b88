"""`Linear`: fp32 CPU inference on oneDNN (with the gated feed-forward's activation fused), F.linear wherever a
gradient is needed."""

from __future__ import annotations

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from multimolecule import DnaBert2Model, NucleotideTransformerModel
from multimolecule.modules import Linear

from ..helpers import tiny_model

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
