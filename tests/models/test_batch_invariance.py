"""A sequence's outputs do not depend on its batch (other lengths, order, padding side) or on the attention
backend, for both models and every head; half precision stays finite on long inputs. Tiny random models built
from the demo configurations, with the demo tokenizers."""

from __future__ import annotations

import random

import pytest
import torch
from transformers import AutoConfig, AutoTokenizer

from multimolecule import (
    AutoModelForContactPrediction,
    AutoModelForSequencePrediction,
    AutoModelForTokenPrediction,
)
from multimolecule.api import special_template
from multimolecule.demo import demo_model_path

TOLERANCE = 1e-5  # fp32
BACKENDS = ["eager", "sdpa"]  # padded, packed; flash_attention_2 needs a GPU and flash-attn
HEADS = ["model", "masked_lm", "sequence", "sequence-mean", "token", "contact"]
DEMOS = ["dnabert2-demo", "nt-demo"]
TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}


def auto_class(head: str):
    from transformers import AutoModel, AutoModelForMaskedLM

    return {
        "model": AutoModel,
        "masked_lm": AutoModelForMaskedLM,
        "sequence": AutoModelForSequencePrediction,
        "token": AutoModelForTokenPrediction,
        "contact": AutoModelForContactPrediction,
    }[head]


def tiny_model(demo: str, head: str, backend: str, **overrides):
    if head == "sequence-mean":
        head, overrides = "sequence", {**overrides, "head_pooling": "mean"}
    config = AutoConfig.from_pretrained(demo_model_path(demo), **{**TINY, "head_pooling": "cls", **overrides})
    torch.manual_seed(0)
    return auto_class(head).from_config(config, attn_implementation=backend).eval()


@pytest.fixture(scope="module", params=DEMOS)
def demo(request):
    return request.param


@pytest.fixture(scope="module")
def encoded(demo):
    """Each sequence's ids: random DNA of lengths 1 to ~400 bases, lower case and N included."""
    tokenizer = AutoTokenizer.from_pretrained(demo_model_path(demo))
    generator = random.Random(7)
    texts = ["".join(generator.choice("ACGTACGTacgN") for _ in range(n)) for n in (1, 5, 17, 64, 203)]
    return tokenizer, [tokenizer(text)["input_ids"] for text in texts]


def batch_of(rows: list[list[int]], pad_id: int, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(map(len, rows))
    input_ids = torch.full((len(rows), longest), pad_id)
    attention_mask = torch.zeros(len(rows), longest, dtype=torch.long)
    for i, row in enumerate(rows):
        columns = slice(longest - len(row), longest) if left else slice(0, len(row))
        input_ids[i, columns] = torch.tensor(row)
        attention_mask[i, columns] = 1
    return input_ids, attention_mask


def per_sequence(output, head: str, input_ids, attention_mask, lengths) -> list[torch.Tensor]:
    """Each sequence's own outputs, padding removed: every hidden layer on its tokens, logits on its tokens, its
    sequence logits, its bases' logits or its base pairs' logits."""
    mask = attention_mask.bool()
    rows = range(len(mask))
    if head == "model":
        return [torch.stack([states[i][mask[i]] for states in output.hidden_states]) for i in rows]
    if head == "masked_lm":
        return [output.logits[i][mask[i]] for i in rows]
    if head.startswith("sequence"):
        return list(output.logits)
    bases = (lengths[input_ids] * attention_mask).sum(1).tolist()
    if head == "token":
        return [output.logits[i, : bases[i]] for i in rows]
    return [output.logits[i, : bases[i], : bases[i]] for i in rows]


@pytest.mark.parametrize("head", HEADS)
def test_outputs_do_not_depend_on_the_batch_or_the_backend(encoded, demo, head):
    tokenizer, sequences = encoded
    lengths = torch.tensor(tokenizer.token_lengths)
    models = {backend: tiny_model(demo, head, backend) for backend in BACKENDS}
    kwargs = {"output_hidden_states": True} if head == "model" else {}

    def run(backend: str, rows: list[list[int]], left: bool = False) -> list[torch.Tensor]:
        input_ids, attention_mask = batch_of(rows, tokenizer.pad_token_id, left)
        with torch.no_grad():
            output = models[backend](input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        return per_sequence(output, head, input_ids, attention_mask, lengths)

    alone = [run("eager", [ids])[0] for ids in sequences]  # no padding at all: the reference
    order = [3, 0, 4, 2, 1]
    for backend in BACKENDS:
        batches = {
            "together": (list(range(len(sequences))), False),
            "shuffled, left-padded": (order, True),
        }
        for name, (chosen, left) in batches.items():
            outputs = run(backend, [sequences[i] for i in chosen], left)
            for i, output in zip(chosen, outputs):
                assert output.shape == alone[i].shape, (backend, name, i)
                difference = (output - alone[i]).abs().max().item()
                assert difference <= TOLERANCE, f"{backend}, {name}: sequence {i} differs by {difference:.2e}"


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_stays_finite_on_long_inputs(demo, dtype):
    """8k tokens on the packed path (and 1k on the padded eager one), a short sequence beside them: every hidden
    layer, and the masked-LM logits on the eager path."""
    tokenizer = AutoTokenizer.from_pretrained(demo_model_path(demo))
    generator = torch.Generator().manual_seed(0)
    dna = [i for token, i in tokenizer.get_vocab().items() if set(token) <= set("ACGT")]
    for backend, length in (("sdpa", 8192), ("eager", 1024)):
        head = "model" if backend == "sdpa" else "masked_lm"
        model = tiny_model(demo, head, backend, max_position_embeddings=8194, hidden_size=16, num_attention_heads=2)
        model = model.to(dtype)
        body = torch.tensor(dna)[torch.randint(len(dna), (length,), generator=generator)].tolist()
        prefix, suffix = special_template(tokenizer)
        long = [*prefix, *body[: length - len(prefix) - len(suffix)], *suffix]
        short = tokenizer("ACGTAGCTAGCTAGGATCCA")["input_ids"]
        input_ids, attention_mask = batch_of([long, short], tokenizer.pad_token_id, left=False)
        with torch.no_grad():
            output = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        outputs = output.hidden_states + ((output.logits,) if head == "masked_lm" else ())
        assert outputs[-1].dtype == dtype and input_ids.shape[1] == length
        for states in outputs:
            assert torch.isfinite(states[attention_mask.bool()]).all(), (backend, length)
