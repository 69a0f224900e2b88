"""Export and compilation with default settings: `torch.export.export` with a dynamic batch and length,
`torch.onnx.export(..., dynamo=True)` run by onnxruntime, and `torch.compile(fullgraph=True)`, for the encoder and
every head of both families, on tiny random models. The traced programs are checked on batch sizes and lengths
other than the traced ones, against the model run eagerly (which packs the batch and gives the base-resolution
heads as many rows as the longest sequence has bases, where the traced ones give tokens * longest token)."""

from __future__ import annotations

import pytest
import torch
from torch.export import Dim
from transformers import AutoModel, AutoModelForMaskedLM

from multimolecule import (
    AutoModelForContactPrediction,
    AutoModelForSequencePrediction,
    AutoModelForTokenPrediction,
    DnaBert2Config,
    NucleotideTransformerConfig,
)
from multimolecule.demo import demo_model_path

from ..helpers import TINY

onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

TOLERANCE = 1e-5  # fp32
ONE_LAYER = {**TINY, "num_hidden_layers": 1}
CONFIGS = {  # DNABERT-2: the demo's BPE vocabulary, for the bases of each token
    "dnabert2": lambda: DnaBert2Config(**ONE_LAYER, vocab_size=512, token_bases=dnabert2_demo_token_bases()),
    "nt-v2": lambda: NucleotideTransformerConfig(**ONE_LAYER),
    "nt-v1": lambda: NucleotideTransformerConfig(
        **ONE_LAYER, position_embedding_type="absolute", hidden_act="gelu", use_glu=False, add_bias_fnn=True,
        max_position_embeddings=1202,
    ),
}  # fmt: skip
HEADS = {"model": AutoModel, "masked_lm": AutoModelForMaskedLM, "sequence": AutoModelForSequencePrediction}
BASE_HEADS = {"token": AutoModelForTokenPrediction, "contact": AutoModelForContactPrediction}


def dnabert2_demo_token_bases() -> list[str]:
    return DnaBert2Config.from_pretrained(demo_model_path("dnabert2-demo")).token_bases


