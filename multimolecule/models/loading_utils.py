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

A checkpoint is resolved once per load into a `Checkpoint` (where it is, its parsed `config.json`, its layout and
family, the files fetched so far), which the tokenizer, the config and the weight loading share.

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
from ..utils.errors import CheckpointError, CheckpointNotFoundError, CheckpointShapeError, InputError

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


# ------------------------------------------------------------------------------------------- original layouts


@dataclass(frozen=True)
class OriginalLayout:
    """How one published original layout maps onto ours. Every field is a function or table of the converter.

    Args:
        name: What the layout is, for messages.
        model_type: Our model family it loads into.
        matches: Whether a parsed `config.json` is in this layout.
        convert_config: `(original config dict, checkpoint)` -> our config, where `checkpoint` is the `Checkpoint`
            being loaded: `checkpoint(filename)` gives the local path of another of its files (or None), and
            `checkpoint.original_tokenizer(tokenizer_class)` the tokenizer built from its original files, once.
        rename: `(original tensor name, our config)` -> our name, or None for a tensor it does not know.
        splits: Fused tensors (after renaming) -> the tensors they hold, stacked along dim 0.
        unused: `(original tensor name, our config)` -> whether the originals store it but never use it.
        fit_tokenizer: `(our tokenizer built from the original files, our config)` -> None, adjusting the tokenizer
            to what the config says (e.g. the position limit); None if nothing needs adjusting.
        remote_code: The published remote-code files of the originals in this layout: {sha256 of the file: where
            it is published}. transformers' Auto classes load a checkpoint carrying only these (or none) natively
            (`models.remote_code`); any other remote code is left to transformers.
    """

    name: str
    model_type: str
    matches: Callable[[dict], bool]
    convert_config: Callable[[dict, Any], PretrainedConfig]
    rename: Callable[[str, PretrainedConfig], str | None]
    splits: Mapping[str, Sequence[str]] = field(default_factory=dict)
    unused: Callable[[str, PretrainedConfig], bool] = lambda name, config: False
    fit_tokenizer: Callable[[Any, PretrainedConfig], None] | None = None
    remote_code: Mapping[str, str] = field(default_factory=dict)

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


def layout_for(model_type: str, checkpoint: Checkpoint) -> OriginalLayout | None:
    """The original layout of `checkpoint` if it loads into `model_type`, None if it is in our layout;
    `CheckpointError` if it is neither."""
    if checkpoint.config_dict.get("model_type") == model_type:
        return None
    if checkpoint.layout is not None and checkpoint.layout.model_type == model_type:
        return checkpoint.layout
    raise CheckpointError(f"{checkpoint.name} holds {describe(checkpoint.config_dict)}, not a {model_type!r} one")


SPECIAL_TOKENS = {"pad_token_id": "pad_token", "mask_token_id": "mask_token", "unk_token_id": "unk_token"}
DEFAULT_SPECIAL_TOKENS = {"pad_token": "<pad>", "mask_token": "<mask>", "unk_token": "<unk>"}


# --------------------------------------------------------------------------------------- one resolved checkpoint


