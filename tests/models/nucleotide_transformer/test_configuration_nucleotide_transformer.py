"""The Nucleotide Transformer configuration: its defaults are nucleotide-transformer-v2-100m-multi-species, the
standard vocabulary's bases are filled in only for the standard vocabulary, other positions are refused."""

from __future__ import annotations

import pytest
import torch

from multimolecule import (
    NucleotideTransformerConfig,
    NucleotideTransformerForPreTraining,
    NucleotideTransformerTokenizer,
)


def test_config_defaults_are_v2_100m():
    config = NucleotideTransformerConfig()
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (512, 22, 16)
    assert (config.intermediate_size, config.vocab_size, config.layer_norm_eps) == (2048, 4107, 1e-12)
    assert (config.position_embedding_type, config.hidden_act, config.use_glu, config.tie_word_embeddings) == (
        "rotary", "silu", True, False
    )  # fmt: skip
    with torch.device("meta"):
        model = NucleotideTransformerForPreTraining(config)
    # The original's 97,889,132 less its unused position table (2050 x 512) and contact head (353).
    assert model.num_parameters() == 97_889_132 - 2050 * 512 - 353


def test_the_standard_vocabularys_bases_only_for_it():
    assert NucleotideTransformerConfig().token_bases == NucleotideTransformerTokenizer.standard().token_bases
    assert NucleotideTransformerConfig(vocab_size=20).token_bases is None
    given = NucleotideTransformerConfig(token_lengths=[1] * 4107)  # lengths given: no bases made up beside them
    assert given.token_bases is None and given.token_lengths == [1] * 4107


def test_other_positions_are_refused_in_one_line():
    with pytest.raises(ValueError) as error:
        NucleotideTransformerConfig(position_embedding_type="alibi")
    assert str(error.value) == "position_embedding_type must be 'rotary' or 'absolute', got 'alibi'"
