"""The one loader of the commands and the API, and what they read from a loaded model and its tokenizer.

`load_model(model, device, dtype, task)`: the name resolved and checked (`resolve_name(..., check=True)`), the
tokenizer and the model for `task` loaded (`from_pretrained`, any family, our layout or an original one), moved
to `device`, in eval mode; anything that cannot load is an `InputError` with one line naming the model, and so
is a checkpoint without a masked-LM head (DNABERT-S, a fine-tuned model) for the tasks that need one.
`species_condition(config, species)`: what conditions a forward pass on a species (a post-trained NTv3).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging

from ..modules import load_report
from ..utils import CheckpointError, InputError, OptionError, check_device, resolve_dtype
from .loading_utils import Checkpoint, resolve_name
from .registry import MODELS, from_pretrained, package_of, tokenizer_from_pretrained

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json")
# The tasks that use the masked-language-model head: a checkpoint without one is refused for them, not given a
# random head.
MASKED_LM_TASKS = ("fill-mask", "pretraining")


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers' warnings and progress bars off inside the block, and our one-line note of the expected
    differences (`modules.load_report`: a masked-LM head dropped, a new head's weights missing, as expected), as
    they were after it."""
    verbosity, progress_bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    report_level = load_report.logger.level
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    load_report.logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        load_report.logger.setLevel(report_level)
        if progress_bars:
            logging.enable_progress_bar()


def load_model(
    model: str | os.PathLike | None = None,
    device: str | None = "cpu",
    dtype: str | torch.dtype | None = None,
    task: str = "fill-mask",
    **kwargs,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """(model in eval mode, tokenizer) of `model` (a demo name, a directory or a Hub id; None: the default demo)
    for `task` (`"fill-mask"`, `"feature-extraction"`, `"sequence-prediction"`, ...: see `from_pretrained`).

    `device` None leaves the model where it loads (the CPU); `"auto"` picks the first accelerator. Other keyword
    arguments go to `from_pretrained` (`num_labels`, `problem_type`, ...). The encoder of `"feature-extraction"`
    is built without a pooler (`add_pooling_layer=False`): what uses it reads the hidden states, and DNABERT-2's
    pooler would be random (its checkpoints have none).

    Example:
        >>> network, tokenizer = load_model("nt-demo", task="feature-extraction")
        >>> type(network).__name__, network.training
        ('NucleotideTransformerModel', False)
    """
    path = resolve_name(model, check=True)
    target = check_device("device", device) if device is not None else None
    torch_dtype = resolve_dtype(dtype)
    if Path(path).is_dir() and not any((Path(path) / name).is_file() for name in TOKENIZER_FILES):
        raise InputError(f"no tokenizer in {path}: expected {' or '.join(TOKENIZER_FILES)}")
    masked_lm = task in MASKED_LM_TASKS
    try:
        checkpoint = Checkpoint.resolve(path)  # once, for the tokenizer and the model
        encoder = package_of(checkpoint).model
        if task == "feature-extraction" and "add_pooling_layer" in inspect.signature(encoder.__init__).parameters:
            kwargs.setdefault("add_pooling_layer", False)  # the engines read the hidden states: no (random) pooler
        with quiet_transformers():
            tokenizer = tokenizer_from_pretrained(checkpoint)
            network = from_pretrained(checkpoint, task=task, dtype=torch_dtype, output_loading_info=masked_lm, **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError, CheckpointError) as error:
        raise InputError(f"cannot load model {model or path}: {error}") from error
    if masked_lm:
        network, loading_info = network
        if any(key.startswith("lm_head.") for key in loading_info["missing_keys"]):
            raise InputError(
                f"{model or path} has no masked-language-model head: it cannot predict masked tokens (fill-mask, the "
                f"llr and pll scores, pretrain --model); embed with it, or train a prediction head on it"
            )
    return (network.to(target) if target is not None else network).eval(), tokenizer


def silence_transformers() -> None:
    """transformers' warnings and progress bars off for the rest of the process: the output of the inference
    commands is theirs alone (a long sequence's "longer than the maximum" warning is expected: it is windowed)."""
    logging.set_verbosity_error()
    logging.disable_progress_bar()


@lru_cache(maxsize=4)
def cached_model(model: str | None, device: str | None, dtype: str | None, task: str):
    """`load_model` for inference (transformers silenced, `silence_transformers`), remembered for the last four
    arguments, so that repeated `fill_mask` or `embed` calls are free (never for training, which changes the
    model)."""
    silence_transformers()
    return load_model(model, device, dtype, task)


def trained_window(tokenizer: PreTrainedTokenizerBase, config) -> int:
    """Tokens per window, `<cls>` and `<eos>` included: the tokenizer's `model_max_length` (the trained length)
    if set, else the family's declared `trained_length`, else `config.max_position_embeddings`, else 512."""
    if 4 <= tokenizer.model_max_length < 1_000_000:
        return int(tokenizer.model_max_length)
    package = MODELS.get(getattr(config, "model_type", None))
    if package is not None and package.trained_length is not None:
        return package.trained_length
    return int(getattr(config, "max_position_embeddings", None) or 512)


def special_template(tokenizer: PreTrainedTokenizerBase) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a sequence: `([<cls>], [<eos>])` for DNABERT-2, `([<cls>], [])`
    for the Nucleotide Transformer."""
    full = tokenizer("A")["input_ids"]
    bare = tokenizer("A", add_special_tokens=False)["input_ids"]
    start = next(i for i in range(len(full)) if full[i : i + len(bare)] == bare)
    return full[:start], full[start + len(bare) :]


def token_lengths(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> torch.Tensor:
    """Bases per token id, (vocab_size,): the model's `config.token_lengths` if set, else the tokenizer's."""
    lengths = getattr(model.config, "token_lengths", None) or tokenizer.token_lengths
    return torch.tensor(lengths, dtype=torch.long)


def species_condition(config, species: str | None) -> dict[str, int]:
    """The keyword arguments that condition a forward pass on `species`: `{"species_ids": id}` for a model
    conditioned on a species (a post-trained NTv3, whose `config.species` names them), `{}` for any other model
    given none. One line when a conditioned model gets no species or an unknown one (naming its species), or
    another model gets one.

    Example:
        >>> from multimolecule import NucleotideTransformerV3Config
        >>> species_condition(NucleotideTransformerV3Config(species=["human", "mouse"]), "mouse")
        {'species_ids': 7}
        >>> species_condition(NucleotideTransformerV3Config(), None)
        {}
    """
    names = list(getattr(config, "species", None) or [])
    if species is None:
        if names:
            message = f"species must be given: this model is conditioned on one of {', '.join(names)}"
            raise OptionError(message, "species")
        return {}
    if not names:
        raise OptionError("species is only for a model conditioned on a species (a post-trained NTv3)", "species")
    if species not in names:
        raise InputError(f"unknown species {species!r}; the model knows {', '.join(names)}")
    return {"species_ids": config.species_id(species)}