@dataclass(eq=False)
class Checkpoint(os.PathLike):
    """A checkpoint resolved once: the name it was asked by, where it is (a directory or a Hub id), how to fetch its
    files, its parsed `config.json`, its layout (None: ours) and its family. The tokenizer and the model of one load
    share it, so each file is fetched and parsed at most once; it is an `os.PathLike` of `path`.

    `Checkpoint.resolve(name_or_path, kwargs)` builds one (a Checkpoint passed in is returned as it is); `kwargs` are
    `from_pretrained`'s, of which the download ones (`revision`, `token`, ...) are kept.

    Example:
        >>> checkpoint = Checkpoint.resolve("nt-demo")
        >>> checkpoint.model_type, checkpoint.layout is None, checkpoint.path.endswith("nucleotide_transformer")
        ('nucleotide_transformer', True, True)
    """

    name: str
    path: str
    download: dict[str, Any]
    config_dict: dict = field(default_factory=dict)
    layout: OriginalLayout | None = None
    files: dict[str, str | None] = field(default_factory=dict, repr=False)
    parsed: dict[str, dict | None] = field(default_factory=dict, repr=False)
    converted: dict[str, PretrainedConfig] = field(default_factory=dict, repr=False)
    tokenizers: dict[type, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def resolve(
        cls,
        name_or_path: str | os.PathLike | Checkpoint | None,
        kwargs: Mapping[str, Any] | None = None,
        check: bool = False,
        require_config: bool = True,
    ) -> Checkpoint:
        """The checkpoint `name_or_path` names (see `resolve_name`; `check` as there), its `config.json` read
        (`CheckpointError` without one, unless not `require_config`: a tokenizer alone)."""
        if isinstance(name_or_path, Checkpoint):
            return name_or_path
        kwargs = kwargs or {}
        download = {key: kwargs[key] for key in DOWNLOAD_KWARGS if kwargs.get(key) is not None}
        path = resolve_name(name_or_path, check=check)
        checkpoint = cls(name=str(name_or_path) if name_or_path is not None else path, path=path, download=download)
        config_dict = checkpoint.json("config.json")
        if config_dict is None and require_config:
            raise CheckpointNotFoundError(
                f"{checkpoint.name} has no config.json: not a model directory, a Hub id or a demo name"
            )
        checkpoint.config_dict = config_dict or {}
        checkpoint.layout = find_layout(checkpoint.config_dict)
        return checkpoint

    def __fspath__(self) -> str:
        return self.path

    def __str__(self) -> str:
        return self.path

    @property
    def model_type(self) -> str | None:
        """Our family it loads into: the layout's, or the `model_type` of a config in our layout."""
        return self.layout.model_type if self.layout is not None else self.config_dict.get("model_type")

    def fetch(self, filename: str) -> str | None:
        """Local path of `filename` of the checkpoint (None if it has none), fetched once (see `fetch`)."""
        if filename not in self.files:
            self.files[filename] = fetch(self.path, filename, self.download)
        return self.files[filename]

    __call__ = fetch  # a checkpoint is also the `fetch` of the converters' functions

    def original_tokenizer(self, tokenizer_class: type):
        """`tokenizer_class.from_original_files(self)`: our tokenizer built from the original's files (None without
        them), built once and shared by the tokenizer and the config conversion of this checkpoint. (`tokenizers`
        also holds the tokenizer loaded from a checkpoint in our layout, whose ids the config is checked against.)"""
        if tokenizer_class not in self.tokenizers:
            self.tokenizers[tokenizer_class] = tokenizer_class.from_original_files(self.fetch)
        return self.tokenizers[tokenizer_class]

    def json(self, filename: str) -> dict | None:
        """`filename` parsed, once; None if absent, `CheckpointError` if it is not valid JSON."""
        if filename not in self.parsed:
            self.parsed[filename] = read_json(self.fetch(filename), f"{filename} of {self.name}")
        return self.parsed[filename]

    def config_for(self, model_type: str) -> dict:
        """The `config.json` as our config class of `model_type` reads it: an original converted by its converter
        (once), ours with its special token ids checked against the tokenizer saved beside it."""
        layout = layout_for(model_type, self)
        if layout is None:
            return self.with_tokenizer_special_ids(dict(self.config_dict))
        return self.converted_config().to_dict()

    def converted_config(self) -> PretrainedConfig:
        """Our config of an original checkpoint, converted by its layout once."""
        if self.layout.model_type not in self.converted:
            try:
                config = self.layout.convert_config(self.config_dict, self)
            except (KeyError, TypeError, ValueError) as error:
                raise CheckpointError(f"cannot read the {self.layout.name} config of {self.name}: {error}") from error
            self.converted[self.layout.model_type] = config
        return self.converted[self.layout.model_type]

    def fit_tokenizer(self, tokenizer) -> None:
        """Let the original layout, if any, adjust a tokenizer built from the original files to the config
        (`OriginalLayout.fit_tokenizer`)."""
        if self.layout is not None and self.layout.fit_tokenizer is not None:
            self.layout.fit_tokenizer(tokenizer, self.converted_config())

    def with_tokenizer_special_ids(self, config_dict: dict) -> dict:
        """`config_dict` with the pad, mask and unk ids of the tokenizer saved beside it, warning where they differ.

        Some directories published in an older multimolecule layout say `pad_token_id: 0` while their tokenizer
        pads with id 3: the model would then take `<unk>` for padding when `attention_mask` is omitted.
        """
        loaded = next((tokenizer for tokenizer in self.tokenizers.values() if tokenizer is not None), None)
        if loaded is not None:  # the tokenizer of this load, already read
            ids, tokenizer_config = loaded.get_vocab(), {key: getattr(loaded, key) for key in DEFAULT_SPECIAL_TOKENS}
        else:
            tokenizer_file = self.json("tokenizer.json")
            if tokenizer_file is None:
                return config_dict
            ids = dict(tokenizer_file.get("model", {}).get("vocab") or {})
            ids.update({token["content"]: token["id"] for token in tokenizer_file.get("added_tokens", [])})
            tokenizer_config = self.json("tokenizer_config.json") or {}
        fixed = []
        for key, token_key in SPECIAL_TOKENS.items():
            token = tokenizer_config.get(token_key) or DEFAULT_SPECIAL_TOKENS[token_key]
            token = token.get("content") if isinstance(token, dict) else token
            if key in config_dict and token in ids and config_dict[key] != ids[token]:
                fixed.append(f"{key}={config_dict[key]} but the tokenizer's {token} is {ids[token]}")
                config_dict[key] = ids[token]
        if fixed:
            warnings.warn(f"{self.name}: config.json says {'; '.join(fixed)}; using the tokenizer's ids", stacklevel=5)
        return config_dict

    @contextmanager
    def naming_damaged_files(self) -> Iterator[None]:
        """Turn an error of transformers' reading of a damaged weights file into a `CheckpointError` naming it."""
        try:
            yield
        except (CheckpointError, OSError):
            raise
        except Exception as error:  # transformers reads the weights in several places; name a damaged file
            for filename in WEIGHTS_FILES:
                local = {**self.download, "local_files_only": True}
                path = self.files.get(filename) or fetch(self.path, filename, local)
                if path is not None:
                    check_readable(path, cause=error)
            raise


def read_json(path: str | None, what: str) -> dict | None:
    """The JSON file at `path` parsed (None for None); `CheckpointError` naming `what` if it is not valid JSON."""
    if path is None:
        return None
    try:
        with open(path) as file:
            return json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{what} is not valid JSON: {error}") from error


# ------------------------------------------------------------- hooks of the shared bases (models/*_utils.py)


def weight_conversions(model: PreTrainedModel, checkpoint_files: list[str] | None, load_config):
    """`load_config` with the transforms that map the original layout being loaded (the `Checkpoint` the config
    was read from), if any, onto ours; checks first that every weights file is there. The tensor names
    the layout does not know are collected in `model.unknown_original_tensors` for `check_loading`."""
    for path in checkpoint_files or []:
        if not os.path.isfile(path):  # read only by transformers: a damaged file is named when that fails
            raise CheckpointError(f"missing weights file {path} (a shard listed in the index?)")
    checkpoint = getattr(model.config, "checkpoint", None)
    layout = checkpoint.layout if isinstance(checkpoint, Checkpoint) else None
    if layout is None or layout.model_type != model.config.model_type:
        return load_config
    model.unknown_original_tensors = set()
    conversions = layout.weight_conversions(model.config, model.unknown_original_tensors)
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
    checkpoint = getattr(model.config, "checkpoint", None)
    layout = checkpoint.layout if isinstance(checkpoint, Checkpoint) else None
    unknown = vars(model).pop("unknown_original_tensors", None)
    problems = []
    shapes_differ = bool(loading_info.mismatched_keys) and not ignore_mismatched_sizes
    if shapes_differ:
        shapes = [
            f"{key}: checkpoint {tuple(found)} vs model {tuple(wanted)}"
            for key, found, wanted in sorted(loading_info.mismatched_keys)
        ]
        problems.append("the config does not match the weights' shapes: " + "; ".join(shapes))
    if unknown is not None:
        unused = {key for key in loading_info.unexpected_keys if layout.unused(key, model.config)}
        loading_info.unexpected_keys -= unused
        if unknown:
            problems.append(f"tensors the {layout.name} layout does not have: {', '.join(sorted(unknown))}")
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
