"""Loading checkpoints as they are published: bundled demo names, Hub ids and original layouts.

`from_pretrained` of our models, configs and tokenizers accepts
- a bundled demo name (`"dnabert2-demo"`, `"nt-demo"`);
- a directory or a Hugging Face Hub id, resolved by transformers itself (cache, `revision`, `token`,
  `HF_HUB_OFFLINE`);
- in our layout or in an original one (`OriginalLayout`): DNABERT-2's remote-code `bert` layout, InstaDeep's
  ESM layouts of the Nucleotide Transformer. An original is recognised from its `config.json`, its config is
  converted by the converter's own function, and its weights are renamed and split while they load, by
  transformers' loading-time weight conversion fed with the converter's own tables. Nothing from the directory
  is executed and nothing is written; the result equals converting first.

Loading is strict where a silent mistake would give wrong numbers: tensors whose shapes differ from the config,
a model part only partly present in the checkpoint, or an original tensor nobody knows raise `CheckpointError`
naming them. Whole parts that are absent (a new prediction head, a pooler) are initialised as usual.
"""

from __future__ import annotations

import json
import os
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import HfApi, constants, try_to_load_from_cache
from huggingface_hub.errors import HfHubHTTPError
from safetensors import safe_open
from transformers import PretrainedConfig, PreTrainedModel
from transformers.core_model_loading import Chunk, WeightConverter, WeightRenaming

from ..demo import DEFAULT_MODEL, DEMO_MODELS, demo_model_path
from ..integrations.transformers import fetch_file
from ..utils.errors import CheckpointError, CheckpointShapeError, InputError

# The keyword arguments of `from_pretrained` that say where and how to fetch files, as transformers names them.
DOWNLOAD_KWARGS = ("cache_dir", "force_download", "proxies", "local_files_only", "token", "revision", "subfolder")


# ------------------------------------------------------------------------------------------------ names, files


def resolve_name(name_or_path: str | os.PathLike | None, check: bool = False) -> str:
    """The one name resolver: a bundled demo name -> its directory; anything else (a directory, a Hub id)
    unchanged. None is the default model (`DEFAULT_MODEL`, the DNABERT-2 demo).

    A local directory of the same name wins, as transformers resolves names. With `check` (the commands and the
    API), a name that cannot load fails at once with an `InputError` naming it: a demo that is not bundled, a
    directory without `config.json`, a path that does not exist, or a Hub id neither cached nor on the Hub.

    Example:
        >>> resolve_name("nt-demo").endswith("nucleotide_transformer")
        True
        >>> resolve_name("zhihan1996/DNABERT-2-117M")
        'zhihan1996/DNABERT-2-117M'
        >>> resolve_name(None, check=True).endswith("dnabert2")
        True
    """
    name = DEFAULT_MODEL if name_or_path is None else str(name_or_path)
    if name in DEMO_MODELS and not os.path.isdir(name):
        path = demo_model_path(name)
        if check and not (path / "config.json").is_file():
            raise InputError(f"the {name} model is not bundled with this installation ({path} is missing)")
        return str(path)
    if not check:
        return name
    path = Path(name).expanduser()
    check_local_path(name)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError(f"not a model directory (no config.json): {name}")
        return str(path)
    if path.exists() or not re.fullmatch(r"[\w.-]+/[\w.-]+", name):
        raise InputError(f"model not found: {name} (not a directory; demos: {', '.join(DEMO_MODELS)})")
    check_hub_model(name)
    return name  # a Hub id


