"""The one loader of the commands and the API (`multimolecule.models.pretrained`) and what the engines read from a
loaded model: the trained window, the special tokens around a sequence, the bases of each token."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
import torch
from transformers.utils import logging as transformers_logging

from multimolecule.models import MODELS, load_model, special_template, token_lengths, trained_window
from multimolecule.models.pretrained import quiet_transformers
from multimolecule.utils import InputError

UNSET = int(1e30)  # transformers' model_max_length when a tokenizer declares none


@pytest.mark.parametrize(
    "model_max_length, config, expected",
    [
        (300, SimpleNamespace(model_type="dnabert2", max_position_embeddings=600), 300),  # the tokenizer's first
        (3, SimpleNamespace(model_type="dnabert2"), MODELS["dnabert2"].trained_length),  # too small to be one
        (UNSET, SimpleNamespace(model_type="nucleotide_transformer"), MODELS["nucleotide_transformer"].trained_length),
        (UNSET, SimpleNamespace(model_type="another", max_position_embeddings=600), 600),
        (UNSET, SimpleNamespace(max_position_embeddings=None), 512),
    ],
)
def test_the_trained_window_comes_from_the_first_source_that_has_one(model_max_length, config, expected):
    assert trained_window(SimpleNamespace(model_max_length=model_max_length), config) == expected


@pytest.mark.parametrize("demo, before, after", [("dnabert2-demo", ["<cls>"], ["<eos>"]), ("nt-demo", ["<cls>"], [])])
def test_the_special_tokens_around_a_sequence(demo, before, after):
    _, tokenizer = load_model(demo)
    start, end = special_template(tokenizer)
    assert (tokenizer.convert_ids_to_tokens(start), tokenizer.convert_ids_to_tokens(end)) == (before, after)


def test_the_bases_of_each_token_from_the_config_before_the_tokenizer():
    tokenizer = SimpleNamespace(token_lengths=[0, 1, 6])
    assert token_lengths(SimpleNamespace(config=SimpleNamespace(token_lengths=[0, 2, 3])), tokenizer).tolist() == [
        0,
        2,
        3,
    ]
    lengths = token_lengths(SimpleNamespace(config=SimpleNamespace(token_lengths=None)), tokenizer)
    assert lengths.tolist() == [0, 1, 6] and lengths.dtype == torch.long


def test_an_encoder_without_a_masked_lm_head_loads_only_for_the_tasks_that_need_none(tmp_path):
    encoder, tokenizer = load_model("dnabert2-demo", task="feature-extraction")
    assert encoder.pooler is None and not encoder.training  # no random pooler: the engines read hidden states
    encoder.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(InputError, match="has no masked-language-model head: it cannot predict masked tokens"):
        load_model(str(tmp_path), task="fill-mask")
    reloaded, _ = load_model(str(tmp_path), task="feature-extraction")
    assert torch.equal(reloaded.embeddings.word_embeddings.weight, encoder.embeddings.word_embeddings.weight)


def test_a_checkpoint_that_cannot_load_is_one_line_naming_it(tmp_path):
    _, tokenizer = load_model("nt-demo")
    tokenizer.save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(InputError) as error:
        load_model(str(tmp_path))
    assert str(error.value).startswith(f"cannot load model {tmp_path}: ") and "\n" not in str(error.value)


def test_quiet_transformers_restores_the_verbosity_even_after_an_error():
    before = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity(logging.INFO)
    try:
        with pytest.raises(RuntimeError), quiet_transformers():
            assert transformers_logging.get_verbosity() == logging.ERROR
            raise RuntimeError
        assert transformers_logging.get_verbosity() == logging.INFO
    finally:
        transformers_logging.set_verbosity(before)
