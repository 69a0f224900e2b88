"""Our Auto classes for the prediction heads, and registration of every model with the transformers Auto classes."""

from __future__ import annotations

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForPreTraining,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from ..integrations.transformers import AutoModelClass


class AutoModelForSequencePrediction(AutoModelClass):
    """Loads the `...ForSequencePrediction` model of a checkpoint's `model_type`.

    Example:
        >>> from multimolecule import AutoModelForSequencePrediction, DnaBert2Config
        >>> model = AutoModelForSequencePrediction.from_config(DnaBert2Config(num_hidden_layers=1))
        >>> type(model).__name__
        'DnaBert2ForSequencePrediction'
    """


class AutoModelForTokenPrediction(AutoModelClass):
    """Loads the `...ForTokenPrediction` (per-base) model of a checkpoint's `model_type`.

    Example:
        >>> from multimolecule import AutoModelForTokenPrediction, DnaBert2Config
        >>> type(AutoModelForTokenPrediction.from_config(DnaBert2Config(num_hidden_layers=1))).__name__
        'DnaBert2ForTokenPrediction'
    """


class AutoModelForContactPrediction(AutoModelClass):
    """Loads the `...ForContactPrediction` (base-pair) model of a checkpoint's `model_type`.

    Example:
        >>> from multimolecule import AutoModelForContactPrediction, DnaBert2Config
        >>> type(AutoModelForContactPrediction.from_config(DnaBert2Config(num_hidden_layers=1))).__name__
        'DnaBert2ForContactPrediction'
    """


def register(
    config_class: type[PretrainedConfig],
    tokenizer_class: type[PreTrainedTokenizerBase],
    model: type[PreTrainedModel],
    masked_lm: type[PreTrainedModel] | None = None,
    pretraining: type[PreTrainedModel] | None = None,
    sequence_prediction: type[PreTrainedModel] | None = None,
    token_prediction: type[PreTrainedModel] | None = None,
    contact_prediction: type[PreTrainedModel] | None = None,
) -> None:
    """Register one model family with the transformers Auto classes and ours (the roles it has).

    `exist_ok=True` everywhere: should transformers one day ship a model of the same `model_type`, ours still
    loads our checkpoints instead of failing at import.
    """
    AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    AutoTokenizer.register(config_class, tokenizer_class=tokenizer_class, exist_ok=True)
    for auto_class, model_class in (
        (AutoModel, model),
        (AutoModelForMaskedLM, masked_lm),
        (AutoModelForPreTraining, pretraining),
        (AutoModelForSequenceClassification, sequence_prediction),
        (AutoModelForTokenClassification, token_prediction),
        (AutoModelForSequencePrediction, sequence_prediction),
        (AutoModelForTokenPrediction, token_prediction),
        (AutoModelForContactPrediction, contact_prediction),
    ):
        if model_class is not None:
            auto_class.register(config_class, model_class, exist_ok=True)