def check_hub_model(model: str) -> None:
    """Fail at once, naming it, for a Hub id that is neither in the local Hub cache nor on a reachable Hub.

    transformers retries an unreachable Hub for half a minute per file; one quick question to the Hub (no
    retries) tells a mistyped local path such as `converted/dnabert2` from a model to download. With
    `HF_HUB_OFFLINE` set nothing is asked: the cache alone answers, as in transformers.
    """
    if isinstance(try_to_load_from_cache(model, "config.json"), str) or constants.HF_HUB_OFFLINE:
        return
    try:
        HfApi().model_info(model, timeout=10)
    except HfHubHTTPError as error:
        status = getattr(error.response, "status_code", None)
        if status in (401, 403, 404):
            raise InputError(
                f"model not found: {model} is not a local directory, and the Hub has no model of that name "
                f"(or it is private: log in with `hf auth login`)"
            ) from error
        raise InputError(f"cannot ask the Hub for {model}: {error}") from error
    except Exception as error:  # no network: httpx / OS errors
        raise InputError(
            f"model not found: {model} is not a local directory or in the Hub cache, "
            f"and the Hub cannot be reached ({type(error).__name__}: {error})"
        ) from error


def check_local_path(model: str) -> None:
    """Fail at once, naming it, for a `model` that can only be a local path (`./x`, `../x`, `/x`, `~/x`, `a/b/c`,
    a trailing `/`, a backslash, or under an existing local directory) but does not exist, instead of asking the
    Hub for it.

    Example:
        >>> check_local_path("./converted/dnabert2")
        Traceback (most recent call last):
        ...
        multimolecule.utils.errors.InputError: model not found: ./converted/dnabert2 (no such directory in ...)
    """
    if Path(model).expanduser().exists():
        return
    first = model.split("/")[0]
    local = (
        model.startswith((".", "/", "~"))
        or model.endswith("/")
        or "\\" in model
        or model.count("/") > 1
        or (model.count("/") == 1 and Path(first).is_dir())
    )
    if local:
        where = "" if Path(model).expanduser().is_absolute() else f" in {Path.cwd()}"
        raise InputError(f"model not found: {model} (no such directory{where})")


def fetch(name: str, filename: str, kwargs: Mapping[str, Any]) -> str | None:
    """Local path of `filename` of the checkpoint `name` (a directory or a Hub id), or None if it has none.

    Goes through transformers' `cached_file`, so the Hub cache, `revision`, `token` and `HF_HUB_OFFLINE` work
    exactly as in `from_pretrained`. `kwargs` are that call's keyword arguments; only the download ones are read.
    """
    download = {key: kwargs[key] for key in DOWNLOAD_KWARGS if kwargs.get(key) is not None}
    return fetch_file(name, filename, **download)


def fetch_json(name: str, filename: str, kwargs: Mapping[str, Any]) -> dict | None:
    """`filename` of `name` parsed, None if absent; `CheckpointError` if it is not valid JSON."""
    path = fetch(name, filename, kwargs)
    if path is None:
        return None
    try:
        with open(path) as file:
            return json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{filename} of {name} is not valid JSON: {error}") from error


# ------------------------------------------------------------------------------------------- original layouts


@dataclass(frozen=True)
class OriginalLayout:
    """How one published original layout maps onto ours. Every field is a function or table of the converter.

    Args:
        name: What the layout is, for messages.
        model_type: Our model family it loads into.
        matches: Whether a parsed `config.json` is in this layout.
        convert_config: `(original config dict, fetch)` -> our config, where `fetch(filename)` gives the local
            path of another file of the same checkpoint (or None).
        rename: `(original tensor name, our config)` -> our name, or None for a tensor it does not know.
        splits: Fused tensors (after renaming) -> the tensors they hold, stacked along dim 0.
        unused: `(original tensor name, our config)` -> whether the originals store it but never use it.
        fit_tokenizer: `(our tokenizer built from the original files, our config)` -> None, adjusting the tokenizer
            to what the config says (e.g. the position limit); None if nothing needs adjusting.
    """

    name: str
    model_type: str
    matches: Callable[[dict], bool]
    convert_config: Callable[[dict, Callable[[str], str | None]], PretrainedConfig]
    rename: Callable[[str, PretrainedConfig], str | None]
    splits: Mapping[str, Sequence[str]] = field(default_factory=dict)
    unused: Callable[[str, PretrainedConfig], bool] = lambda name, config: False
    fit_tokenizer: Callable[[Any, PretrainedConfig], None] | None = None

    def weight_conversions(self, config: PretrainedConfig, unknown: set[str]) -> list[WeightRenaming | WeightConverter]:
        """The loading-time transforms: rename with the converter's table, then split the fused tensors.
        Names the table does not know, other than unused ones, are added to `unknown`."""

        def rename(name: str) -> str | None:
            if self.unused(name, config):
                return None
            new_name = self.rename(name, config)
            if new_name is None:
                unknown.add(name)
            return new_name

        return [
            FunctionRenaming(rename),
            *(OriginalSplit(fused, list(parts), [Chunk(dim=0)]) for fused, parts in self.splits.items()),
        ]


