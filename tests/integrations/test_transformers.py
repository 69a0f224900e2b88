"""The transformers internals that `multimolecule.integrations.transformers` relies on are still there, with the
signatures it calls them with; the one pipeline task it changes is changed for our models only; and the check behind
`RuntimeAttentionSwitch` is still asked by `set_attn_implementation` (tests/modules/test_attention.py checks that the
switch takes effect).

A failure here names the internal that a transformers release changed: adapt that module, nothing else."""

from __future__ import annotations

import inspect

import pytest
import torch
from transformers import BertConfig, BertForTokenClassification, PreTrainedModel, pipeline
from transformers.pipelines import PIPELINE_REGISTRY, TokenClassificationPipeline

import multimolecule
from multimolecule.demo import demo_model_path
from multimolecule.integrations import transformers as integration
from multimolecule.models.nucleotide_transformer.tokenization_nucleotide_transformer import FAST_PATH_DEFAULTS


def parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("_load_pretrained_model", ["model", "state_dict", "checkpoint_files", "load_config", "expected_keys"]),
        ("_finalize_model_loading", ["model", "load_config", "loading_info"]),
        ("_adjust_missing_and_unexpected_keys", ["self", "loading_info"]),
    ],
)
def test_private_loading_stages_are_unchanged(name, expected):
    stage = getattr(PreTrainedModel, name, None)
    assert stage is not None, f"transformers.PreTrainedModel.{name} is gone: LoadingStages overrides it"
    assert parameters(stage) == expected, (
        f"transformers.PreTrainedModel.{name} now takes {parameters(stage)}, LoadingStages passes {expected}"
    )
    source = inspect.getsource(PreTrainedModel.from_pretrained) + inspect.getsource(
        PreTrainedModel._finalize_model_loading
    )
    assert f".{name}(" in source, f"transformers' from_pretrained no longer calls {name}: our checks would not run"


def test_loading_info_fields_are_unchanged():
    from transformers.utils.loading_report import LoadStateDictInfo

    fields = set(LoadStateDictInfo.__dataclass_fields__)
    assert {"missing_keys", "unexpected_keys", "mismatched_keys"} <= fields, (
        f"LoadStateDictInfo fields are now {sorted(fields)}: check_loading and LoadingStages read these three"
    )


def test_cached_file_private_arguments_are_unchanged():
    from transformers.utils.hub import cached_files

    accepted = parameters(cached_files)
    for argument in ("_raise_exceptions_for_missing_entries", "_raise_exceptions_for_connection_errors"):
        assert argument in accepted, f"transformers' cached_file no longer takes {argument}: fetch_file passes it"
    assert integration.fetch_file(str(demo_model_path("nt-demo")), "no-such-file.json") is None


def test_auto_class_base_is_unchanged():
    from transformers.models.auto.auto_factory import _BaseAutoModelClass, _LazyAutoMapping

    assert hasattr(_BaseAutoModelClass, "register") and hasattr(_BaseAutoModelClass, "from_pretrained"), (
        "transformers' _BaseAutoModelClass lost register/from_pretrained: AutoModelClass derives from it"
    )
    assert parameters(_LazyAutoMapping.__init__) == ["self", "config_mapping", "model_mapping"], (
        "transformers' _LazyAutoMapping(config_mapping, model_mapping) changed: AutoModelClass builds one"
    )
    model = multimolecule.AutoModelForTokenPrediction.from_config(multimolecule.DnaBert2Config(num_hidden_layers=1))
    assert isinstance(model, multimolecule.DnaBert2ForTokenPrediction)


def test_tokenizer_encode_hook_sees_every_entry_point():
    from transformers import PreTrainedTokenizerFast

    assert "_encode_plus" in vars(PreTrainedTokenizerFast), (
        "transformers' PreTrainedTokenizerFast._encode_plus is gone: TokenizerEncodingHook overrides it"
    )
    accepted = inspect.signature(PreTrainedTokenizerFast._encode_plus).parameters
    assert parameters(PreTrainedTokenizerFast._encode_plus)[:3] == ["self", "text", "text_pair"], (
        f"transformers' _encode_plus now takes {parameters(PreTrainedTokenizerFast._encode_plus)}: "
        "TokenizerEncodingHook passes (text, text_pair=..., **options)"
    )
    read = ["add_special_tokens", "padding_strategy", "truncation_strategy", "max_length", "pad_to_multiple_of"]
    read += ["padding_side", "return_tensors", "return_attention_mask", "verbose", *FAST_PATH_DEFAULTS]
    for option in read:
        assert option in accepted or option == "sanitize_control_tokens", (
            f"transformers' _encode_plus no longer takes {option}: the Nucleotide Transformer's "
            "encode_without_backend reads it"
        )
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()), (
        "transformers' _encode_plus no longer takes **kwargs, where sanitize_control_tokens arrives"
    )
    seen = []

    class Recording(multimolecule.DnaBert2Tokenizer):
        def check_text(self, text):
            seen.append(text)

    tokenizer = Recording.from_pretrained(demo_model_path("dnabert2-demo"))
    tokenizer("ACGT")
    tokenizer(["GGCC", "TTAA"])
    tokenizer.encode("CCCC")
    assert seen == ["ACGT", "GGCC", "TTAA", "CCCC"]


