"""`register`: one call maps a family's config, tokenizer and every model role onto the transformers Auto classes
and ours; our Auto classes know only the families registered with them."""

from __future__ import annotations

import pytest
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForPreTraining,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    BertConfig,
    BertForSequenceClassification,
)
from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING

from multimolecule import (
    AutoModelForContactPrediction,
    AutoModelForSequencePrediction,
    AutoModelForTokenPrediction,
    DnaBert2Config,
    DnaBert2ForContactPrediction,
    DnaBert2ForMaskedLM,
    DnaBert2ForPreTraining,
    DnaBert2ForSequencePrediction,
    DnaBert2ForTokenPrediction,
    DnaBert2Model,
    DnaBert2Tokenizer,
)
from multimolecule.models.auto import register

from ..helpers import TINY

ROLES = {
    "model": (DnaBert2Model, [AutoModel]),
    "masked_lm": (DnaBert2ForMaskedLM, [AutoModelForMaskedLM]),
    "pretraining": (DnaBert2ForPreTraining, [AutoModelForPreTraining]),
    "sequence_prediction": (
        DnaBert2ForSequencePrediction,
        [AutoModelForSequenceClassification, AutoModelForSequencePrediction],
    ),
    "token_prediction": (DnaBert2ForTokenPrediction, [AutoModelForTokenClassification, AutoModelForTokenPrediction]),
    "contact_prediction": (DnaBert2ForContactPrediction, [AutoModelForContactPrediction]),
}


class RegisteredConfig(DnaBert2Config):
    model_type = "registered_for_test"


def test_register_maps_every_role_onto_its_auto_classes():
    """A family registered with `register` alone (a copy of DNABERT-2 under a new `model_type`)."""
    classes = {role: type(f"Registered{base.__name__}", (base,), {"config_class": RegisteredConfig})
               for role, (base, _) in ROLES.items()}  # fmt: skip
    register(RegisteredConfig, DnaBert2Tokenizer, **classes)
    register(RegisteredConfig, DnaBert2Tokenizer, **classes)  # again: harmless
    config = AutoConfig.for_model("registered_for_test", **TINY)
    assert type(config) is RegisteredConfig
    for role, (_, auto_classes) in ROLES.items():
        for auto_class in auto_classes:
            assert type(auto_class.from_config(config)) is classes[role], (role, auto_class.__name__)
    assert TOKENIZER_MAPPING[RegisteredConfig] is DnaBert2Tokenizer  # what AutoTokenizer builds for its checkpoints


def test_our_auto_classes_refuse_other_families_and_leave_theirs_alone():
    config = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    for auto_class in (AutoModelForSequencePrediction, AutoModelForTokenPrediction, AutoModelForContactPrediction):
        with pytest.raises(ValueError, match="BertConfig"):
            auto_class.from_config(config)
    assert type(AutoModelForSequenceClassification.from_config(config)) is BertForSequenceClassification
