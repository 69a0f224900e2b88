"""The private oneDNN op behind `Linear`'s fp32 CPU path: present, with the schema we call, and right.

If a PyTorch release removes or changes `torch.ops.mkldnn._linear_pointwise`, these tests fail with a message
naming it; `multimolecule.integrations.onednn` is the one module to update.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from multimolecule.integrations import onednn

pytestmark = pytest.mark.skipif(
    not torch.backends.mkldnn.is_available(), reason="this PyTorch build has no oneDNN: Linear uses F.linear"
)


def test_the_op_exists_with_the_schema_we_call() -> None:
    assert hasattr(torch.ops.mkldnn, "_linear_pointwise"), (
        f"torch {torch.__version__} has oneDNN but no torch.ops.mkldnn._linear_pointwise: "
        "update multimolecule/integrations/onednn.py"
    )
    for overload, expected in (("default", onednn.LINEAR_POINTWISE_SCHEMA), ("binary", onednn.LINEAR_BINARY_SCHEMA)):
        schema = str(getattr(torch.ops.mkldnn._linear_pointwise, overload)._schema)
        assert schema == expected, (
            f"torch {torch.__version__} changed torch.ops.mkldnn._linear_pointwise.{overload}: {schema!r}, "
            f"multimolecule/integrations/onednn.py calls {expected!r}"
        )
    assert onednn.onednn_linear_available()


@pytest.mark.parametrize("activation", [None, *onednn.ONEDNN_ACTIVATIONS])
def test_linear_matches_f_linear(activation: str | None) -> None:
    generator = torch.Generator().manual_seed(0)
    inputs, weight, bias = (torch.randn(shape, generator=generator) for shape in ((2, 7, 16), (24, 16), (24,)))
    reference = {
        None: lambda x: x,
        "gelu": F.gelu,
        "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
        "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
        "silu": F.silu,
        "swish": F.silu,
        "relu": F.relu,
    }[activation]
    with torch.inference_mode():
        torch.testing.assert_close(
            onednn.linear(inputs, weight, bias, activation),
            reference(F.linear(inputs, weight, bias)),
            atol=1e-5,
            rtol=1e-5,
        )


def test_linear_mul_matches_the_product() -> None:
    generator = torch.Generator().manual_seed(0)
    inputs, other, weight = (torch.randn(shape, generator=generator) for shape in ((2, 7, 16), (2, 7, 24), (24, 16)))
    with torch.inference_mode():
        torch.testing.assert_close(
            onednn.linear_mul(inputs, other, weight), other * F.linear(inputs, weight), atol=1e-5, rtol=1e-5
        )
