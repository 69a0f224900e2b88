"""The base-resolution heads after `resize_token_embeddings`, and positions for `inputs_embeds` with padding."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer

from multimolecule import AutoModelForTokenPrediction, NucleotideTransformerConfig, NucleotideTransformerModel
from multimolecule.demo import demo_model_path

TEXTS = ["ACGTAGCTAGGATCCAATGCGCAT", "GGCCATTAGC"]


@pytest.mark.parametrize("name", ["dnabert2-demo", "nt-demo"])
def test_token_head_takes_ids_added_by_resizing(name: str) -> None:
    """A new id covers no base until `config.token_bases` names its bases; then it covers as many as it spells."""
    tokenizer = AutoTokenizer.from_pretrained(demo_model_path(name))
    model = AutoModelForTokenPrediction.from_pretrained(demo_model_path(name)).eval()
    inputs = tokenizer(TEXTS, padding=True, return_tensors="pt")
    old_vocab = model.config.vocab_size
    replaced = [len(tokenizer.convert_ids_to_tokens(int(ids[1])).replace("▁", "")) for ids in inputs["input_ids"]]
    model.resize_token_embeddings(old_vocab + 2)
    assert len(model.config.token_bases) == len(model.config.token_lengths) == old_vocab + 2
    new_ids = inputs["input_ids"].clone()
    new_ids[:, 1] = old_vocab + 1
    with torch.no_grad():
        covers_none = model(input_ids=new_ids, attention_mask=inputs["attention_mask"]).base_mask.sum(-1)
        model.config.token_bases[-1], model.config.token_lengths[-1] = "AC", 2
        covers_two = model(input_ids=new_ids, attention_mask=inputs["attention_mask"]).base_mask.sum(-1)
    lengths = torch.tensor([len(text) for text in TEXTS]) - torch.tensor(replaced)
    assert covers_none.tolist() == lengths.tolist()
    assert covers_two.tolist() == (lengths + 2).tolist()


def test_learned_positions_of_inputs_embeds_follow_the_attention_mask() -> None:
    """Nucleotide Transformer v1 (learned positions): a left-padded batch of embeddings gives the outputs of its ids."""
    config = NucleotideTransformerConfig(
        vocab_size=20,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        position_embedding_type="absolute",
        use_glu=False,
        max_position_embeddings=16,
    )
    model = NucleotideTransformerModel(config).eval()
    pad, cls = config.pad_token_id, config.cls_token_id
    input_ids = torch.tensor([[pad, pad, cls, 10, 11, 12], [cls, 13, 14, 15, 16, 17]])
    attention_mask = (input_ids != pad).long()
    with torch.no_grad():
        from_ids = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        embeds = model.get_input_embeddings()(input_ids)
        from_embeds = model(inputs_embeds=embeds, attention_mask=attention_mask).last_hidden_state
    real = attention_mask.bool()
    torch.testing.assert_close(from_embeds[real], from_ids[real], rtol=1e-5, atol=1e-5)
