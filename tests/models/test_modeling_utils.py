"""What every model shares (`multimolecule.models.modeling_utils`): a resized vocabulary reaches the
base-resolution heads; the backbone's inputs are ids or embeddings, never both."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer

from multimolecule import AutoModelForTokenPrediction, DnaBert2Model
from multimolecule.demo import demo_model_path

from ..helpers import DEMOS, tiny_model

TEXTS = ["ACGTAGCTAGGATCCAATGCGCAT", "GGCCATTAGC"]


@pytest.mark.parametrize("name", DEMOS)
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


def test_the_backbone_takes_exactly_one_of_ids_and_embeddings():
    model = tiny_model(DnaBert2Model)
    ids = torch.tensor([[1, 5, 6, 2]])
    embeddings = model.get_input_embeddings()(ids)
    for inputs in ({}, {"input_ids": ids, "inputs_embeds": embeddings}):
        with pytest.raises(ValueError, match="^give exactly one of input_ids and inputs_embeds$"):
            model(**inputs)
