"""FlexAttention against eager, one compilation per token bucket."""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.utils import counters

from multimolecule import DnaBert2Model, NucleotideTransformerModel
from multimolecule.modules.flex_attention import token_bucket

from ..helpers import ragged_batch, tiny_model


@pytest.mark.parametrize("model_class", [DnaBert2Model, NucleotideTransformerModel])
def test_flex_attention_equals_eager_and_compiles_once_per_bucket(model_class):
    eager = tiny_model(model_class, "eager", hidden_dropout=0.0)
    flex = tiny_model(model_class, "flex_attention", hidden_dropout=0.0)
    flex.load_state_dict(eager.state_dict())
    pad_id = eager.config.pad_token_id
    # 140 and 180 real tokens: the same 256-token bucket, so the second batch reuses the first one's kernel
    batches = [ragged_batch([70, 3, 45, 22], pad_id), ragged_batch([60, 60, 59, 1], pad_id)]
    assert token_bucket(140) == token_bucket(180) == 256
    graphs = []
    with torch.no_grad():
        for input_ids, attention_mask in batches:
            expected = eager(input_ids, attention_mask=attention_mask).last_hidden_state
            actual = flex(input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.bool()
            assert (actual - expected)[mask].abs().max() < 1e-5
            assert actual[~mask].abs().max() == 0  # padding comes back as zeros
            graphs.append(counters["stats"]["unique_graphs"])
    assert graphs[1] == graphs[0]  # no compilation for the second batch of the bucket
