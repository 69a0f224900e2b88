"""`select_attention_kernel`: each row of the decision table in docs/performance.md ("Attention kernels"), and
`set_attn_implementation` switching the kernel that the next forward runs (seen in the profiler)."""

from __future__ import annotations

import pytest
import torch
from torch.profiler import profile

from multimolecule import DnaBert2Config, DnaBert2Model, NucleotideTransformerConfig, NucleotideTransformerModel
from multimolecule.modules import attention
from multimolecule.modules.attention import register_packed_attention, select_attention_kernel

from ..helpers import TINY

CPU, CUDA = torch.device("cpu"), torch.device("cuda")  # a device object only: nothing runs on it here
ONE_LAYER = {**TINY, "num_hidden_layers": 1}


def choose(implementation, device=CPU, dtype=torch.float32, dropout=False, output_attentions=False, alibi=True):
    kernel = select_attention_kernel(
        implementation, device=device, dtype=dtype, dropout=dropout, output_attentions=output_attentions, alibi=alibi
    )
    return kernel.name, kernel.packed


@pytest.fixture
def varlen(monkeypatch):
    """PyTorch builds without `varlen_attn` exist; the rows that need it say so."""
    monkeypatch.setattr(attention, "varlen_available", lambda: True)


HALF = {"device": CUDA, "dtype": torch.float16}
NO_ALIBI = {"alibi": False}

# (row of the table, implementation, conditions, kernel, packed)
ROWS = [
    ("weights asked for", "sdpa", {"device": CUDA, "output_attentions": True}, "eager", False),
    ("weights, flex", "flex_attention", {"output_attentions": True}, "eager", False),
    ("eager", "eager", HALF, "eager", False),
    ("sdpa on CPU", "sdpa", {}, "sdpa_by_runs", True),
    ("sdpa on CPU, half", "sdpa", {"dtype": torch.bfloat16, **NO_ALIBI}, "sdpa_by_runs", True),
    ("sdpa with dropout", "sdpa", {"device": CUDA, "dropout": True}, "sdpa_by_runs", True),
    ("sdpa on CUDA, ALiBi", "sdpa", HALF, "flex_attention_packed", True),
    ("sdpa on CUDA, fp32", "sdpa", {"device": CUDA, **NO_ALIBI}, "flex_attention_packed", True),
    ("sdpa on CUDA, half", "sdpa", {**HALF, **NO_ALIBI}, "varlen_attention_packed", True),
    ("flex on CPU", "flex_attention", NO_ALIBI, "flex_attention_packed", True),
    ("flex on CUDA, half", "flex_attention", {**HALF, **NO_ALIBI}, "varlen_attention_packed", True),
    ("flex on CUDA, ALiBi", "flex_attention", HALF, "flex_attention_packed", True),
    ("flash_attention_2", "flash_attention_2", HALF, "flash_attn_varlen_packed", True),
]


@pytest.mark.parametrize("row, implementation, conditions, name, packed", ROWS, ids=[row[0] for row in ROWS])
def test_each_row_of_the_table(varlen, row, implementation, conditions, name, packed):
    assert choose(implementation, **conditions) == (name, packed)


def test_without_varlen_attn_cuda_half_precision_takes_flex_attention(monkeypatch):
    monkeypatch.setattr(attention, "varlen_available", lambda: False)
    assert choose("sdpa", CUDA, torch.float16, alibi=False) == ("flex_attention_packed", True)


def test_traced_models_take_the_padded_kernel_of_their_name(monkeypatch):
    monkeypatch.setattr(attention, "is_tracing", lambda: True)
    assert choose("sdpa", CUDA, torch.float16) == ("sdpa", False)
    assert choose("eager") == ("eager", False)
    assert choose("sdpa", output_attentions=True) == ("eager", False)
    with pytest.raises(ValueError, match="'flex_attention' has no traceable kernel"):
        choose("flex_attention")


def test_refused_rows():
    with pytest.raises(ValueError, match="flex_attention has no attention dropout"):
        choose("flex_attention", dropout=True)
    with pytest.raises(ValueError, match="'flash_attention_3' has no kernel for packed batches"):
        choose("flash_attention_3")


def test_a_registered_kernel_is_chosen_by_its_name(monkeypatch):
    monkeypatch.setattr(
        attention.PackedAttentionInterface, "_global_mapping", dict(attention.PackedAttentionInterface._global_mapping)
    )

    def my_kernel(*args, **kwargs):
        raise AssertionError("not called here")

    register_packed_attention("my_kernel", my_kernel)
    assert choose("my_kernel", CUDA) == ("my_kernel", True)


def kernels_run(model, input_ids, attention_mask) -> dict[str, int]:
    """The `multimolecule::<kernel>` profiler ranges of one forward, with how often each ran."""
    with torch.no_grad(), profile() as trace:
        model(input_ids, attention_mask=attention_mask)
    return {event.key: event.count for event in trace.key_averages() if event.key.startswith("multimolecule::")}


@pytest.mark.parametrize(
    "model_class, config_class",
    [(DnaBert2Model, DnaBert2Config), (NucleotideTransformerModel, NucleotideTransformerConfig)],
)
def test_set_attn_implementation_switches_the_next_forward(model_class, config_class):
    torch.manual_seed(0)
    model = model_class._from_config(config_class(**TINY), attn_implementation="sdpa")
    model.eval()
    input_ids = torch.randint(6, 100, (2, 7))
    attention_mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3])
    assert kernels_run(model, input_ids, attention_mask) == {"multimolecule::sdpa_by_runs": 2}
    packed = model(input_ids, attention_mask=attention_mask).last_hidden_state

    model.set_attn_implementation("eager")
    assert model.config._attn_implementation == "eager"
    assert kernels_run(model, input_ids, attention_mask) == {"multimolecule::eager": 2}
    padded = model(input_ids, attention_mask=attention_mask).last_hidden_state
    real = attention_mask.bool()
    assert (padded - packed)[real].abs().max() <= 1e-5

    model.set_attn_implementation("sdpa")
    assert kernels_run(model, input_ids, attention_mask) == {"multimolecule::sdpa_by_runs": 2}
