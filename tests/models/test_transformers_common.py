"""transformers' own common tests over every registered family: `ModelTesterMixin` and `ConfigTester` on the base
model and every head (DNABERT-2, Nucleotide Transformer v1 and v2) with tiny configs, and `TokenizerTesterMixin` /
`TokenizersBackendTesterMixin` on both tokenizers.

The mixins come from the source distribution of the installed transformers (`transformers_sdist`). A mixin test
whose assumption does not hold for these models is listed in `NOT_APPLICABLE` with the reason; one that fails
because of a bug being fixed is in `KNOWN_BUGS_BEING_FIXED` (strict xfail: the fix shows as XPASS, and the entry is
then deleted). Every other test must pass.

Both run in the suite (the model mixin: under a minute for the three families on two cores).
"""

from __future__ import annotations

import unittest
from unittest import mock

import pytest
import torch
from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

from multimolecule.models.nucleotide_transformer.tokenization_nucleotide_transformer import standard_vocabulary
from multimolecule.models.registry import MODELS

from .transformers_sdist import import_mixins

modeling_common, configuration_common, tokenization_common = import_mixins(
    "test_modeling_common", "test_configuration_common", "test_tokenization_common"
)
ModelTesterMixin, ids_tensor, random_attention_mask = (
    modeling_common.ModelTesterMixin,
    modeling_common.ids_tensor,
    modeling_common.random_attention_mask,
)
ConfigTester = configuration_common.ConfigTester
SDPA_PARAMETERS = modeling_common.TEST_EAGER_MATCHES_SDPA_INFERENCE_PARAMETERIZATION
TokenizerTesterMixin = tokenization_common.TokenizerTesterMixin
TokenizersBackendTesterMixin = tokenization_common.TokenizersBackendTesterMixin

# Test name (in every family unless `Class::test`) -> why its assumption does not hold for these models.
NOT_APPLICABLE: dict[str, str] = {
    "test_training_new_tokenizer": "decoding joins DNA tokens without spaces, so trained English text loses its spaces",
    "test_training_new_tokenizer_with_special_tokens_change": "decoding joins DNA tokens without spaces (as above)",
    **{
        f"test_eager_matches_sdpa_inference_{index:02d}_{name}": (
            "without attention_mask the models derive it from the pad id (documented), so padded positions stay "
            "padding, whose outputs mean nothing and differ between kernels (the packed one leaves zeros); the "
            "variants with a mask compare the real positions"
        )
        for index, (name, _dtype, _side, use_attention_mask, *_) in enumerate(SDPA_PARAMETERS)
        if not use_attention_mask
    },
    "test_inputs_embeds": (
        "the token and contact heads map tokens to bases from input_ids, so they refuse inputs_embeds alone with "
        "a one-line error; test_inputs_embeds_matches_input_ids covers the base model"
    ),
    "test_model_outputs_equivalence": (
        "the token and contact heads return base_mask, a bool tensor, and the mixin's message subtracts every "
        "output tensor, which torch refuses for bool"
    ),
    "test_model_weights_reload_no_missing_tied_weights": (
        "from_pretrained refuses a checkpoint that lacks the backbone's weights (CheckpointError, so nothing "
        "loads silently random), and this test loads one that holds no weight at all"
    ),
}
# Test name -> the bug it finds, which is being fixed; strict xfail, so the fix shows as XPASS.
KNOWN_BUGS_BEING_FIXED: dict[str, str] = {}

VOCAB_SIZE = 99
BATCH_SIZE, SEQ_LENGTH = 3, 9


def tiny_token_bases(special: list[str], vocab_size: int = VOCAB_SIZE) -> list[str]:
    """The bases of a made-up vocabulary: the special tokens, then 1 to 3 bases a token."""
    one_base = {"<unk>", "<mask>"}
    bases = ["N" if token in one_base else "" for token in special]
    return bases + ["ACGT"[index % 4] * (1 + index % 3) for index in range(vocab_size - len(special))]


FAMILIES = {
    "dnabert2": {
        "config": {"token_bases": tiny_token_bases(["<unk>", "<cls>", "<eos>", "<pad>", "<mask>"])},
        "special": (1, 2, 3),  # cls, eos, pad
    },
    "nucleotide_transformer_v2": {
        "config": {"token_bases": tiny_token_bases(standard_vocabulary()[:6]), "max_position_embeddings": 64},
        "special": (3, None, 1),
    },
    "nucleotide_transformer_v1": {
        "config": {
            "token_bases": tiny_token_bases(standard_vocabulary()[:6]),
            "position_embedding_type": "absolute",
            "hidden_act": "gelu",
            "use_glu": False,
            "add_bias_fnn": True,
            "max_position_embeddings": 64,
        },
        "special": (3, None, 1),
    },
}


