"""Every use of a private transformers API, in one place.

Each use says which public API is missing. `tests/integrations/test_transformers.py` checks that every name used
here still exists with the signature relied on, so that a transformers release that changes one fails there, with
a message naming it, instead of somewhere in loading.

The rest of multimolecule reaches these internals only through what this module defines:
- `LoadingStages`, mixed into a `PreTrainedModel`, calls public-named steps of the model class from transformers'
  private loading stages: `prepare_weight_loading`, `check_loaded_weights`, `report_expected_differences`;
- `RuntimeAttentionSwitch`, mixed into a `PreTrainedModel`, lets `set_attn_implementation` switch its kernel;
- `fetch_file` fetches one file of a checkpoint, None if it has none;
- `AutoModelClass` is the base of our own Auto classes;
- `TokenizerEncodingHook`, mixed into a fast tokenizer, calls `check_text` on every text it encodes, lets
  `encode_without_backend` encode it instead of the backend, and gives `warn_if_too_long`;
- `use_pipeline_for` makes one transformers pipeline task build our pipeline class for our models only;
- `registered_model_class` reads an Auto class's mapping;
- `redirect_from_pretrained` lets a function load a checkpoint natively in place of transformers' Auto classes
  (`AutoConfig`, `AutoTokenizer`, every `AutoModel...`), before they read `auto_map` and run remote code.
"""

from __future__ import annotations

import importlib
from collections import OrderedDict
from collections.abc import Callable

from transformers import AutoConfig, AutoTokenizer, BatchEncoding, PreTrainedModel, PreTrainedTokenizerFast
from transformers.models.auto.auto_factory import _BaseAutoModelClass, _LazyAutoMapping
from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
from transformers.pipelines import PIPELINE_REGISTRY
from transformers.utils import cached_file

# ------------------------------------------------------------------------------------------------- model loading


class LoadingStages:
    """Hooks our loading steps into `from_pretrained`, between reading the weights and reporting them.

    Missing public API: transformers has no per-call hook to add weight transforms (`from_pretrained`'s
    `key_mapping` takes regular-expression renames only; `register_checkpoint_conversion_mapping` is global per
    model type, applies to every checkpoint and is reversed on save), none to check the loading result before the
    report, and none to say in one line what a class expects to differ. So this mixin overrides the private stages
    `_load_pretrained_model`, `_finalize_model_loading` and `_adjust_missing_and_unexpected_keys` and calls
    - `model.prepare_weight_loading(checkpoint_files, load_config) -> load_config` before the weights are read;
    - `model.check_loaded_weights(loading_info, ignore_mismatched_sizes)` after they are read, before the report;
    - `model.report_expected_differences(loading_info) -> set[str]` (the keys initialised anew, e.g. a new head)
      where transformers drops the keys it was told to expect, so that its report lists only the unexpected ones.
    The keys initialised anew are put back into `missing_keys` after the report, so that `output_loading_info=True`
    names them as transformers does for its own models.

    Example:
        >>> from multimolecule import AutoModelForSequencePrediction
        >>> from multimolecule.demo import demo_model_path
        >>> model, info = AutoModelForSequencePrediction.from_pretrained(
        ...     demo_model_path("nt-demo"), output_loading_info=True
        ... )
        >>> sorted({key.split(".")[0] for key in info["missing_keys"]})
        ['classifier']
    """

    def prepare_weight_loading(self, checkpoint_files: list[str] | None, load_config):
        """The `load_config` to read `checkpoint_files` with (unchanged unless a subclass says otherwise)."""
        return load_config

    def check_loaded_weights(self, loading_info, ignore_mismatched_sizes: bool) -> None:
        """Raise if the loaded weights would give wrong numbers (nothing unless a subclass says what)."""

    def report_expected_differences(self, loading_info) -> set[str]:
        """Say what the class expects to differ from the checkpoint; return the keys initialised anew."""
        return set()

    @staticmethod
    def _load_pretrained_model(model, state_dict, checkpoint_files, load_config, expected_keys=None):
        load_config = model.prepare_weight_loading(checkpoint_files, load_config)
        return PreTrainedModel._load_pretrained_model(model, state_dict, checkpoint_files, load_config, expected_keys)

    @staticmethod
    def _finalize_model_loading(model, load_config, loading_info):
        model.check_loaded_weights(loading_info, load_config.ignore_mismatched_sizes)
        loading_info = PreTrainedModel._finalize_model_loading(model, load_config, loading_info)
        loading_info.missing_keys |= vars(model).pop("newly_initialised_keys", set())
        return loading_info

    def _adjust_missing_and_unexpected_keys(self, loading_info) -> None:
        self.newly_initialised_keys = self.report_expected_differences(loading_info)
        PreTrainedModel._adjust_missing_and_unexpected_keys(self, loading_info)


# -------------------------------------------------------------------------------------------------------- attention