def test_too_long_warning_is_unchanged(caplog):
    from transformers import PreTrainedTokenizerBase

    warn = getattr(PreTrainedTokenizerBase, "_eventual_warn_about_too_long_sequence", None)
    assert warn is not None, (
        "transformers' PreTrainedTokenizerBase._eventual_warn_about_too_long_sequence is gone: "
        "TokenizerEncodingHook.warn_if_too_long calls it"
    )
    assert parameters(warn) == ["self", "ids", "max_length", "verbose"], (
        f"transformers' _eventual_warn_about_too_long_sequence now takes {parameters(warn)}: "
        "warn_if_too_long passes (ids, max_length, verbose)"
    )
    tokenizer = multimolecule.NucleotideTransformerTokenizer.standard(model_max_length=2)
    with caplog.at_level("WARNING", logger="transformers"):
        tokenizer("ACGTAC" * 3)  # the fast path: 4 ids, so warn_if_too_long warns
    assert "longer than the specified maximum sequence length for this model (4 > 2)" in caplog.text, (
        "transformers' _eventual_warn_about_too_long_sequence no longer warns about 4 ids > model_max_length 2"
    )


def test_weight_transform_hooks_are_public():
    from transformers.core_model_loading import WeightConverter, WeightRenaming

    for transform in (WeightRenaming, WeightConverter):
        assert callable(getattr(transform, "was_used", None)), (
            f"transformers' {transform.__name__}.was_used is gone: our original-layout transforms override it"
        )
    assert parameters(WeightRenaming.rename_source_key) == ["self", "source_key"]


def test_pipeline_registry_entry_is_unchanged():
    entry = PIPELINE_REGISTRY.supported_tasks.get("token-classification")
    assert entry is not None and "impl" in entry, "transformers' pipeline registry has no token-classification impl"
    assert PIPELINE_REGISTRY.task_aliases.get("ner") == "token-classification"


@pytest.mark.parametrize("task", ["token-classification", "ner"])
def test_token_classification_pipeline_changes_for_our_models_only(task):
    tokenizer = multimolecule.tokenizer_from_pretrained("nt-demo")
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    torch.manual_seed(0)
    other = pipeline(task, model=BertForTokenClassification(config), tokenizer=tokenizer)
    assert type(other) is TokenClassificationPipeline
    assert len(other("ACGTACGTACGT", ignore_labels=[])) == 2  # two 6-mers: one entity per token, as transformers does
    ours = pipeline(task, model=multimolecule.from_pretrained("nt-demo", task="token-prediction"), tokenizer=tokenizer)
    assert type(ours) is multimolecule.BaseTokenClassificationPipeline
    assert len(ours("ACGTACGTACGT", ignore_labels=[])) == 12  # one per base


def test_use_pipeline_for_twice_changes_nothing():
    before = PIPELINE_REGISTRY.supported_tasks["token-classification"]["impl"]
    integration.use_pipeline_for("token-classification", multimolecule.BaseTokenClassificationPipeline)
    assert PIPELINE_REGISTRY.supported_tasks["token-classification"]["impl"] is before


def test_auto_classes_decide_remote_code_inside_from_pretrained():
    from transformers import AutoConfig, AutoModel, AutoTokenizer
    from transformers.models.auto.auto_factory import _BaseAutoModelClass

    for auto_class in (AutoConfig, AutoTokenizer, _BaseAutoModelClass):
        method = auto_class.__dict__.get("from_pretrained")
        assert method is not None, f"{auto_class.__name__} no longer defines from_pretrained: redirect wraps it"
        original = method.__func__.transformers_from_pretrained  # our wrapper is installed over it
        assert "auto_map" in inspect.getsource(original), (
            f"{auto_class.__name__}.from_pretrained no longer reads auto_map itself: the redirect may be too late"
        )
    # transformers copies from_pretrained into each Auto model class: each copy must be wrapped too
    assert "from_pretrained" in AutoModel.__dict__ and AutoModel in integration.auto_loaders()
    assert hasattr(AutoModel.from_pretrained, "transformers_from_pretrained")


def test_auto_model_mapping_is_readable():
    from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification

    assert integration.registered_model_class(AutoModelForMaskedLM, multimolecule.DnaBert2Config) is (
        multimolecule.DnaBert2ForMaskedLM
    ), "AutoModelForMaskedLM._model_mapping no longer maps our config: registered_model_class reads it"
    assert integration.registered_model_class(AutoModelForSequenceClassification, BertConfig).__name__ == (
        "BertForSequenceClassification"
    )


def test_the_attention_switch_check_is_unchanged():
    check = getattr(PreTrainedModel, "_can_set_attn_implementation", None)
    assert check is not None, (
        "transformers.PreTrainedModel._can_set_attn_implementation is gone: RuntimeAttentionSwitch overrides it"
    )
    assert "self._can_set_attn_implementation()" in inspect.getsource(PreTrainedModel.set_attn_implementation), (
        "transformers' set_attn_implementation no longer calls _can_set_attn_implementation: RuntimeAttentionSwitch "
        "is not asked, and set_attn_implementation may only warn"
    )