class FunctionRenaming(WeightRenaming):
    """A `WeightRenaming` that renames with a function (a converter's table) instead of one pattern.

    `was_used()` is False: transformers reverses the transforms that were used when the model is saved, and ours
    saves in our layout, not in the original one.

    Example:
        >>> renaming = FunctionRenaming(lambda name: "model." + name[5:] if name.startswith("bert.") else None)
        >>> renaming.rename_source_key("bert.embeddings.word_embeddings.weight"), renaming.was_used()
        (('model.embeddings.word_embeddings.weight', 'bert.embeddings.word_embeddings.weight'), False)
        >>> renaming.rename_source_key("cls.predictions.bias")
        ('cls.predictions.bias', None)
    """

    __slots__ = ("function",)

    def __init__(self, function: Callable[[str], str | None]):
        super().__init__(source_patterns=r"^$", target_patterns="")
        self.function = function

    def rename_source_key(self, source_key: str) -> tuple[str, str | None]:
        new_key = self.function(source_key)
        if new_key is None:
            return source_key, None
        return new_key, source_key

    def was_used(self) -> bool:
        return False


class OriginalSplit(WeightConverter):
    """A `WeightConverter` that is never reversed on save (see `FunctionRenaming`).

    Example:
        >>> split = OriginalSplit("qkv.weight", ["q.weight", "k.weight", "v.weight"], [Chunk(dim=0)])
        >>> split.target_patterns, split.was_used()
        (['q.weight', 'k.weight', 'v.weight'], False)
    """

    __slots__ = ()

    def was_used(self) -> bool:
        return False


LAYOUTS: list[OriginalLayout] = []


def register_layout(layout: OriginalLayout) -> None:
    """Make `from_pretrained` recognise `layout`."""
    LAYOUTS.append(layout)


def find_layout(config_dict: dict) -> OriginalLayout | None:
    """The original layout a parsed `config.json` is in; None if none (ours, or something else)."""
    if config_dict.get("model_type") in {layout.model_type for layout in LAYOUTS}:
        return None
    return next((layout for layout in LAYOUTS if layout.matches(config_dict)), None)


def describe(config_dict: dict) -> str:
    """What a parsed `config.json` holds, in words."""
    layout = find_layout(config_dict)
    if layout is not None:
        return f"a {layout.name} checkpoint"
    if config_dict.get("model_type"):
        return f"a {config_dict['model_type']!r} checkpoint"
    return f"a checkpoint of unknown architecture (auto_map: {config_dict.get('auto_map')})"


def fit_tokenizer(tokenizer, name: str, kwargs: Mapping[str, Any]) -> None:
    """Let the original layout of the `config.json` of `name`, if it has one, adjust a tokenizer built from the
    original files (`OriginalLayout.fit_tokenizer`)."""
    config_dict = fetch_json(name, "config.json", kwargs)
    layout = find_layout(config_dict) if config_dict else None
    if layout is not None and layout.fit_tokenizer is not None:
        config = layout.convert_config(config_dict, lambda filename: fetch(name, filename, kwargs))
        layout.fit_tokenizer(tokenizer, config)


def layout_for(model_type: str, name: str, config_dict: dict) -> OriginalLayout | None:
    """The original layout `config_dict` of `name` is in, None if it is ours; `CheckpointError` if it is neither."""
    if config_dict.get("model_type") == model_type:
        return None
    layout = find_layout(config_dict)
    if layout is not None and layout.model_type == model_type:
        return layout
    raise CheckpointError(f"{name} holds {describe(config_dict)}, not a {model_type!r} one")