class RuntimeAttentionSwitch:
    """Lets `model.set_attn_implementation(name)` switch the attention kernel of the next forward.

    Missing public API: transformers decides whether a model may switch by reading the source of the model's file
    for `ALL_ATTENTION_FUNCTIONS.get_interface(` (the private `_can_set_attn_implementation`); it has no flag to
    declare it. Our models share that call in `multimolecule.modules.attention.select_attention_kernel`, which
    reads `config._attn_implementation` on every forward, so this mixin answers the private check with True.

    Example:
        >>> from multimolecule import DnaBert2Config, DnaBert2Model
        >>> model = DnaBert2Model(DnaBert2Config(num_hidden_layers=1))
        >>> model.set_attn_implementation("eager")
        >>> model.config._attn_implementation
        'eager'
    """

    @classmethod
    def _can_set_attn_implementation(cls) -> bool:
        return True


# --------------------------------------------------------------------------------------------------------- files


def fetch_file(name: str, filename: str, **download) -> str | None:
    """Local path of `filename` of the checkpoint `name` (a directory or a Hub id) or None if it has none, through
    transformers' cache and Hub settings; `download` are `from_pretrained`'s download arguments.

    Missing public API: `cached_file` raises for an absent file unless told otherwise by its private arguments
    `_raise_exceptions_for_missing_entries` and `_raise_exceptions_for_connection_errors`.
    """
    return cached_file(
        name,
        filename,
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=False,
        **download,
    )


# ---------------------------------------------------------------------------------------------------- Auto classes


class AutoModelClass(_BaseAutoModelClass):
    """The base of an Auto class of our own (`AutoModelForTokenPrediction`, ...), with an empty mapping that
    `register(config_class, model_class)` fills.

    Missing public API: transformers exposes no base for new Auto classes; its own derive from the private
    `_BaseAutoModelClass` with a private `_LazyAutoMapping` as `_model_mapping`.

    Example:
        >>> from multimolecule import DnaBert2Config, DnaBert2Model
        >>> class AutoModelForExample(AutoModelClass):
        ...     pass
        >>> AutoModelForExample.register(DnaBert2Config, DnaBert2Model, exist_ok=True)
        >>> type(AutoModelForExample.from_config(DnaBert2Config(num_hidden_layers=1))).__name__
        'DnaBert2Model'
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._model_mapping = _LazyAutoMapping(CONFIG_MAPPING_NAMES, OrderedDict())


# ------------------------------------------------------------------------------------------------------ tokenizers


class TokenizerEncodingHook(PreTrainedTokenizerFast):
    """Calls `check_text(text)` on every text a fast tokenizer encodes, whichever entry point encodes it, and lets
    `encode_without_backend` encode the texts in place of the `tokenizers` backend.

    Missing public API: no hook sees the texts, or may encode them; `__call__`, `encode` and `encode_plus` all go
    through the private `_encode_plus`, which this overrides. `encode_without_backend` and `encode_with_backend`
    take `_encode_plus`'s keyword arguments (`padding_strategy`, `truncation_strategy`, `max_length`, ...), and
    `warn_if_too_long` gives transformers' warning through the private `_eventual_warn_about_too_long_sequence`
    (no public function warns about a sequence longer than `model_max_length`).

    Example:
        >>> from multimolecule import DnaBert2Tokenizer
        >>> class Announcing(DnaBert2Tokenizer):
        ...     def check_text(self, text):
        ...         print("encoding", text)
        >>> _ = Announcing.from_pretrained("dnabert2-demo")(["ACGT", "GGCC"])
        encoding ACGT
        encoding GGCC
    """

    def check_text(self, text: str) -> None:
        """Called with each text before it is encoded; does nothing unless a subclass says what."""

    def encode_without_backend(self, text: str | list[str], **options) -> BatchEncoding | None:
        """The encoding of `text` (one text or a batch, without pairs) made without the backend, or None to let the
        backend encode it; `options` are `_encode_plus`'s keyword arguments. None unless a subclass says how."""
        return None

    def encode_with_backend(self, text, text_pair=None, **options) -> BatchEncoding:
        """transformers' own encoding of `text` (and `text_pair`) by the backend, without `check_text`."""
        return super()._encode_plus(text, text_pair=text_pair, **options)

    def warn_if_too_long(self, ids: list[int], max_length: int | None = None, verbose: bool = True) -> None:
        """Warn as transformers does (once) when `ids` are longer than `model_max_length` and no `max_length` is
        given (`max_length` and `verbose` are the encoding's options)."""
        self._eventual_warn_about_too_long_sequence(ids, max_length, verbose)

    def _encode_plus(self, text, text_pair=None, **kwargs):
        for item in [text, text_pair] if isinstance(text, str) else [*(text or []), *(text_pair or [])]:
            if isinstance(item, str):
                self.check_text(item)
        encoded = self.encode_without_backend(text, **kwargs) if text_pair is None else None
        return self.encode_with_backend(text, text_pair=text_pair, **kwargs) if encoded is None else encoded


