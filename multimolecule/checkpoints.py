"""The engine behind `multimolecule convert` and `info`: original checkpoints converted, checkpoints described.

`info` reads `config.json`, `tokenizer_config.json` and the safetensors headers; it never loads the weights.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path

import torch

from .models import MODELS, detect_model_type, fetch, get_model, resolve_name
from .models.conversion_utils import ConversionReport
from .utils import InputError, check_apart, check_choice, check_overwrite, read_json_if_present


def detect_model(checkpoint: str | os.PathLike) -> str:
    """The `model_type` of the original checkpoint in directory `checkpoint`: the first registered model whose
    converter recognises it (`detect`), e.g. `"dnabert2"` or `"nucleotide_transformer"`.

    Example:
        >>> detect_model("../shared/fixtures/dnabert2/tiny_a")  # doctest: +SKIP
        'dnabert2'
    """
    checkpoint = Path(checkpoint)
    if not checkpoint.is_dir():
        raise InputError(f"checkpoint directory not found: {checkpoint}")
    model_type = read_json_if_present(checkpoint / "config.json").get("model_type")
    if model_type in MODELS:
        raise InputError(f"{checkpoint} is already a multimolecule checkpoint ({model_type})")
    detected = detect_model_type(checkpoint)
    if detected is None:
        raise InputError(f"cannot tell which model {checkpoint} holds; pass model= one of {', '.join(MODELS)}")
    return detected


def convert(
    checkpoint: str | os.PathLike, output: str | os.PathLike, model: str | None = None, overwrite: bool = False
) -> ConversionReport:
    """Convert an original checkpoint directory into a multimolecule one with the model's own converter.

    `model` is a registered `model_type` (`"dnabert2"`, `"nucleotide_transformer"`) or its folder (`"ntv3"`);
    detected from the files when omitted (`detect_model`). The output directory is written atomically; an existing
    one is replaced only with `overwrite=True`. Returns the converter's `ConversionReport` (`output_path`,
    `layout`, `dropped` tensors).

    Example:
        >>> from multimolecule.api import convert
        >>> convert("../shared/fixtures/dnabert2/tiny_a", "converted/dnabert2-tiny").output_path  # doctest: +SKIP
        PosixPath('converted/dnabert2-tiny')
    """
    if not Path(checkpoint).is_dir():
        raise InputError(f"checkpoint directory not found: {checkpoint}")
    check_apart(output, [checkpoint], kind="checkpoint")
    check_choice("model", model, [*MODELS, *(package.folder for package in MODELS.values())])
    model = model or detect_model(checkpoint)
    check_overwrite(output, overwrite)
    return get_model(model).convert(checkpoint, output)


# ----------------------------------------------------------------------------------------------------- info


def info(model: str | None = None) -> dict:
    """What a checkpoint is: model type, parameters, vocabulary, trained length, layers and widths.

    Works without loading the weights (shapes come from the `safetensors` header). For an original,
    unconverted DNABERT-2 or Nucleotide Transformer directory it says so and names the converter.

    Example:
        >>> from multimolecule.api import info
        >>> details = info("dnabert2-demo")
        >>> details["model_type"], details["num_hidden_layers"], details["hidden_size"]
        ('dnabert2', 4, 128)
    """
    path = Path(local_directory(resolve_name(model, check=True)))
    config = read_json_if_present(path / "config.json")
    if not config:
        raise InputError(f"{path}/config.json is missing or not valid JSON")
    tokenizer_config = read_json_if_present(path / "tokenizer_config.json")
    details: dict = {"path": str(path), "model_type": config.get("model_type")}
    original = config.get("model_type") not in MODELS
    if original:
        try:
            details["model_type"] = detect_model(path)
            details["format"] = "original checkpoint: loads as it is; `multimolecule convert` writes a clean copy"
        except InputError:
            details["format"] = "not a multimolecule checkpoint"
    else:
        details["format"] = "multimolecule"
    details["architecture"] = ", ".join(config.get("architectures") or []) or None
    details["parameters"] = count_parameters(path)
    details["vocab_size"] = config.get("vocab_size")
    length = tokenizer_config.get("model_max_length")
    details["trained_length"] = (
        length if isinstance(length, int) and length < 1_000_000 else config.get("max_position_embeddings")
    )
    details["position_embedding"] = None if original else config.get("position_embedding_type")
    for key in ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size"):
        details[key] = config.get(key)
    details["dtype"] = config.get("dtype") or config.get("torch_dtype")
    training = read_json_if_present(path / "training.json").get("metrics")
    if training:
        details["held_out_accuracy"] = round(training["accuracy"], 4)
        details["baseline_accuracy"] = round(training["baseline_accuracy"], 4)
    return details


def local_directory(model: str) -> str:
    """`model` if it is a directory; for a Hub id, the local snapshot holding its `config.json` and tokenizer
    files (fetched as transformers fetches them: cache, `HF_HUB_OFFLINE`), where the weights are read only if
    they are already there."""
    if Path(model).is_dir():
        return model
    try:
        config_path = fetch(model, "config.json", {})
    except OSError as error:
        raise InputError(f"cannot fetch {model}: {error}") from error
    if config_path is None:
        raise InputError(f"model not found: {model} (no config.json in the cache or on the Hub)")
    for filename in ("tokenizer_config.json", "tokenizer.json", "vocab.txt"):
        fetch(model, filename, {})
    return str(Path(config_path).parent)


def count_parameters(path: Path) -> int | None:
    """Number of stored parameters (shared tensors once) of the weights `from_pretrained` loads: from the header of
    `model.safetensors` or of the shards its `model.safetensors.index.json` lists, else `pytorch_model.bin`."""
    index = read_json_if_present(path / "model.safetensors.index.json").get("weight_map")
    safetensors = sorted({path / name for name in index.values()}) if index else [path / "model.safetensors"]
    if all(file.is_file() for file in safetensors):
        return sum(safetensors_parameters(file) for file in safetensors)
    if (path / "pytorch_model.bin").is_file():
        weights = path / "pytorch_model.bin"  # mmap only for the zip format: a legacy file is read whole
        state = torch.load(weights, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(weights))
        return sum(t.numel() for t in {t.data_ptr(): t for t in state.values()}.values())
    return None


def safetensors_parameters(file: Path) -> int:
    """Parameters in a safetensors file, from its header; `InputError` naming the file if it is damaged."""
    with open(file, "rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        try:
            if size > os.path.getsize(file) - 8:
                raise ValueError(f"its header says {size:,} bytes")
            tensors = [entry for key, entry in json.loads(handle.read(size)).items() if key != "__metadata__"]
            stored = max((entry["data_offsets"][1] for entry in tensors), default=0)
            if 8 + size + stored > os.path.getsize(file):
                raise ValueError(f"{8 + size + stored:,} bytes expected, {os.path.getsize(file):,} present")
            return sum(math.prod(entry["shape"]) for entry in tensors)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InputError(f"{file} is not a readable safetensors file (truncated or damaged: {error})") from error