def checkpoint_config_dict(model_type: str, name: str, config_dict: dict, kwargs: Mapping[str, Any]) -> dict:
    """The `config.json` of `name` as our config class reads it: an original converted, ours with its special
    token ids checked against the tokenizer saved beside it."""
    layout = layout_for(model_type, name, config_dict)
    if layout is None:
        return with_tokenizer_special_ids(name, dict(config_dict), kwargs)
    try:
        config = layout.convert_config(config_dict, lambda filename: fetch(name, filename, kwargs))
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"cannot read the {layout.name} config of {name}: {error}") from error
    return config.to_dict()


SPECIAL_TOKENS = {"pad_token_id": "pad_token", "mask_token_id": "mask_token", "unk_token_id": "unk_token"}
DEFAULT_SPECIAL_TOKENS = {"pad_token": "<pad>", "mask_token": "<mask>", "unk_token": "<unk>"}


def with_tokenizer_special_ids(name: str, config_dict: dict, kwargs: Mapping[str, Any]) -> dict:
    """`config_dict` with the pad, mask and unk ids of the tokenizer saved beside it, warning where they differ.

    Some directories published in an older multimolecule layout say `pad_token_id: 0` while their tokenizer pads
    with id 3: the model would then take `<unk>` for padding when `attention_mask` is omitted.
    """
    tokenizer_file = fetch_json(name, "tokenizer.json", kwargs)
    if tokenizer_file is None:
        return config_dict
    ids = dict(tokenizer_file.get("model", {}).get("vocab") or {})
    ids.update({token["content"]: token["id"] for token in tokenizer_file.get("added_tokens", [])})
    tokenizer_config = fetch_json(name, "tokenizer_config.json", kwargs) or {}
    fixed = []
    for key, token_key in SPECIAL_TOKENS.items():
        token = tokenizer_config.get(token_key) or DEFAULT_SPECIAL_TOKENS[token_key]
        token = token.get("content") if isinstance(token, dict) else token
        if key in config_dict and token in ids and config_dict[key] != ids[token]:
            fixed.append(f"{key}={config_dict[key]} but the tokenizer's {token} is {ids[token]}")
            config_dict[key] = ids[token]
    if fixed:
        warnings.warn(f"{name}: config.json says {'; '.join(fixed)}; using the tokenizer's ids", stacklevel=4)
    return config_dict


# ------------------------------------------------------------- hooks of the shared bases (models/*_utils.py)


@dataclass
class OriginalLoading:
    """The original layout the current `from_pretrained` call loads, and the tensor names it did not know."""

    layout: OriginalLayout
    unknown: set[str] = field(default_factory=set)


LOADING: ContextVar[OriginalLoading | None] = ContextVar("multimolecule_original_loading", default=None)


def config_dict_for(config_class: type[PretrainedConfig], name: str, config_dict: dict, kwargs: Mapping[str, Any]):
    """What `get_config_dict` of our config classes returns for the parsed `config.json` of `name`."""
    if not config_dict or os.path.isfile(name):
        return config_dict
    return checkpoint_config_dict(config_class.model_type, name, config_dict, kwargs)


@contextmanager
def loading_checkpoint(model_class: type[PreTrainedModel], name_or_path, kwargs: Mapping[str, Any]) -> Iterator[str]:
    """Around transformers' `from_pretrained` of our model classes: yields the name to load (a demo name resolved),
    notes the original layout the checkpoint is in for `weight_conversions` and `check_loading`, and turns a
    damaged weights file into a `CheckpointError` naming it."""
    name = resolve_name(name_or_path)
    config_dict = fetch_json(name, "config.json", kwargs) if not os.path.isfile(name) else None
    layout = layout_for(model_class.config_class.model_type, name, config_dict) if config_dict is not None else None
    token = LOADING.set(OriginalLoading(layout) if layout is not None else None)
    try:
        yield name
    except (CheckpointError, OSError):
        raise
    except Exception as error:  # transformers reads the weights in several places; name a damaged file
        for filename in WEIGHTS_FILES:
            path = fetch(name, filename, {**kwargs, "local_files_only": True})
            if path is not None:
                check_readable(path, cause=error)
        raise
    finally:
        LOADING.reset(token)