# ------------------------------------------------------------------------------------------------------- pipelines


def use_pipeline_for(task: str, pipeline_class: type) -> None:
    """Make `transformers.pipeline(task, ...)` build `pipeline_class` where `pipeline_class.handles(model)`, and
    transformers' own pipeline class of `task`, unchanged, for every other model. Calling it again changes nothing.

    Missing public API: a model cannot name its pipeline class (`custom_pipelines` in a config needs remote code),
    and `PIPELINE_REGISTRY.register_pipeline` replaces the whole task entry (its default model, its Auto class)
    with a warning. So the entry's `impl` (a public attribute) is set to a subclass of transformers' class that
    builds an instance of that class itself for a model it does not handle.
    """
    entry = PIPELINE_REGISTRY.supported_tasks[PIPELINE_REGISTRY.task_aliases.get(task, task)]
    original = entry["impl"]
    if isinstance(original, str):  # transformers names its classes by dotted path until first used
        module, _, name = original.rpartition(".")
        original = getattr(importlib.import_module(module), name)
    if getattr(original, "dispatches_to", None) is pipeline_class:
        return

    class Dispatch(original):
        """Builds `pipeline_class` for the models it handles, transformers' own class for every other one."""

        dispatches_to = pipeline_class

        def __new__(cls, *args, **kwargs):
            model = kwargs.get("model", args[0] if args else None)
            # neither is an instance of `Dispatch`, so Python does not call `__init__` again
            return (pipeline_class if pipeline_class.handles(model) else original)(*args, **kwargs)

    Dispatch.__name__ = Dispatch.__qualname__ = f"{pipeline_class.__name__}Dispatch"
    entry["impl"] = Dispatch


# ------------------------------------------------------------------------------------------ native remote code


def auto_loaders() -> list[type]:
    """The classes whose `from_pretrained` `redirect_from_pretrained` wraps: `AutoConfig`, `AutoTokenizer`,
    `_BaseAutoModelClass` and every Auto model class with a copy of its own (transformers copies the method into
    each, `auto_class_update`)."""
    classes, pending = [AutoConfig, AutoTokenizer], [_BaseAutoModelClass]
    while pending:
        auto_class = pending.pop()
        if "from_pretrained" in auto_class.__dict__:
            classes.append(auto_class)
        pending.extend(auto_class.__subclasses__())
    return classes


def redirect_from_pretrained(redirect: Callable[..., Callable | None]) -> None:
    """Make `AutoConfig`, `AutoTokenizer` and every Auto model class call `redirect(auto_class, name_or_path,
    kwargs)` first in `from_pretrained`: a loader it returns (`loader(*args, **kwargs)`) loads the checkpoint instead
    of transformers, None leaves the call to transformers, untouched. Calling it again replaces the redirect.

    Missing public API: transformers decides between its own classes and a checkpoint's remote code (`auto_map`)
    inside the Auto classes' `from_pretrained`, by `model_type`; nothing lets a library say "this checkpoint is
    mine" for a checkpoint whose `model_type` is another's (`bert`, `esm`) or absent. So the classmethods are
    wrapped, each once; the wrapper keeps the original as `transformers_from_pretrained`.

    Example:
        >>> from transformers import AutoConfig
        >>> hasattr(AutoConfig.from_pretrained, "transformers_from_pretrained")  # multimolecule's redirect is in
        True
    """
    for owner in auto_loaders():
        method = owner.__dict__["from_pretrained"]
        original = getattr(method.__func__, "transformers_from_pretrained", method.__func__)

        def from_pretrained(cls, name_or_path, *args, _transformers_from_pretrained=original, **kwargs):
            loader = REDIRECT[0](cls, name_or_path, kwargs) if REDIRECT else None
            if loader is None:
                return _transformers_from_pretrained(cls, name_or_path, *args, **kwargs)
            return loader(*args, **kwargs)

        from_pretrained.transformers_from_pretrained = original
        from_pretrained.__doc__ = original.__doc__
        from_pretrained.__name__ = from_pretrained.__qualname__ = "from_pretrained"
        owner.from_pretrained = classmethod(from_pretrained)
    REDIRECT[:] = [redirect]


REDIRECT: list[Callable] = []


def registered_model_class(auto_class: type, config_class: type) -> type | None:
    """The model class `auto_class` loads for `config_class`, None if it has none.

    Missing public API: an Auto class's mapping is the private `_model_mapping`.

    Example:
        >>> from transformers import AutoModelForMaskedLM
        >>> from multimolecule import DnaBert2Config
        >>> registered_model_class(AutoModelForMaskedLM, DnaBert2Config).__name__
        'DnaBert2ForMaskedLM'
    """
    try:
        return auto_class._model_mapping[config_class]
    except KeyError:
        return None
