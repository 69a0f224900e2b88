"""oneDNN's linear kernel with fused post-ops: the one place multimolecule calls a private PyTorch op.

PyTorch has no public API for it: `torch.nn.functional.linear` dispatches to the BLAS (MKL on x86), and no public
function runs oneDNN's inner product, let alone with an activation or a product fused in (the missing public
API: a `torch.nn.functional` or `torch.backends.mkldnn` linear with post-ops). `torch.compile` reaches the kernel
through the private `torch.ops.mkldnn._linear_pointwise` (its `default` and `binary` overloads), and so does
this module. `tests/integrations/test_onednn.py` checks the op's presence, schema and numbers, so that a PyTorch
release that changes it fails there, with a message, not in a model.
"""

from __future__ import annotations

import torch

# The schemas this module calls; a PyTorch release that changes them must change this module too.
LINEAR_POINTWISE_SCHEMA = (
    "mkldnn::_linear_pointwise(Tensor X, Tensor W, Tensor? B, str attr, Scalar?[] scalars, str? algorithm) -> Tensor Y"
)
LINEAR_BINARY_SCHEMA = (
    "mkldnn::_linear_pointwise.binary(Tensor X, Tensor other, Tensor W, Tensor? B, str attr) -> Tensor Y"
)

# transformers' activation names -> oneDNN's eltwise post-op (name, algorithm)
ONEDNN_ACTIVATIONS = {
    "gelu": ("gelu", "none"),  # exact (erf)
    "gelu_new": ("gelu", "tanh"),
    "gelu_pytorch_tanh": ("gelu", "tanh"),
    "silu": ("swish", ""),
    "swish": ("swish", ""),
    "relu": ("relu", ""),
}


def onednn_linear_available() -> bool:
    """Whether this PyTorch build has oneDNN's linear kernel and oneDNN is enabled (`torch.backends.mkldnn`)."""
    return (
        torch.backends.mkldnn.is_available()
        and torch.backends.mkldnn.enabled
        and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    )


def linear(
    input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, activation: str | None = None
) -> torch.Tensor:
    """`act(F.linear(input, weight, bias))` in one oneDNN call; `activation` is a key of `ONEDNN_ACTIVATIONS`.

    Example:
        >>> from torch.nn import functional as F
        >>> inputs, weight = torch.randn(2, 3), torch.randn(4, 3)
        >>> not onednn_linear_available() or torch.allclose(linear(inputs, weight, None, "relu"),
        ...                                                 F.relu(F.linear(inputs, weight)), atol=1e-6)
        True
    """
    name, algorithm = ONEDNN_ACTIVATIONS[activation] if activation else ("none", "")
    return torch.ops.mkldnn._linear_pointwise(input, weight, bias, name, [], algorithm)


def linear_mul(
    input: torch.Tensor, other: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """`other * F.linear(input, weight, bias)` in one oneDNN call (the product runs inside the matmul).

    Example:
        >>> from torch.nn import functional as F
        >>> inputs, other, weight = torch.randn(2, 3), torch.randn(2, 4), torch.randn(4, 3)
        >>> not onednn_linear_available() or torch.allclose(linear_mul(inputs, other, weight),
        ...                                                 other * F.linear(inputs, weight), atol=1e-6)
        True
    """
    return torch.ops.mkldnn._linear_pointwise.binary(input, other, weight, bias, "mul")
