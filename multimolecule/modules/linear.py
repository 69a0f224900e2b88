"""`Linear`: `nn.Linear` whose fp32 inference on the CPU runs on oneDNN.

PyTorch computes `F.linear` on the CPU with its BLAS (MKL on x86). MKL picks its code path by CPU vendor: on AMD
CPUs it runs AVX2 kernels even where the CPU has AVX-512, and reaches about half the matmul rate that oneDNN,
PyTorch's other CPU kernel library, reaches on the same machine (`benchmarks/throughput.py --matmul-only`
measures both). `Linear` hands fp32 CPU inference to oneDNN's inner product (the kernel `torch.compile` uses
for frozen CPU linear layers, called through `multimolecule.integrations.onednn`), where neither the input nor
the weight needs a gradient; everything else, training included, is `F.linear`. The two agree to fp32 rounding
(sums in another order). The switch is PyTorch's own: `torch.backends.mkldnn.flags(enabled=False)` turns oneDNN
off here as everywhere.

Being an `nn.Linear`, it is found by PEFT's LoRA, transformers' weight initialisation and quantisers alike.

`gated_activation` is the gated feed-forward's first half, `act(gate) * value` from one up-projection: on the
oneDNN path the activation and the product run inside the two matmuls (oneDNN post-ops), not as passes of their
own over the (tokens, intermediate) activations.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from transformers.activations import ACT2FN

from ..integrations import onednn
from ..integrations.onednn import onednn_linear_available
from ..integrations.pytorch import has_forward_hooks


def uses_onednn(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> bool:
    """Whether `Linear` runs oneDNN for this call: fp32 on the CPU, no gradient needed (for the input, the weight
    or the bias: oneDNN's kernel has no backward), oneDNN available, and not inside `torch.compile` (which chooses
    its own kernels for `F.linear`).

    Example:
        >>> weight = torch.randn(4, 3)
        >>> with torch.no_grad():
        ...     uses_onednn(torch.randn(2, 3), weight) == onednn_linear_available()
        True
        >>> uses_onednn(torch.randn(2, 3), weight.requires_grad_())  # training: F.linear
        False
        >>> uses_onednn(torch.randn(2, 3), weight.detach(), torch.zeros(4, requires_grad=True))  # a trained bias
        False
    """
    needs_grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (input, weight, bias))
    return (
        not needs_grad
        and input.device.type == "cpu"
        and input.dtype == torch.float32
        and weight.dtype == torch.float32
        and not weight.is_mkldnn
        and not torch.compiler.is_compiling()
        and onednn_linear_available()
    )


def has_hooks(module: nn.Module) -> bool:
    """Whether calling `module` runs more than its `forward`: forward (pre-)hooks of its own or global ones, or
    an accelerate hook (`_hf_hook`, which may load the weights only for the call). Code that would read such a
    module's weights without calling it must call it instead.

    Example:
        >>> layer = Linear(2, 2)
        >>> has_hooks(layer)
        False
        >>> handle = layer.register_forward_pre_hook(lambda module, args: None)
        >>> has_hooks(layer)
        True
    """
    return has_forward_hooks(module) or "_hf_hook" in vars(module)  # set by accelerate's add_hook_to_module


class Linear(nn.Linear):
    """`nn.Linear` (same parameters, same state dict) that runs fp32 CPU inference on oneDNN (module docstring).

    Example:
        >>> layer = Linear(8, 4)
        >>> inputs = torch.randn(2, 5, 8)
        >>> with torch.inference_mode():
        ...     torch.allclose(layer(inputs), F.linear(inputs, layer.weight, layer.bias), atol=1e-6)
        True
        >>> layer(inputs).requires_grad  # with gradients: F.linear
        True
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if uses_onednn(input, self.weight, self.bias):
            return onednn.linear(input, self.weight, self.bias)
        return F.linear(input, self.weight, self.bias)


def gated_activation(dense: nn.Module, hidden_states: torch.Tensor, activation: str) -> torch.Tensor:
    """`act(gate) * value` for `gate, value = dense(hidden_states).chunk(2, dim=-1)`: (..., intermediate).

    With a plain `Linear` (no bias, no hooks) on the oneDNN path, `gate` is one matmul with `act` fused in and
    `value` a second with the product fused in; anything else (a PEFT-wrapped `dense`, one with hooks such as
    accelerate's offload hook, which loads the weight only when `dense` is called, training, a GPU) runs
    `dense` as it is.

    Example:
        >>> dense = Linear(8, 2 * 16, bias=False)
        >>> inputs = torch.randn(3, 8)
        >>> gate, value = F.linear(inputs, dense.weight).chunk(2, dim=-1)
        >>> with torch.inference_mode():
        ...     torch.allclose(gated_activation(dense, inputs, "gelu"), F.gelu(gate) * value, atol=1e-6)
        True
    """
    if (
        type(dense) is Linear
        and dense.bias is None
        and activation in onednn.ONEDNN_ACTIVATIONS
        and not has_hooks(dense)
        and uses_onednn(hidden_states, dense.weight)
    ):
        gate_weight, value_weight = dense.weight.chunk(2)  # 2 x (intermediate, hidden), contiguous rows
        gate = onednn.linear(hidden_states, gate_weight, None, activation)
        return onednn.linear_mul(hidden_states, gate, value_weight)
    gate, value = dense(hidden_states).chunk(2, dim=-1)
    return ACT2FN[activation](gate) * value