def weight_conversions(model: PreTrainedModel, checkpoint_files: list[str] | None, load_config):
    """`load_config` with the transforms that map the original layout being loaded, if any, onto ours; checks
    first that every weights file is there and readable."""
    for path in checkpoint_files or []:
        check_readable(path)
    loading = LOADING.get()
    if loading is None:
        return load_config
    conversions = loading.layout.weight_conversions(model.config, loading.unknown)
    return replace(load_config, weight_mapping=[*conversions, *(load_config.weight_mapping or [])])


WEIGHTS_FILES = ("model.safetensors", "pytorch_model.bin")


def check_readable(path: str, cause: Exception | None = None) -> None:
    """`CheckpointError` naming a weights file that is missing (a shard the index lists) or cannot be read."""
    if not os.path.isfile(path):
        raise CheckpointError(f"missing weights file {path} (a shard listed in the index?)")
    try:
        if path.endswith(".safetensors"):
            with safe_open(path, framework="pt"):
                pass
        else:  # mmap only for the zip format, as transformers loads it: a legacy (pre-1.6) file is read whole
            torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as error:  # safetensors and torch raise many types for a damaged file
        raise CheckpointError(f"cannot read {path} (truncated or corrupt?): {error}") from cause or error


def check_loading(model: PreTrainedModel, loading_info, ignore_mismatched_sizes: bool) -> None:
    """Raise `CheckpointError` naming what would otherwise load silently wrong (`CheckpointShapeError`, also a
    `RuntimeError` as in transformers, when shapes differ); leave the tensors an original stores but never uses out
    of `loading_info.unexpected_keys`, so that they are not reported."""
    loading = LOADING.get()
    problems = []
    shapes_differ = bool(loading_info.mismatched_keys) and not ignore_mismatched_sizes
    if shapes_differ:
        shapes = [
            f"{key}: checkpoint {tuple(found)} vs model {tuple(wanted)}"
            for key, found, wanted in sorted(loading_info.mismatched_keys)
        ]
        problems.append("the config does not match the weights' shapes: " + "; ".join(shapes))
    if loading is not None:
        unused = {key for key in loading_info.unexpected_keys if loading.layout.unused(key, model.config)}
        loading_info.unexpected_keys -= unused
        if loading.unknown:
            problems.append(
                f"tensors the {loading.layout.name} layout does not have: {', '.join(sorted(loading.unknown))}"
            )
    for part, missing in partly_missing(model, loading_info.missing_keys).items():
        problems.append(f"the checkpoint lacks part of {part}: {', '.join(missing[:4])}{', ...' * (len(missing) > 4)}")
    if problems:
        error = CheckpointShapeError if shapes_differ else CheckpointError
        raise error(f"cannot load {model.name_or_path} into {type(model).__name__}: " + "; ".join(problems))


def partly_missing(model: PreTrainedModel, missing_keys: set[str]) -> dict[str, list[str]]:
    """Model parts (`model.encoder`, `lm_head`, ...) that miss some tensors: {part: missing keys}.

    A part entirely absent from the checkpoint is a new one (a prediction head, a pooler) and is left out, except
    the base model's embeddings and encoder, which a checkpoint must hold. Tied tensors are never missing.
    """
    tied = set(getattr(model, "all_tied_weights_keys", None) or {})
    prefix = f"{model.base_model_prefix}."
    parts: dict[str, list[str]] = {}
    for key in model.state_dict():
        depth = 2 if key.startswith(prefix) and model.base_model is not model else 1
        parts.setdefault(".".join(key.split(".")[:depth]), []).append(key)
    partial = {}
    for part, keys in parts.items():
        missing = sorted(key for key in keys if key in missing_keys and key not in tied)
        required = part.rsplit(".", 1)[-1] in ("embeddings", "encoder")
        if missing and (len(missing) < len([key for key in keys if key not in tied]) or required):
            partial[part] = missing
    return partial
