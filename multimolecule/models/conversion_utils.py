"""What every checkpoint converter shares: its report, its command line, reading original weights, checking them
and writing the result atomically.

A model package's `convert_checkpoint.py` provides `convert_checkpoint(src, dst) -> ConversionReport` and
`detect(path) -> bool`; its `python -m` entry point is `converter_main` (see `docs/adding-a-model.md`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..utils import atomic_output, read_json_if_present  # noqa: F401  (read_json_if_present: for the converters)
from ..utils.errors import ConversionError


@dataclass
class ConversionReport:
    """What a `convert_checkpoint` did: where it wrote, which model and layout it read, which tensors it dropped.

    Example:
        >>> print(ConversionReport(Path("out"), "nucleotide_transformer", "jax"))
        converted the nucleotide_transformer jax checkpoint -> out
        unused tensors dropped: none
    """

    output_path: Path
    model_type: str
    layout: str
    dropped: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        dropped = ", ".join(self.dropped) or "none"
        return (
            f"converted the {self.model_type} {self.layout} checkpoint -> {self.output_path}\n"
            f"unused tensors dropped: {dropped}"
        )


def converter_main(convert: Callable[[str, str], ConversionReport], argv: list[str] | None = None) -> None:
    """The `python -m multimolecule.models.<model_type>.convert_checkpoint` command line of every converter,
    calling its `convert(checkpoint_path, output_path)`; the help text is the first line of its module docstring.

    Prints the `ConversionReport`; a `ConversionError` exits with status 1 and a one-line message.
    """
    module = sys.modules[convert.__module__]
    name = module.__spec__.name if module.__spec__ is not None else module.__name__  # the real name under `-m`
    parser = argparse.ArgumentParser(
        prog=f"python -m {name}", description=(module.__doc__ or "").strip().split("\n")[0]
    )
    parser.add_argument("--checkpoint-path", required=True, help="directory of the original checkpoint")
    parser.add_argument("--output-path", required=True, help="directory to write the converted model to")
    args = parser.parse_args(argv)
    try:
        report = convert(args.checkpoint_path, args.output_path)
    except ConversionError as error:
        parser.exit(1, f"error: {error}\n")
    print(report)


def read_json(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"missing file: {path}")
    try:
        with open(path) as file:
            return json.load(file)
    except json.JSONDecodeError as error:
        raise ConversionError(f"{path} is not valid JSON: {error}") from error


def load_state_dict(directory: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read `model.safetensors` (preferred) or `pytorch_model.bin` from `directory`, on the CPU.

    Raises `ConversionError` if neither exists or the file cannot be read (truncated or corrupt).
    """
    directory = Path(directory)
    safetensors_path, torch_path = directory / "model.safetensors", directory / "pytorch_model.bin"
    try:
        if safetensors_path.is_file():
            from safetensors.torch import load_file

            return load_file(safetensors_path)
        if torch_path.is_file():
            return torch.load(torch_path, map_location="cpu", weights_only=True)
    except Exception as error:  # safetensors and torch raise many types for a damaged file
        path = safetensors_path if safetensors_path.is_file() else torch_path
        raise ConversionError(f"cannot read {path} (truncated or corrupt?): {error}") from error
    raise ConversionError(f"no weights in {directory}: expected model.safetensors or pytorch_model.bin")


# What a joblib file of numpy arrays in dicts may name: the array wrapper joblib writes, numpy's arrays, dtypes and
# scalars. Anything else (a function such as `os.system`, any class) is refused before it is looked up.
JOBLIB_GLOBALS = {
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("collections", "OrderedDict"),
}


class RefusedPickle(Exception):
    """A pickle that names something outside `JOBLIB_GLOBALS`: it could run code, so it is not read."""


def restricted_joblib_load(path: Path):
    """`joblib.load(path)` that runs no code: the unpickler resolves only `JOBLIB_GLOBALS` (and numpy's dtype
    classes) and refuses arrays of Python objects (joblib would read those with an unrestricted pickle), the
    pre-0.10 joblib format (companion files read with plain pickle) included. Raises `RefusedPickle`."""
    import pickle

    from joblib import numpy_pickle

    class RestrictedUnpickler(numpy_pickle.NumpyUnpickler):
        dispatch = numpy_pickle.NumpyUnpickler.dispatch.copy()

        def find_class(self, module, name):
            if (module, name) not in JOBLIB_GLOBALS and module != "numpy.dtypes":
                raise RefusedPickle(f"{module}.{name}")
            return super().find_class(module, name)

        def load_build(self):
            wrapper, state = self.stack[-2], self.stack[-1]
            if isinstance(wrapper, numpy_pickle.NumpyArrayWrapper):
                dtype = state.get("dtype") if isinstance(state, dict) else None
                if not isinstance(dtype, np.dtype) or dtype.hasobject:
                    raise RefusedPickle("an array of Python objects")
            numpy_pickle.NumpyUnpickler.load_build(self)

        dispatch[pickle.BUILD[0]] = load_build

    with open(path, "rb") as handle, numpy_pickle._validate_fileobject_and_memmap(handle, str(path), None) as opened:
        stream = opened[0]
        if isinstance(stream, str):  # joblib < 0.10: arrays in companion files, read with plain pickle
            raise RefusedPickle("the joblib format before 0.10")
        return RestrictedUnpickler(str(path), stream, ensure_native_byte_order=True).load()


