"""The base configuration (`multimolecule.models.configuration_utils`): its checks, what it derives, and a round
trip through `save_pretrained` and `from_pretrained` that keeps every field and saves nothing of the load."""

from __future__ import annotations

import json

import pytest

from multimolecule import DnaBert2Config
from multimolecule.models.configuration_utils import MultiMoleculeConfig
from multimolecule.models.loading_utils import Checkpoint


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"query_chunk_size": 0}, "query_chunk_size must be at least 1, got 0"),
        ({"head_pooling": "max"}, "head_pooling must be 'cls' or 'mean', got 'max'"),
    ],
)
def test_values_out_of_range_are_one_line(fields, message):
    with pytest.raises(ValueError) as error:
        MultiMoleculeConfig(**fields)
    assert str(error.value) == message


def test_token_lengths_come_from_token_bases_unless_given():
    assert MultiMoleculeConfig(token_bases=["", "ACG", "T", "N"]).token_lengths == [0, 3, 1, 1]
    given = MultiMoleculeConfig(token_bases=["", "ACG"], token_lengths=[0, 3])
    assert given.token_lengths == [0, 3]
    assert MultiMoleculeConfig().token_lengths is None


def test_fit_token_bases_cuts_a_shrunk_vocabulary():
    config = MultiMoleculeConfig(vocab_size=4, token_bases=["", "ACG", "T", "N"])
    config.fit_token_bases(2)
    assert (config.token_bases, config.token_lengths) == (["", "ACG"], [0, 3])
    config.token_bases = None
    config.fit_token_bases(3)  # nothing to fit: lengths alone grow
    assert (config.token_bases, config.token_lengths) == (None, [0, 3, 0])


def test_round_trip_keeps_every_field_and_saves_nothing_of_the_load(tmp_path):
    config = DnaBert2Config(
        vocab_size=6,
        hidden_size=24,
        num_hidden_layers=3,
        num_attention_heads=6,
        query_chunk_size=7,
        head_pooling="mean",
        sparse_prediction=True,
        embedding_pooling="mean-all",
        token_bases=["", "", "", "", "", "GATTACA"],
        num_labels=3,
        problem_type="multi_label_classification",
    )
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert "checkpoint" not in saved and saved["token_lengths"] == [0, 0, 0, 0, 0, 7]
    for source in (tmp_path, tmp_path / "config.json"):  # a directory (resolved as a checkpoint) or the file
        loaded = DnaBert2Config.from_pretrained(source)
        assert loaded.to_dict() == config.to_dict(), source
    assert isinstance(DnaBert2Config.from_pretrained(tmp_path).checkpoint, Checkpoint)  # for the weights, this load