class FamilyTester:
    """Tiny configs and inputs for one family, as transformers' `*ModelTester` classes make them."""

    def __init__(self, parent, package, config_kwargs: dict, special: tuple[int, int | None, int]):
        self.parent = parent
        self.package = package
        self.config_kwargs = config_kwargs
        self.cls_id, self.eos_id, self.pad_id = special
        self.batch_size, self.seq_length = BATCH_SIZE, SEQ_LENGTH
        self.vocab_size, self.hidden_size, self.num_hidden_layers, self.num_attention_heads = VOCAB_SIZE, 32, 2, 4
        self.intermediate_size = 37
        self.is_training = True
        self.num_labels = 3

    def get_config(self):
        return self.package.config(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            num_labels=self.num_labels,
            hidden_dropout=0.0,
            attention_dropout=0.0,
            **self.config_kwargs,
        )

    def prepare_config_and_inputs_for_common(self):
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size - 10) + 10  # no special token
        input_ids[:, 0] = self.cls_id
        attention_mask = random_attention_mask([self.batch_size, self.seq_length])
        attention_mask[:, : self.seq_length // 2] = 1
        input_ids = input_ids.masked_fill(attention_mask == 0, self.pad_id)
        return self.get_config(), {"input_ids": input_ids, "attention_mask": attention_mask}

    def labels(self, model_class, inputs: dict, config) -> dict:
        """The labels each head takes: per sequence, per token (MLM), per base, per pair of bases."""
        roles = {cls: role for role, cls in self.package.model_classes.items()}
        role = roles[model_class]
        batch_size = inputs["input_ids"].shape[0]
        if role == "sequence_prediction":
            return {"labels": torch.zeros(batch_size, dtype=torch.long)}
        if role in ("masked_lm", "pretraining"):
            return {"labels": torch.zeros_like(inputs["input_ids"])}
        lengths = torch.tensor(config.token_lengths)[inputs["input_ids"]] * inputs["attention_mask"]
        bases = int(lengths.sum(-1).max())
        if role == "token_prediction":
            return {"labels": torch.zeros(batch_size, bases, dtype=torch.long)}
        if role == "contact_prediction":
            return {"labels": torch.zeros(batch_size, bases, bases, dtype=torch.long)}
        return {}


def mark_tests(cls: type) -> type:
    """Apply `NOT_APPLICABLE` (skip) and `KNOWN_BUGS_BEING_FIXED` (strict xfail) to the test methods of `cls`."""
    for table, decorate in (
        (NOT_APPLICABLE, lambda reason: unittest.skip(f"not applicable: {reason}")),
        (KNOWN_BUGS_BEING_FIXED, lambda reason: pytest.mark.xfail(reason=reason, strict=True)),
    ):
        for key, reason in table.items():
            scope, _, name = key.rpartition("::")
            if scope not in ("", cls.__name__) or not hasattr(cls, name):
                continue
            setattr(cls, name, decorate(reason)(getattr(cls, name)))
    return cls


def model_test_case(family: str) -> type:
    model_type = "dnabert2" if family == "dnabert2" else "nucleotide_transformer"
    package = MODELS[model_type]
    settings = FAMILIES[family]

    class Case(ModelTesterMixin, unittest.TestCase):
        all_model_classes = tuple(package.model_classes.values())
        test_torchscript = False

        def setUp(self):
            self.model_tester = FamilyTester(self, package, settings["config"], settings["special"])
            self.config_tester = ConfigTester(self, config_class=package.config, hidden_size=37)

        def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
            inputs_dict = super()._prepare_for_class(inputs_dict, model_class, return_labels=False)
            if return_labels:
                config = self.model_tester.get_config()
                inputs_dict.update(self.model_tester.labels(model_class, inputs_dict, config))
            return inputs_dict

        def test_config(self):
            self.config_tester.run_common_tests()

    name = "".join(part.title() for part in family.split("_")) + "CommonTest"
    Case.__name__ = Case.__qualname__ = name
    # The mixin tells base models from heads by transformers' own name table (base models have no loss to train,
    # and some tests run on them only); `AutoModel.register` does not write it, so each test method sees ours.
    base_model_name = mock.patch.dict(MODEL_MAPPING_NAMES, {model_type: package.model_classes["model"].__name__})
    return base_model_name(mark_tests(Case))


DnaBert2CommonTest = model_test_case("dnabert2")
NucleotideTransformerV2CommonTest = model_test_case("nucleotide_transformer_v2")
NucleotideTransformerV1CommonTest = model_test_case("nucleotide_transformer_v1")


def tokenizer_test_case(model_type: str, build) -> type:
    package = MODELS[model_type]

    class Case(TokenizerTesterMixin, TokenizersBackendTesterMixin, unittest.TestCase):
        tokenizer_class = package.tokenizer
        rust_tokenizer_class = package.tokenizer
        test_seq2seq = False
        test_sentencepiece = False

        @classmethod
        def setUpClass(cls):
            super().setUpClass()
            build().save_pretrained(cls.tmpdirname)

        def get_input_output_texts(self, tokenizer):
            return "ACGTACGTAC", "ACGTACGTAC"

    Case.__name__ = Case.__qualname__ = f"{package.tokenizer.__name__}CommonTest"
    return mark_tests(Case)


DnaBert2TokenizerCommonTest = tokenizer_test_case(
    "dnabert2", lambda: MODELS["dnabert2"].tokenizer.from_pretrained("dnabert2-demo")
)
NucleotideTransformerTokenizerCommonTest = tokenizer_test_case(
    "nucleotide_transformer", lambda: MODELS["nucleotide_transformer"].tokenizer.standard()
)
