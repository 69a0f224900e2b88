"""Attention backends, padding-free batches, long inputs and torch.compile, on tiny random models."""

from __future__ import annotations

import sys
import types

import pytest
import torch
from transformers import AttentionInterface

from multimolecule import (
    DnaBert2Config,
    DnaBert2ForMaskedLM,
    DnaBert2ForSequencePrediction,
    DnaBert2Model,
    NucleotideTransformerConfig,
    NucleotideTransformerForMaskedLM,
    NucleotideTransformerForTokenPrediction,
    NucleotideTransformerModel,
)
from multimolecule.modules.alibi import alibi_bias
from multimolecule.modules.attention import (
    PackedAttentionInterface,
    attention_by_runs,
    eager_attention,
    packed_attention,
    register_packed_attention,
)
from multimolecule.modules.packing import PackedBatch

TOLERANCE = 1e-5


def tiny_config(**kwargs) -> DnaBert2Config:
    return DnaBert2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, hidden_dropout=0.0, **kwargs
    )


def build(model_class, implementation: str, **config_kwargs):
    torch.manual_seed(0)
    return model_class._from_config(tiny_config(**config_kwargs), attn_implementation=implementation).eval()


def ragged_batch(lengths: list[int], seq_length: int, left_padding: bool = False):
    """Random ids, right- (or left-) padded with the pad id 3, and the attention mask."""
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.full((len(lengths), seq_length), 3)
    attention_mask = torch.zeros(len(lengths), seq_length, dtype=torch.long)
    for row, length in enumerate(lengths):
        columns = slice(seq_length - length, seq_length) if left_padding else slice(0, length)
        input_ids[row, columns] = torch.randint(5, 4096, (length,), generator=generator)
        attention_mask[row, columns] = 1
    return input_ids, attention_mask


def assert_close_on_tokens(actual: torch.Tensor, expected: torch.Tensor, mask: torch.Tensor):
    difference = (actual - expected)[mask.bool()].abs().max().item()
    assert difference <= TOLERANCE, difference


def test_packed_batch_round_trip_and_runs():
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0], [0, 1, 1, 1]])
    packed = PackedBatch.from_attention_mask(mask)
    assert packed.cu_seqlens.tolist() == [0, 2, 4, 8, 8, 11]
    assert packed.cu_seqlens.dtype == torch.int32
    assert [tuple(run) for run in packed.runs] == [(0, 2, 2, 0), (4, 1, 4, 2), (8, 1, 3, 4)]
    assert packed.position_ids.tolist() == [[0, 1, 0, 1, 0, 1, 2, 3, 0, 1, 2]]
    values = torch.arange(20.0).view(5, 4)
    assert torch.equal(packed.unpack(packed.pack(values)), values * mask)


@pytest.mark.parametrize("left_padding", [False, True])
def test_padding_free_equals_padded_eager_for_every_output(left_padding):
    input_ids, attention_mask = ragged_batch([9, 3, 17, 9, 1], 17, left_padding)
    padded = build(DnaBert2Model, "eager")
    packed = build(DnaBert2Model, "sdpa")
    with torch.no_grad():
        expected = padded(input_ids, attention_mask=attention_mask, output_hidden_states=True)
        actual = packed(input_ids, attention_mask=attention_mask, output_hidden_states=True)
    assert len(actual.hidden_states) == len(expected.hidden_states) == 3
    for actual_states, expected_states in zip(actual.hidden_states, expected.hidden_states):
        assert_close_on_tokens(actual_states, expected_states, attention_mask)
    assert_close_on_tokens(actual.last_hidden_state, expected.last_hidden_state, attention_mask)
    # padding is never computed on: the packed path returns exact zeros there, as the original did
    assert actual.last_hidden_state[~attention_mask.bool()].abs().max() == 0


@pytest.mark.parametrize("model_class", [DnaBert2ForMaskedLM, DnaBert2ForSequencePrediction])
def test_padding_free_equals_padded_eager_for_heads(model_class):
    input_ids, attention_mask = ragged_batch([12, 5, 8], 12)
    with torch.no_grad():
        expected = build(model_class, "eager", head_pooling="mean")(input_ids, attention_mask=attention_mask)
        actual = build(model_class, "sdpa", head_pooling="mean")(input_ids, attention_mask=attention_mask)
    if model_class is DnaBert2ForMaskedLM:
        assert_close_on_tokens(actual.logits, expected.logits, attention_mask)
    else:
        assert (actual.logits - expected.logits).abs().max() <= TOLERANCE


