"""The attention kernels on packed (padding-free) batches: against eager on the padded batch, in query chunks, on long
inputs, registered under a new name, flash-attn's varlen kernel, torch.compile; tiny random models. Then the kernel
dispatch: each row of `select_attention_kernel`'s table, and `set_attn_implementation` switching the next forward.
That a sequence's outputs do not depend on its batch or the backend, for every model and head:
tests/models/test_common.py."""

from __future__ import annotations

import sys
import types

import pytest
import torch
from torch.profiler import profile
from transformers import AttentionInterface

from multimolecule import (
    DnaBert2Config,
    DnaBert2Model,
    NucleotideTransformerConfig,
    NucleotideTransformerModel,
)
from multimolecule.modules import attention
from multimolecule.modules.alibi import alibi_bias
from multimolecule.modules.attention import (
    PackedAttentionInterface,
    attention_by_runs,
    eager_attention,
    packed_attention,
    register_packed_attention,
    select_attention_kernel,
)
from multimolecule.modules.packing import PackedBatch

from ..helpers import TINY, masked_max_diff, ragged_batch, tiny_model

TOLERANCE = 1e-5
FAMILIES = [DnaBert2Model, NucleotideTransformerModel]


def dnabert2(attn_implementation: str, **config) -> DnaBert2Model:
    return tiny_model(DnaBert2Model, attn_implementation, hidden_dropout=0.0, **config)


def assert_close_on_tokens(actual: torch.Tensor, expected: torch.Tensor, mask: torch.Tensor):
    assert masked_max_diff(actual, expected, mask) <= TOLERANCE


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("query_chunk_size", [1, 5, 1024])
def test_packed_kernels_and_query_chunks_equal_padded_eager(implementation, query_chunk_size):
    """Packed eager and sdpa, whole or in query blocks, against eager on the padded batch with the full bias."""
    torch.manual_seed(0)
    slopes = [0.5, 0.25, 0.125, 0.0625]
    attention_mask = torch.tensor([[1] * 11, [1] * 6 + [0] * 5, [1] * 6 + [0] * 5])
    packed = PackedBatch.from_attention_mask(attention_mask, alibi_slopes=slopes, query_chunk_size=query_chunk_size)
    query, key, value = (torch.randn(3, 4, 11, 8) for _ in range(3))  # (batch, heads, length, head_dim)
    padding = torch.zeros(3, 1, 1, 11).masked_fill(~attention_mask.bool()[:, None, None, :], torch.finfo().min)
    bias = alibi_bias(torch.tensor(slopes), 0, 11, 11, torch.float32) + padding
    expected, _ = eager_attention(query, key, value, bias, dropout=0.0, scaling=8**-0.5)  # (batch, length, ...)

    def pack(tensor):  # (batch, heads, length, head_dim) -> (1, heads, total_tokens, head_dim)
        return packed.pack(tensor.transpose(1, 2)).transpose(1, 2)

    actual = packed_attention(pack(query), pack(key), pack(value), packed, implementation, 0.0, 8**-0.5)
    assert_close_on_tokens(packed.unpack(actual), expected, attention_mask)


def test_long_input_runs_in_query_chunks():
    input_ids = torch.randint(5, 4096, (1, 3000))
    chunked = dnabert2("sdpa", query_chunk_size=512)
    with torch.no_grad():
        output = chunked(input_ids).last_hidden_state
        whole = dnabert2("sdpa", query_chunk_size=4096)(input_ids).last_hidden_state
    assert output.shape == (1, 3000, 32)
    assert torch.isfinite(output).all()
    assert (output - whole).abs().max() <= TOLERANCE


@pytest.mark.parametrize("model_class", FAMILIES)
def test_torch_compile_gives_the_same_numbers(model_class):
    """The packed path compiles with graph breaks where the batch layout is read (about 15 s on 2 cores)."""
    model = tiny_model(model_class, "sdpa", num_hidden_layers=1)
    input_ids, attention_mask = ragged_batch([10, 6], model.config.pad_token_id)
    with torch.no_grad():
        expected = model(input_ids, attention_mask=attention_mask).last_hidden_state
        compiled = torch.compile(model, dynamic=False)
        actual = compiled(input_ids, attention_mask=attention_mask).last_hidden_state
        again = compiled(input_ids, attention_mask=attention_mask).last_hidden_state
    assert_close_on_tokens(actual, expected, attention_mask)
    assert torch.equal(actual, again)