def tiny_model(family: str, head: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return {**HEADS, **BASE_HEADS}[head].from_config(CONFIGS[family]()).eval()  # default attn_implementation: sdpa


class MainOutputs(torch.nn.Module):
    """The encoder and each head side by side, their first outputs (hidden states, logits) as a tuple of
    tensors: one export per family covers them all."""

    def __init__(self, family: str):
        super().__init__()
        self.models = torch.nn.ModuleList(tiny_model(family, head) for head in HEADS)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(model(input_ids=input_ids, attention_mask=attention_mask)[0] for model in self.models)


def ragged_batch(lengths: list[int], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids (pad id 1 for NT and 3 for DNABERT-2 never drawn), right-padded, and the attention mask."""
    generator = torch.Generator().manual_seed(seed)
    longest = max(lengths)
    input_ids = torch.randint(6, 100, (len(lengths), longest), generator=generator)
    attention_mask = (torch.arange(longest)[None] < torch.tensor(lengths)[:, None]).long()
    return input_ids, attention_mask


TRACED = ragged_batch([9, 6], seed=0)
NEW = {"dnabert2": [23, 17, 5], "nt-v2": [1100, 40, 700], "nt-v1": [1150, 8, 300]}  # NT: past its 1,000 tokens


def assert_agree(actual: tuple, expected: tuple, attention_mask: torch.Tensor):
    """Per-token outputs are compared on real tokens (the packed eager run gives zeros at padding)."""
    assert len(actual) == len(expected) == len(HEADS)
    for head, head_actual, head_expected in zip(HEADS, actual, expected):
        head_actual = torch.as_tensor(head_actual)
        assert head_actual.shape == head_expected.shape, head
        if head != "sequence":
            head_actual, head_expected = head_actual[attention_mask.bool()], head_expected[attention_mask.bool()]
        assert (head_actual - head_expected).abs().max() <= TOLERANCE, head


@pytest.mark.parametrize("family", CONFIGS)
def test_export_and_onnxruntime_agree_with_pytorch_on_new_shapes(family, tmp_path):
    model = MainOutputs(family)
    batch, length = Dim("batch"), Dim("length")
    dynamic_shapes = ({0: batch, 1: length}, {0: batch, 1: length})
    onnx_program = torch.onnx.export(model, TRACED, dynamic_shapes=dynamic_shapes, dynamo=True, verbose=False)
    exported = onnx_program.exported_program.module()
    onnx_program.save(tmp_path / "model.onnx")

    input_ids, attention_mask = ragged_batch(NEW[family], seed=1)
    with torch.no_grad():
        expected = model(input_ids, attention_mask)
        assert_agree(exported(input_ids, attention_mask), expected, attention_mask)
    session = onnxruntime.InferenceSession(tmp_path / "model.onnx")
    names = [node.name for node in session.get_inputs()]
    actual = session.run(None, dict(zip(names, (input_ids.numpy(), attention_mask.numpy()))))
    assert_agree(actual, expected, attention_mask)


def test_the_exported_encoder_has_no_length_limit():
    """Nothing branches on the length: the exported length dimension is unbounded (the Nucleotide Transformer's
    warning past its trained length is skipped while tracing)."""
    model = tiny_model("nt-v2", "model")
    batch, length = Dim("batch"), Dim("length")
    dynamic_shapes = {"input_ids": {0: batch, 1: length}, "attention_mask": {0: batch, 1: length}}
    exported = torch.export.export(model, (), dict(zip(dynamic_shapes, TRACED)), dynamic_shapes=dynamic_shapes)
    bounds = {str(symbol): (value.lower, value.upper) for symbol, value in exported.range_constraints.items()}
    assert all(upper > 10**6 for _, upper in bounds.values()), bounds
    graph = str(exported.graph)
    assert "scaled_dot_product_attention" in graph and "nonzero" not in graph  # the padded sdpa path


@pytest.mark.parametrize("family", ["dnabert2", "nt-v2"])
def test_compile_fullgraph_gives_the_same_numbers(family):
    model = tiny_model(family, "sequence")
    input_ids, attention_mask = ragged_batch([12, 7, 3], seed=2)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    with torch.no_grad():
        expected = model(input_ids, attention_mask=attention_mask).logits
        actual = compiled(input_ids, attention_mask=attention_mask).logits
    assert (actual - expected).abs().max() <= TOLERANCE


class BaseOutputs(torch.nn.Module):
    """The token and contact heads side by side: token logits, `base_mask` (the same for both), contact logits."""

    def __init__(self, family: str):
        super().__init__()
        self.token, self.contact = (tiny_model(family, head) for head in BASE_HEADS)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        token = self.token(input_ids=input_ids, attention_mask=attention_mask)
        contact = self.contact(input_ids=input_ids, attention_mask=attention_mask)
        return token.logits, token.base_mask, contact.logits


def assert_bases_agree(actual: tuple, expected: tuple, rows_per_token: int, num_tokens: int):
    """The traced heads give `rows_per_token` rows per token: the eager rows first, then rows of no base, masked."""
    token_logits, base_mask, contact_logits = (torch.as_tensor(output) for output in actual)
    expected_token, expected_mask, expected_contact = expected
    batch_size, num_bases = expected_mask.shape
    assert base_mask.shape == (batch_size, rows_per_token * num_tokens)
    assert torch.equal(base_mask[:, :num_bases], expected_mask) and not base_mask[:, num_bases:].any()
    pair_mask = expected_mask[:, :, None] & expected_mask[:, None, :]
    token_difference = (token_logits[:, :num_bases] - expected_token)[expected_mask].abs().max()
    contact_difference = (contact_logits[:, :num_bases, :num_bases] - expected_contact)[pair_mask].abs().max()
    assert token_difference <= TOLERANCE and contact_difference <= TOLERANCE, (token_difference, contact_difference)


@pytest.mark.parametrize("family", CONFIGS)
def test_base_resolution_heads_export_and_agree_on_new_shapes(family, tmp_path):
    model = BaseOutputs(family).eval()
    rows_per_token = max(model.token.config.token_lengths)
    batch, length = Dim("batch"), Dim("length")
    dynamic_shapes = ({0: batch, 1: length}, {0: batch, 1: length})
    onnx_program = torch.onnx.export(model, TRACED, dynamic_shapes=dynamic_shapes, dynamo=True, verbose=False)
    onnx_program.save(tmp_path / "model.onnx")

    input_ids, attention_mask = ragged_batch([37, 12, 4], seed=3)
    with torch.no_grad():
        expected = model(input_ids, attention_mask)
        exported = onnx_program.exported_program.module()
        assert_bases_agree(exported(input_ids, attention_mask), expected, rows_per_token, input_ids.shape[1])
    session = onnxruntime.InferenceSession(tmp_path / "model.onnx")
    names = [node.name for node in session.get_inputs()]
    actual = session.run(None, dict(zip(names, (input_ids.numpy(), attention_mask.numpy()))))
    assert_bases_agree(actual, expected, rows_per_token, input_ids.shape[1])


@pytest.mark.parametrize("head", BASE_HEADS)
def test_compile_fullgraph_base_resolution_heads_give_the_same_logits_and_loss(head):
    """The labels of the eager rows (padded with -100 to the longest sequence's bases) train the compiled model:
    they are padded to its rows, and the loss is the eager one."""
    model = tiny_model("dnabert2", head)
    input_ids, attention_mask = ragged_batch([12, 7, 3], seed=4)
    with torch.no_grad():
        expected = model(input_ids, attention_mask=attention_mask)
    shape = expected.logits.shape[:-1]
    labels = torch.randint(0, 2, shape, generator=torch.Generator().manual_seed(5))
    pair_mask = expected.base_mask if head == "token" else expected.base_mask[:, :, None] & expected.base_mask[:, None]
    labels[~pair_mask] = -100
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    with torch.no_grad():
        expected = model(input_ids, attention_mask=attention_mask, labels=labels)
        actual = compiled(input_ids, attention_mask=attention_mask, labels=labels)
    bases = (slice(None),) + (slice(0, shape[1]),) * (len(shape) - 1)
    assert (actual.logits[bases] - expected.logits)[pair_mask].abs().max() <= TOLERANCE
    assert (actual.loss - expected.loss).abs() <= TOLERANCE