def test_a_sequence_gives_the_same_output_alone_and_in_a_padded_batch():
    input_ids, attention_mask = ragged_batch([6, 14], 14)
    model = build(DnaBert2Model, "sdpa")
    with torch.no_grad():
        batched = model(input_ids, attention_mask=attention_mask).last_hidden_state
        alone = model(input_ids[:1, :6]).last_hidden_state
    assert (batched[0, :6] - alone[0]).abs().max() <= TOLERANCE


def test_attention_weights_come_from_the_padded_path():
    input_ids, attention_mask = ragged_batch([7, 4], 7)
    model = build(DnaBert2Model, "sdpa")
    with torch.no_grad():
        output = model(input_ids, attention_mask=attention_mask, output_attentions=True)
    assert output.attentions[0].shape == (2, 4, 7, 7)


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
    chunked = build(DnaBert2Model, "sdpa", attention_chunk_size=512)
    with torch.no_grad():
        output = chunked(input_ids).last_hidden_state
        whole = build(DnaBert2Model, "sdpa", attention_chunk_size=4096)(input_ids).last_hidden_state
    assert output.shape == (1, 3000, 32)
    assert torch.isfinite(output).all()
    assert (output - whole).abs().max() <= TOLERANCE


def test_torch_compile_gives_the_same_numbers():
    """The packed path compiles with graph breaks where the batch layout is read (about 15 s on 2 cores)."""
    input_ids, attention_mask = ragged_batch([10, 6], 10)
    torch.manual_seed(0)
    config = DnaBert2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64)
    model = DnaBert2Model._from_config(config, attn_implementation="sdpa").eval()
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
        DnaBert2Model._from_config(tiny_config(), attn_implementation=implementation)


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
    input_ids, attention_mask = ragged_batch([6, 3], 6)
    with torch.no_grad():
        expected = build(DnaBert2Model, "sdpa")(input_ids, attention_mask=attention_mask).last_hidden_state
        actual = build(DnaBert2Model, "recording_sdpa")(input_ids, attention_mask=attention_mask).last_hidden_state
    assert torch.equal(actual, expected)
    shape, cu_seq_lens, max_length, slopes = calls[0]
    assert shape == (1, 4, 9, 8) and cu_seq_lens == [0, 6, 9] and max_length == 6
    assert slopes.tolist() == [0.25, 0.0625, 0.015625, 0.00390625]
    with pytest.raises(ValueError, match="no kernel for packed batches"):
        model = build(DnaBert2Model, "sdpa")
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
    input_ids, attention_mask = ragged_batch([8, 5, 2], 8)
    model = build(DnaBert2Model, "sdpa")
    with torch.no_grad():
        expected = model(input_ids, attention_mask=attention_mask).last_hidden_state
        model.config._attn_implementation = "flash_attention_2"  # what loading does once flash-attn checks pass
        actual = model(input_ids, attention_mask=attention_mask).last_hidden_state
    assert calls and calls[0] == (torch.int32, 8, torch.float32)
    assert_close_on_tokens(actual, expected, attention_mask)


# The Nucleotide Transformer: rotary positions restart at 0 in each packed sequence.


def tiny_nt(model_class, implementation: str, **kwargs):
    config = NucleotideTransformerConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, **kwargs
    )
    torch.manual_seed(0)
    return model_class._from_config(config, attn_implementation=implementation).eval()


def nt_batch(lengths: list[int], seq_length: int):
    generator = torch.Generator().manual_seed(2)
    input_ids = torch.full((len(lengths), seq_length), 1)  # <pad> is 1
    attention_mask = torch.zeros(len(lengths), seq_length, dtype=torch.long)
    for row, length in enumerate(lengths):
        input_ids[row, :length] = torch.randint(6, 4107, (length,), generator=generator)
        input_ids[row, 0] = 3  # <cls>
        attention_mask[row, :length] = 1
    return input_ids, attention_mask