def load_haiku_joblib(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a Haiku parameter tree saved with joblib (`{module: {param: array}}`) as `{"module/param": tensor}`.

    `joblib` is an optional dependency, imported only here. The file is a pickle, read by an unpickler that runs no
    code (`restricted_joblib_load`: numpy arrays in dicts only). Raises `ConversionError` if the file is missing,
    unreadable (truncated or corrupt), holds anything but arrays, or is not a parameter tree.
    """
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"missing file: {path}")
    try:
        import joblib  # noqa: F401  (restricted_joblib_load reads with joblib's unpickler)
    except ImportError as error:
        raise ConversionError("reading JAX checkpoints needs joblib: pip install joblib") from error
    try:
        tree = restricted_joblib_load(path)
    except RefusedPickle as error:
        raise ConversionError(
            f"refused {path}: it names {error}, which could run code when unpickled (a parameter tree holds only "
            "numpy arrays in dicts); nothing of it was run"
        ) from error
    except Exception as error:  # joblib and pickle raise many types for a damaged file
        raise ConversionError(f"cannot read {path} (truncated or corrupt?): {error}") from error
    if not isinstance(tree, dict) or not all(isinstance(params, dict) for params in tree.values()):
        raise ConversionError(f"{path} is not a Haiku parameter tree ({{module: {{param: array}}}})")
    return {
        f"{module}/{name}": torch.from_numpy(np.array(array))
        for module, params in tree.items()
        for name, array in params.items()
    }


def rename(name: str, renames: list[tuple[str, str]]) -> str | None:
    """`name` rewritten by the first `(pattern, replacement)` whose pattern matches at its start; None if none does.

    Example:
        >>> renames = [(r"bert\\.encoder\\.layer\\.(\\d+)\\.mlp\\.wo\\.", r"layer.\\1.output.dense.")]
        >>> rename("bert.encoder.layer.3.mlp.wo.bias", renames)
        'layer.3.output.dense.bias'
    """
    for pattern, replacement in renames:
        new_name, count = re.subn(f"^(?:{pattern})", replacement, name, count=1)
        if count:
            return new_name
    return None


def require_known(unknown: list[str], what: str = "checkpoint tensors") -> None:
    """Fail with the names of whatever a converter could not map."""
    if unknown:
        raise ConversionError(f"{what} this converter does not know: " + ", ".join(sorted(unknown)))


def drop_tied(state_dict: dict[str, torch.Tensor], tied: str, source: str) -> None:
    """Remove `tied` from `state_dict`: the model shares it with `source`, so the two must be equal."""
    tensor = state_dict.pop(tied, None)
    if tensor is not None and source in state_dict and not torch.equal(tensor, state_dict[source]):
        raise ConversionError(f"{tied} differs from {source}, but the model ties them")


def load_converted(model: nn.Module, state_dict: dict[str, torch.Tensor], tied: tuple[str, ...] = ()) -> None:
    """Load `state_dict` into `model`, requiring that every tensor is used and every model tensor is filled.

    `tied` names model tensors that share storage with another one and may therefore be absent.
    """
    expected = dict(model.state_dict())
    unexpected = sorted(set(state_dict) - set(expected))
    missing = sorted(set(expected) - set(state_dict) - set(tied))
    mismatched = sorted(
        f"{name}: checkpoint {tuple(tensor.shape)} vs model {tuple(expected[name].shape)}"
        for name, tensor in state_dict.items()
        if name in expected and tuple(tensor.shape) != tuple(expected[name].shape)
    )
    problems = []
    if unexpected:
        problems.append("unused checkpoint tensors: " + ", ".join(unexpected))
    if missing:
        problems.append("model tensors left unfilled: " + ", ".join(missing))
    if mismatched:
        problems.append("shape mismatches: " + "; ".join(mismatched))
    if problems:
        raise ConversionError("conversion is incomplete:\n  " + "\n  ".join(problems))
    model.load_state_dict(state_dict, strict=False)


def save_converted(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    state_dict: dict[str, torch.Tensor],
    output_path: str | os.PathLike,
    title: str,
    source: str,
    usage: str,
) -> None:
    """Fill `model` with the converted `state_dict` and write it, the tokenizer and a model card to `output_path`.

    Checks that the vocabulary and the config agree; when the config ties the masked-LM decoder to the word
    embeddings, the checkpoint's decoder must equal them. Written atomically: a failure leaves no output.
    """
    config = model.config
    if len(tokenizer) != config.vocab_size:
        raise ConversionError(f"the vocabulary has {len(tokenizer)} tokens but the config says {config.vocab_size}")
    tied = ()
    if config.tie_word_embeddings:
        tied = ("lm_head.decoder.weight",)
        drop_tied(state_dict, "lm_head.decoder.weight", "model.embeddings.word_embeddings.weight")
    load_converted(model, state_dict, tied=tied)
    with atomic_directory(output_path) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        write_model_card(staging, title, source, usage)


@contextmanager
def atomic_directory(output_path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside `output_path` that replaces it only if the block succeeds.

    A failed or interrupted (Ctrl-C, SIGTERM) conversion never leaves a half-written output; see `atomic_output`.
    Callers decide beforehand whether an existing output may be replaced (`multimolecule.api.convert` does).
    """
    with atomic_output(output_path, overwrite=True, directory=True) as staging:
        yield staging


def write_model_card(output_path: str | os.PathLike, title: str, source: str, body: str) -> None:
    """A short `README.md` saying what the directory holds and how to load it."""
    text = f"""---
library_name: multimolecule
pipeline_tag: fill-mask
mask_token: "<mask>"
---

# {title}

Converted with `multimolecule` from `{source}`. The weights reproduce the original implementation's outputs.

{body}
"""
    Path(output_path, "README.md").write_text(text)