@pytest.mark.parametrize("implementation", ["flash_attention_2", "flash_attention_3"])
def test_flash_attention_without_flash_attn_is_refused_by_transformers(monkeypatch, implementation):
    """transformers' own check: flash_attention_3 falls back to flash_attention_2 (the one kernel with ALiBi
    slopes, `_compatible_flash_implementations`), which needs the flash-attn package."""
    monkeypatch.setitem(sys.modules, "flash_attn", None)  # importable or not, this makes it absent
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *args: None)
    with pytest.raises(ImportError, match="FlashAttention2"):
        dnabert2(implementation)


def test_a_packed_kernel_is_one_registration(monkeypatch):
    """A kernel registered under a new name is accepted by from_pretrained and receives the packed batch."""
    monkeypatch.setattr(PackedAttentionInterface, "_global_mapping", dict(PackedAttentionInterface._global_mapping))
    monkeypatch.setattr(AttentionInterface, "_global_mapping", dict(AttentionInterface._global_mapping))
    calls = []
    by_runs = attention_by_runs("sdpa")

    def recording_kernel(module, query, key, value, attention_mask, **kwargs):
        calls.append((query.shape, kwargs["cu_seq_lens_q"].tolist(), kwargs["max_length_q"], kwargs["alibi_slopes"]))
        return by_runs(module, query, key, value, attention_mask, **kwargs)

    register_packed_attention("recording_sdpa", recording_kernel)
    input_ids, attention_mask = ragged_batch([6, 3], 3)
    with torch.no_grad():
        expected = dnabert2("sdpa")(input_ids, attention_mask=attention_mask).last_hidden_state
        actual = dnabert2("recording_sdpa")(input_ids, attention_mask=attention_mask).last_hidden_state
    assert torch.equal(actual, expected)
    shape, cu_seq_lens, max_length, slopes = calls[0]
    assert shape == (1, 4, 9, 8) and cu_seq_lens == [0, 6, 9] and max_length == 6
    assert slopes.tolist() == [0.25, 0.0625, 0.015625, 0.00390625]
    with pytest.raises(ValueError, match="no kernel for packed batches"):
        model = dnabert2("sdpa")
        model.config._attn_implementation = "flash_attention_3"  # a transformers kernel without a packed version here
        model(input_ids, attention_mask=attention_mask)


def test_flash_attention_2_calls_the_varlen_kernel_with_alibi_slopes(monkeypatch):
    """A stand-in for flash-attn's `flash_attn_varlen_func` (same keywords) checks what our model passes it."""
    calls = []

    def flash_attn_varlen_func(
        q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, dropout_p, softmax_scale, causal, alibi_slopes
    ):
        calls.append((cu_seqlens_q.dtype, max_seqlen_q, alibi_slopes.dtype))
        outputs = []
        for start, end in zip(cu_seqlens_q[:-1].tolist(), cu_seqlens_q[1:].tolist()):
            query, key, value = (tensor[start:end].transpose(0, 1)[None] for tensor in (q, k, v))
            bias = alibi_bias(alibi_slopes, 0, end - start, end - start, q.dtype)
            context, _ = eager_attention(query, key, value, bias, dropout=dropout_p, scaling=softmax_scale)
            outputs.append(context[0])
        return torch.cat(outputs)

    monkeypatch.setitem(sys.modules, "flash_attn", types.SimpleNamespace(flash_attn_varlen_func=flash_attn_varlen_func))
    input_ids, attention_mask = ragged_batch([8, 5, 2], 3)
    model = dnabert2("sdpa")
    with torch.no_grad():
        expected = model(input_ids, attention_mask=attention_mask).last_hidden_state
        model.config._attn_implementation = "flash_attention_2"  # what loading does once flash-attn checks pass
        actual = model(input_ids, attention_mask=attention_mask).last_hidden_state
    assert calls and calls[0] == (torch.int32, 8, torch.float32)
    assert_close_on_tokens(actual, expected, attention_mask)


# ------------------------------------------------------------------------------------------------ kernel dispatch

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