@pytest.mark.parametrize("position_embedding_type", ["rotary", "absolute"])
def test_nt_padding_free_equals_padded_eager_for_every_output(position_embedding_type):
    input_ids, attention_mask = nt_batch([10, 4, 16, 10], 16)
    kwargs = {"position_embedding_type": position_embedding_type}
    with torch.no_grad():
        expected = tiny_nt(NucleotideTransformerModel, "eager", **kwargs)(
            input_ids, attention_mask=attention_mask, output_hidden_states=True
        )
        actual = tiny_nt(NucleotideTransformerModel, "sdpa", **kwargs)(
            input_ids, attention_mask=attention_mask, output_hidden_states=True
        )
    assert len(actual.hidden_states) == 3
    for actual_states, expected_states in zip(actual.hidden_states, expected.hidden_states):
        assert_close_on_tokens(actual_states, expected_states, attention_mask)
    assert_close_on_tokens(actual.last_hidden_state, expected.last_hidden_state, attention_mask)
    assert actual.last_hidden_state[~attention_mask.bool()].abs().max() == 0


@pytest.mark.parametrize("model_class", [NucleotideTransformerForMaskedLM, NucleotideTransformerForTokenPrediction])
def test_nt_padding_free_equals_padded_eager_for_heads(model_class):
    input_ids, attention_mask = nt_batch([9, 3, 6], 9)
    with torch.no_grad():
        expected = tiny_nt(model_class, "eager")(input_ids, attention_mask=attention_mask)
        actual = tiny_nt(model_class, "sdpa")(input_ids, attention_mask=attention_mask)
    assert actual.logits.shape == expected.logits.shape
    if model_class is NucleotideTransformerForMaskedLM:
        assert_close_on_tokens(actual.logits, expected.logits, attention_mask)
    else:
        assert (actual.logits - expected.logits).abs().max() <= TOLERANCE


def test_nt_runs_past_its_trained_length_with_one_warning():
    from transformers.testing_utils import CaptureLogger

    from multimolecule.modules import packing

    model = tiny_nt(NucleotideTransformerModel, "sdpa", trained_length=64)
    input_ids, _ = nt_batch([100], 100)
    with torch.no_grad(), CaptureLogger(packing.logger) as captured:
        first = model(input_ids).last_hidden_state
        model(input_ids)
    assert first.shape == (1, 100, 32) and torch.isfinite(first).all()
    assert captured.out.count("trained on sequences of at most 64 tokens") == 1


def test_nt_torch_compile_gives_the_same_numbers():
    input_ids, attention_mask = nt_batch([8, 5], 8)
    config = NucleotideTransformerConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64
    )
    torch.manual_seed(0)
    model = NucleotideTransformerModel._from_config(config, attn_implementation="sdpa").eval()
    with torch.no_grad():
        expected = model(input_ids, attention_mask=attention_mask).last_hidden_state
        actual = torch.compile(model, dynamic=False)(input_ids, attention_mask=attention_mask).last_hidden_state
    assert_close_on_tokens(actual, expected, attention_mask)


# ---------------------------------------------------------------------------------------------- oneDNN Linear


def linear_kernels(model, input_ids: torch.Tensor, grad: bool) -> tuple[torch.Tensor, dict[str, int]]:
    """The model's output and how often each linear kernel and each activation ran, from the profiler."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as trace, torch.set_grad_enabled(grad):
        output = model(input_ids).last_hidden_state
    names = ("mkldnn::_linear_pointwise", "aten::linear", "aten::gelu", "aten::silu")
    counts = {name: sum(event.count for event in trace.key_averages() if event.key == name) for name in names}
    return output, counts


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="this PyTorch build has no oneDNN")
@pytest.mark.parametrize("family", ["dnabert2", "nucleotide_transformer"])
def test_cpu_inference_runs_linear_layers_on_onednn(family):
    """fp32 CPU inference: every Linear on oneDNN, the gated feed-forward's activation and product fused into
    its two matmuls; with oneDNN off or with gradients, F.linear and the activation as they are."""
    from multimolecule.modules import Linear

    if family == "dnabert2":
        model, activation = DnaBert2Model(tiny_config()).eval(), "aten::gelu"
    else:
        config = NucleotideTransformerConfig(
            vocab_size=4107, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64
        )
        model, activation = NucleotideTransformerModel(config).eval(), "aten::silu"
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
    from multimolecule.modules import Linear

    layer = Linear(4, 3)
    layer.weight.requires_grad_(False)
    layer(torch.randn(2, 4)).sum().backward()
    assert torch.equal(layer.bias.grad, torch.full((3,), 2.0))
