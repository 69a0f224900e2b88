"""The Python API behind the `multimolecule` command line: one function per command.

- `fill_mask(sequences, ...)`: top-k predictions for each `<mask>`, plus the probability of each first base.
- `embed(inputs, output=None, ...)`: per-sequence (and per-base) embeddings, windowed for long sequences.
- `convert(checkpoint, output, ...)`: an original DNABERT-2 / Nucleotide Transformer checkpoint -> ours.
- `info(model)`: what a checkpoint is.

`model` is a directory, a Hugging Face Hub id, or a bundled demo (`"dnabert2-demo"`, the default, or
`"nt-demo"`), in the multimolecule layout or as the original authors published it (`zhihan1996/DNABERT-2-117M`,
`InstaDeepAI/nucleotide-transformer-v2-100m-multi-species`, or their downloaded directories): originals load
as they are, through `multimolecule.from_pretrained`. Bad input raises `InputError` (or `ConversionError`) with a
one-line message.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import torch

from .batching import map_batches
from .demo import DEFAULT_MODEL, DEMO_MODELS, demo_model_path
from .models.conversion_utils import ConversionReport
from .models.registry import MODELS, detect_model_type
from .seqio import (  # noqa: F401  (InputError, read_sequences, revcomp and Embeddings are part of the API)
    DNA,
    MASK,
    Embeddings,
    InputError,
    Inputs,
    as_records,
    check_choice,
    check_device,
    check_dtype,
    check_output,
    check_overwrite,
    check_positive,
    raise_on_sigterm,
    read_sequences,
    revcomp,
)

# Token budget of a forward pass (padding included) when not given: (CPU and other devices, CUDA).
DEFAULT_MAX_TOKENS = (1024, 32768)

# ----------------------------------------------------------------------------------------------------- models


def resolve_model(model: str | os.PathLike | None) -> str:
    """A demo alias, a directory or a Hub id -> what `from_pretrained` should load.

    Example:
        >>> resolve_model(None).endswith("dnabert2")
        True
    """
    model = DEFAULT_MODEL if model is None else str(model)
    if model in DEMO_MODELS:
        path = demo_model_path(model)
        if not (path / "config.json").is_file():
            raise InputError(f"the {model} model is not bundled with this installation ({path} is missing)")
        return str(path)
    path = Path(model).expanduser()
    check_local_path(model)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError(f"not a model directory (no config.json): {model}")
        return str(path)
    if path.exists() or not re.fullmatch(r"[\w.-]+/[\w.-]+", model):
        raise InputError(f"model not found: {model} (not a directory; demos: {', '.join(DEMO_MODELS)})")
    check_hub_model(model)
    return model  # a Hub id


def check_hub_model(model: str) -> None:
    """Fail at once, naming it, for a Hub id that is neither in the local Hub cache nor on a reachable Hub.

    transformers retries an unreachable Hub for half a minute per file; one quick question to the Hub (no
    retries) tells a mistyped local path such as `converted/dnabert2` from a model to download. With
    `HF_HUB_OFFLINE` set nothing is asked: the cache alone answers, as in transformers.
    """
    from huggingface_hub import HfApi, constants, try_to_load_from_cache
    from huggingface_hub.errors import HfHubHTTPError

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
        multimolecule.seqio.InputError: model not found: ./converted/dnabert2 (no such directory in ...)
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


def resolve_device(device: str | None) -> torch.device:
    """`auto`/None: the first accelerator present, else the CPU; otherwise the device, checked to be present."""
    return check_device("device", device)


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    """A dtype name or alias (`float16`, `fp16`, `bf16`...) or a `torch.dtype`; None means float32."""
    return getattr(torch, check_dtype("dtype", str(dtype) if dtype is not None else "float32"))


@lru_cache(maxsize=4)
def load_model(model: str | None = None, device: str | None = "cpu", dtype: str | None = None, task: str = "fill-mask"):
    """(model in eval mode, tokenizer) for `model`, in our layout or an original one: with its masked-LM head
    for `task="fill-mask"`, the encoder alone (`AutoModel`'s class) for `"feature-extraction"`; cached, so
    repeated calls are free."""
    from transformers.utils import logging

    from .models import from_pretrained, tokenizer_from_pretrained

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    target = resolve_device(device)
    path = resolve_model(model)
    if Path(path).is_dir() and not any((Path(path) / name).is_file() for name in TOKENIZER_FILES):
        raise InputError(f"no tokenizer in {path}: expected {' or '.join(TOKENIZER_FILES)}")
    try:
        tokenizer = tokenizer_from_pretrained(path)
        network = from_pretrained(path, task=task, dtype=resolve_dtype(dtype))
    except (OSError, ValueError, KeyError) as error:
        raise InputError(f"cannot load model {model or DEFAULT_MODEL}: {error}") from error
    return network.to(target).eval(), tokenizer


TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")


def trained_window(tokenizer, config) -> int:
    """Tokens per window, `<cls>` and `<eos>` included: the tokenizer's `model_max_length` (the trained length)
    if set, else `config.max_position_embeddings`, else 512."""
    if 4 <= tokenizer.model_max_length < 1_000_000:
        return int(tokenizer.model_max_length)
    return int(getattr(config, "max_position_embeddings", None) or 512)


def dna_token_ids(tokenizer) -> tuple[list[int], list[str]]:
    """Ids and texts of the vocabulary tokens made of A/C/G/T only, ordered by id."""
    tokens = sorted((i, t) for t, i in tokenizer.get_vocab().items() if t and set(t) <= set(DNA))
    return [i for i, _ in tokens], [t for _, t in tokens]


def special_template(tokenizer) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a sequence: `([<cls>], [<eos>])` for DNABERT-2, `([<cls>], [])`
    for the Nucleotide Transformer."""
    full = tokenizer("A")["input_ids"]
    bare = tokenizer("A", add_special_tokens=False)["input_ids"]
    start = next(i for i in range(len(full)) if full[i : i + len(bare)] == bare)
    return full[:start], full[start + len(bare) :]


def token_lengths(model, tokenizer) -> torch.Tensor:
    lengths = getattr(model.config, "token_lengths", None) or tokenizer.token_lengths
    return torch.tensor(lengths, dtype=torch.long)


# ------------------------------------------------------------------------------------------------ fill-mask


@torch.no_grad()
def fill_mask(
    sequences: str | Sequence[str] | Mapping[str, str],
    model: str | None = None,
    top_k: int = 5,
    device: str | None = "cpu",
    dtype: str | None = None,
) -> list[list[dict]]:
    """Predict the token at each `<mask>` of each sequence.

    A `<mask>` stands for one token: a BPE token for DNABERT-2 (1 to ~16 bases), a 6-mer (or single base) for
    the Nucleotide Transformer, so a filled sequence can be longer than the masked one. Scores are probabilities
    among the DNA tokens of the vocabulary (special tokens excluded). `base_probabilities` is the probability of
    the first base of the masked span: the sum over the tokens starting with each base, so the four sum to 1.
    Other masks of the same sequence are filled with their own best token. Sequences longer than the model's
    trained length are cut to a window centred on each mask.

    `sequences` is one sequence, a list of them (called `seq1`, `seq2`...) or an {id: sequence} mapping.
    Returns, per sequence, per mask (left to right), a dict with `id`, `sequence` (the input), `mask` (its
    index), `context` (up to `CONTEXT` bases either side of the `<mask>`), `base_probabilities` ({"A": p, "C": p,
    "G": p, "T": p}) and `predictions` (`top_k` dicts: `token`, `score`, `sequence` — the input with this mask
    filled, as plain DNA — and `context`, the same stretch as the mask's with the token in place).

    Example:
        >>> from multimolecule.api import fill_mask
        >>> result = fill_mask("ATGAAACGCATTAGCACCACCATTACC<mask>CATCACCATTACCACAGGTAACGG", top_k=3)
        >>> [len(masks) for masks in result], len(result[0][0]["predictions"])
        ([1], 3)
        >>> round(sum(result[0][0]["base_probabilities"].values()), 4)
        1.0
    """
    check_positive("top_k", top_k)
    records = as_records([sequences] if isinstance(sequences, str) else sequences, allow_mask=True)
    for name, sequence in records.items():
        if MASK not in sequence:
            raise InputError(f"sequence {name!r} has no {MASK}")
    network, tokenizer = load_model(model, device, dtype)
    prefix, suffix = special_template(tokenizer)
    body = trained_window(tokenizer, network.config) - len(prefix) - len(suffix)
    candidate_ids, candidate_tokens = dna_token_ids(tokenizer)
    candidate_index = torch.tensor(candidate_ids)
    first_base = torch.tensor([DNA.index(token[0]) for token in candidate_tokens])
    top_k = min(top_k, len(candidate_ids))

    # one item per mask: a window of tokens around it
    items, windows = [], []
    for number, sequence in enumerate(records.values()):
        ids = tokenizer(sequence, add_special_tokens=False)["input_ids"]
        positions = [i for i, token in enumerate(ids) if token == tokenizer.mask_token_id]
        for mask, position in enumerate(positions):
            start = min(max(0, position - body // 2), max(0, len(ids) - body))
            windows.append([*prefix, *ids[start : start + body], *suffix])
            items.append((number, mask, position - start + len(prefix)))

    def mask_probabilities(batch: list[tuple[list[int], int]]) -> list[torch.Tensor]:
        input_ids, attention_mask = pad([window for window, _ in batch], tokenizer.pad_token_id)
        logits = network(input_ids=input_ids.to(network.device), attention_mask=attention_mask.to(network.device))
        where = torch.tensor([position for _, position in batch])
        return list(logits.logits.float().cpu()[torch.arange(len(batch)), where][:, candidate_index].softmax(-1))

    jobs = [(window, position) for window, (_, _, position) in zip(windows, items)]
    budget = DEFAULT_MAX_TOKENS[network.device.type == "cuda"]
    probabilities = map_batches(mask_probabilities, jobs, [len(window) for window in windows], budget)

    best = {(number, mask): candidate_tokens[int(p.argmax())] for (number, mask, _), p in zip(items, probabilities)}
    results: list[list[dict]] = [[] for _ in records]
    names, texts = list(records), list(records.values())
    for (number, mask, _), p in zip(items, probabilities):
        parts = texts[number].split(MASK)
        base = torch.zeros(4).index_add_(0, first_base, p)
        predictions = []
        for score, index in zip(*p.topk(top_k)):
            token = candidate_tokens[int(index)]
            fills = [token if other == mask else best[number, other] for other in range(len(parts) - 1)]
            before = "".join(part + fill for part, fill in zip(parts[:mask], fills)) + parts[mask]
            after = "".join(fill + part for fill, part in zip(fills[mask + 1 :], parts[mask + 2 :]))
            after = parts[mask + 1] + after
            predictions.append(
                {
                    "token": token,
                    "score": float(score),
                    "sequence": before + token + after,
                    "context": context(before, token, after),
                }
            )
        results[number].append(
            {
                "id": names[number],
                "sequence": texts[number],
                "mask": mask,
                "context": context(parts[mask], MASK, parts[mask + 1]),
                "base_probabilities": {b: float(base[i]) for i, b in enumerate(DNA)},
                "predictions": predictions,
            }
        )
    return results


CONTEXT = 30  # bases shown either side of a mask


def context(before: str, middle: str, after: str) -> str:
    """`middle` with up to `CONTEXT` characters of `before` and `after`; `...` marks what was cut.

    Example:
        >>> context("A" * 40, "<mask>", "CG")
        '...AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA<mask>CG'
    """
    left = before[-CONTEXT:] if len(before) <= CONTEXT else "..." + before[-CONTEXT:]
    right = after[:CONTEXT] if len(after) <= CONTEXT else after[:CONTEXT] + "..."
    return left + middle + right


def pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad lists of ids: (input_ids, attention_mask), both (len(rows), longest)."""
    longest = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        attention_mask[i, : len(row)] = 1
    return input_ids, attention_mask


# ---------------------------------------------------------------------------------------------------- embed


@torch.no_grad()
def embed(
    inputs: Inputs,
    output: str | os.PathLike | None = None,
    model: str | None = None,
    pooling: str = "mean",
    per_base: bool = False,
    reverse_complement: bool = False,
    batch_size: int | None = None,
    device: str | None = "cpu",
    dtype: str | None = None,
    progress: bool = False,
    max_tokens: int | None = None,
    window: int | None = None,
    stride: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> Embeddings:
    """Embed DNA sequences with the last hidden layer of `model`.

    Args:
        inputs: a FASTA file (plain or gzip) or a file of one sequence per line (`str`/`Path`), a list of
            sequences, or an {id: sequence} mapping.
        output: if given, the result is written there as it is computed (`.safetensors`, `.npz`, or `.npy`
            without `per_base`), atomically; an existing file is replaced only with `overwrite=True`. Per-base
            vectors are then read back from the file when indexed.
        pooling: `"mean"` over the sequence's tokens (`<cls>`, `<eos>` and padding excluded) or `"cls"`.
        per_base: also return one vector per base: each base takes its token's vector (`expand_to_bases`).
        reverse_complement: average with the reverse complement's embeddings (per-base ones flipped back).
        batch_size: at most this many windows per forward pass (default: as many as `max_tokens` allows).
        max_tokens: token budget of a forward pass, padding included (default 1024 on CPU, 32768 on GPUs);
            windows are batched longest first under it (`multimolecule.batching`), results come back in order.
        window: tokens per window, special tokens included (default: the model's trained length, `max_tokens`).
        stride: tokens between window starts (default: half a window with `per_base`, a whole window without).
        resume: keep finished shards in `<output>.shards/` and skip them when the same job is run again.
        overwrite: replace an existing `output`.

    Sequences longer than a window are cut into windows every `stride` tokens (the last window ends at the
    sequence's end). Per-base vectors are averaged where windows overlap; the per-sequence vector is the mean of
    the windows' pooled vectors. Under `torchrun --nproc-per-node N -m multimolecule embed ...` each process embeds
    every N-th shard of 64 records (`multimolecule.embedding`) and rank 0 merges them into `output`.

    Example:
        >>> from multimolecule.api import embed
        >>> result = embed(["ACGTACGTAGCTAGCTAGGATCC", "TTGACA"], per_base=True)
        >>> result.embeddings.shape, [tuple(x.shape) for x in result.per_base]
        (torch.Size([2, 128]), [(23, 128), (6, 128)])
    """
    from .embedding import (
        EmbeddingWriter,
        EmbedSettings,
        WindowEmbedder,
        barrier,
        default_stride,
        distributed_context,
        end_distributed,
        job_manifest,
        merge_shards,
        prepare_shards_everywhere,
        shard_directory,
        shard_path,
        shard_ranges,
    )

    check_choice("pooling", pooling, ("mean", "cls"))
    for name, value in (("batch_size", batch_size), ("max_tokens", max_tokens), ("window", window), ("stride", stride)):
        check_positive(name, value)
    if output is not None:
        check_output(output, per_base, overwrite)
    elif resume:
        raise InputError("resume needs an output file: its finished shards are kept beside it")
    records = as_records(inputs)
    rank, world, local_rank = distributed_context()
    if world > 1 and output is None:
        raise InputError("several processes need an output file to write their shards to")
    if world > 1 and device in (None, "auto") and torch.cuda.is_available():
        device = f"cuda:{local_rank}"
    encoder, tokenizer = load_model(model, device, dtype, task="feature-extraction")
    template = special_template(tokenizer)
    window = window or trained_window(tokenizer, encoder.config)
    body = window - len(template[0]) - len(template[1])
    if body < 1:
        raise InputError(f"window must hold at least one token besides the special tokens, got {window}")
    if stride is not None and stride > body:
        raise InputError(
            f"stride ({stride}) must not exceed the window's {body} sequence tokens: bases would be skipped"
        )
    budget = max_tokens or DEFAULT_MAX_TOKENS[encoder.device.type == "cuda"]
    settings = EmbedSettings(
        model=str(model or DEFAULT_MODEL),
        pooling=pooling,
        per_base=per_base,
        reverse_complement=reverse_complement,
        window=window,
        stride=stride or default_stride(body, per_base),
        max_tokens=max(budget, window),
        max_batch_size=batch_size,
    )
    embedder = WindowEmbedder(encoder, tokenizer, template, token_lengths(encoder, tokenizer), settings)
    names, sequences = list(records), list(records.values())
    lengths = [len(s) for s in sequences]
    hidden = encoder.config.hidden_size
    shards = shard_ranges(len(sequences))
    mine = [shard for shard in range(len(shards)) if shard % world == rank]
    bar = progress_bar(sum(lengths[i] for shard in mine for i in shards[shard]), progress and rank == 0)
    progress_state = Progress(bar, sum(len(shards[shard]) for shard in mine))

    def embed_shards(writer, directory: Path | None = None) -> None:
        """Every shard of this rank, into `writer` (one process, no shards kept) or into its own shard file."""
        for shard in mine:
            indices = list(shards[shard])
            texts = [sequences[i] for i in indices]
            if directory is None:
                embedder.run(
                    texts, functools.partial(record_sink, writer, indices, progress_state), progress_state.tick
                )
                continue
            path = shard_path(directory, shard, len(shards))
            if path.is_file():  # finished before an interruption (resume)
                progress_state.tick(sum(lengths[i] for i in indices))
                progress_state.finished(len(indices))
                continue
            shard_lengths = [lengths[i] for i in indices]
            with EmbeddingWriter(path, [names[i] for i in indices], shard_lengths, hidden, per_base, {}) as shard_out:
                sink = functools.partial(record_sink, shard_out, range(len(indices)), progress_state)
                embedder.run(texts, sink, progress_state.tick)

    with raise_on_sigterm(), bar:  # the bar is closed before an error or interruption is reported
        if output is None:
            writer = MemoryWriter(names, lengths, hidden, per_base)
            embed_shards(writer)
        elif not (world > 1 or resume):
            with EmbeddingWriter(output, names, lengths, hidden, per_base, settings.metadata(), overwrite) as writer:
                embed_shards(writer)
        else:
            directory = shard_directory(Path(output))
            manifest = job_manifest(settings, names, lengths)
            prepare_shards_everywhere(directory, manifest, resume, rank, world)
            embed_shards(None, directory)
            barrier(world)
            if rank == 0:
                with EmbeddingWriter(
                    output, names, lengths, hidden, per_base, settings.metadata(), overwrite
                ) as writer:
                    merge_shards(directory, len(shards), writer)
                shutil.rmtree(directory)
            end_distributed(world)
    if output is None:
        return Embeddings(names, writer.embeddings, writer.per_base if per_base else None, settings.metadata(), lengths)
    return stored_result(output, names, per_base, settings.metadata(), lengths)


def stored_result(output, names: list[str], per_base: bool, metadata: dict, lengths: list[int]) -> Embeddings:
    """The `Embeddings` of a written file: the matrix read, per-base tensors read from the file when indexed."""
    if Path(output).suffix.lower() == ".safetensors":
        from safetensors import safe_open

        with safe_open(output, "pt") as file:
            embeddings = file.get_tensor("embeddings")
    else:
        import numpy as np

        if Path(output).suffix.lower() == ".npz":
            with np.load(output) as archive:
                embeddings = torch.from_numpy(archive["embeddings"])
        else:
            embeddings = torch.from_numpy(np.load(output))
    from .embedding import StoredPerBase

    stored = StoredPerBase(Path(output), len(names)) if per_base else None
    return Embeddings(names, embeddings, stored, metadata, lengths)


def record_sink(writer, positions: Sequence[int], progress: Progress, index: int, *vectors) -> None:
    """Where a finished record goes: record `index` of a shard is record `positions[index]` of `writer`."""
    writer.write(positions[index], *vectors)
    progress.finished()


class Progress:
    """Advances the progress bar by bases after every forward pass and counts finished sequences."""

    def __init__(self, bar, records: int):
        self.bar, self.records, self.done = bar, records, 0

    def tick(self, bases: float) -> None:
        self.bar.update(min(bases, self.bar.total - self.bar.n))

    def finished(self, count: int = 1) -> None:
        self.done += count
        self.bar.set_postfix_str(f"{self.done}/{self.records} sequences", refresh=False)


class MemoryWriter:
    """Keeps `embed`'s results in memory when no output file is given."""

    def __init__(self, ids: list[str], lengths: list[int], hidden: int, per_base: bool):
        self.embeddings = torch.zeros(len(ids), hidden)
        self.per_base = [None] * len(ids)

    def write(self, index: int, embedding: torch.Tensor, per_base: torch.Tensor | None) -> None:
        self.embeddings[index] = embedding
        self.per_base[index] = per_base


def progress_bar(total_bases: int, enabled: bool):
    """A tqdm bar on stderr counting bases (its rate is bases/s); the postfix shows sequences done and seq/s."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total_bases,
        unit="bp",
        unit_scale=True,
        file=sys.stderr,
        disable=not enabled,
        dynamic_ncols=True,
        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]",
    )


# -------------------------------------------------------------------------------------------------- convert


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
    model_type = read_json_quietly(checkpoint / "config.json").get("model_type")
    if model_type in MODELS:
        raise InputError(f"{checkpoint} is already a multimolecule checkpoint ({model_type})")
    detected = detect_model_type(checkpoint)
    if detected is None:
        raise InputError(f"cannot tell which model {checkpoint} holds; pass model= one of {', '.join(MODELS)}")
    return detected


def read_json_quietly(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}


def convert(
    checkpoint: str | os.PathLike, output: str | os.PathLike, model: str | None = None, overwrite: bool = False
) -> ConversionReport:
    """Convert an original checkpoint directory into a multimolecule one with the model's own converter.

    `model` is a registered `model_type` (`"dnabert2"`, `"nucleotide_transformer"`); detected from the files when
    omitted (`detect_model`). The output directory is written atomically; an existing one is replaced only with
    `overwrite=True`. Returns the converter's `ConversionReport` (`output_path`, `layout`, `dropped` tensors).

    Example:
        >>> from multimolecule.api import convert
        >>> convert("../shared/fixtures/dnabert2/tiny_a", "converted/dnabert2-tiny").output_path  # doctest: +SKIP
        PosixPath('converted/dnabert2-tiny')
    """
    if not Path(checkpoint).is_dir():
        raise InputError(f"checkpoint directory not found: {checkpoint}")
    source, target = Path(checkpoint).resolve(), Path(output).resolve()
    if target == source or source in target.parents or target in source.parents:
        raise InputError(f"the output {output} must not be, contain or lie inside the checkpoint {checkpoint}")
    check_choice("model", model, list(MODELS))
    model = model or detect_model(checkpoint)
    check_overwrite(output, overwrite)
    return MODELS[model].convert(checkpoint, output)


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
    path = Path(local_directory(resolve_model(model)))
    config = read_json_quietly(path / "config.json")
    if not config:
        raise InputError(f"{path}/config.json is missing or not valid JSON")
    tokenizer_config = read_json_quietly(path / "tokenizer_config.json")
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
    details["max_tokens"] = (
        length if isinstance(length, int) and length < 1_000_000 else config.get("max_position_embeddings")
    )
    details["position_embedding"] = None if original else config.get("position_embedding_type")
    for key in ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size"):
        details[key] = config.get(key)
    details["dtype"] = config.get("dtype") or config.get("torch_dtype")
    training = read_json_quietly(path / "training.json").get("metrics")
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
    from .models.loading_utils import fetch

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
    index = read_json_quietly(path / "model.safetensors.index.json").get("weight_map")
    safetensors = sorted({path / name for name in index.values()}) if index else [path / "model.safetensors"]
    if all(file.is_file() for file in safetensors):
        return sum(safetensors_parameters(file) for file in safetensors)
    if (path / "pytorch_model.bin").is_file():
        state = torch.load(path / "pytorch_model.bin", map_location="cpu", weights_only=True, mmap=True)
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
            return sum(prod(entry["shape"]) for entry in tensors)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InputError(f"{file} is not a readable safetensors file (truncated or damaged: {error})") from error


def prod(values: Iterable[int]) -> int:
    result = 1
    for value in values:
        result *= value
    return result


# ------------------------------------------------------------------------------------ train / evaluate / predict


def train(
    data: str | os.PathLike | None = None,
    output_dir: str | os.PathLike | None = None,
    config: str | os.PathLike | None = None,
    **settings,
) -> dict:
    """Fine-tune a model on labelled sequences with transformers' `Trainer`; returns `{"dev": {...}, "test": {...}}`.

    Args:
        data: a folder with `train.csv`, `dev.csv` and optionally `test.csv` (`sequence,label`, or
            `sequence1,sequence2,label` for pairs; TSV, JSON lines and Parquet work too). Or name the files with
            `train=`, `dev=`, `test=`.
        output_dir: where the fine-tuned model, its tokenizer, `train_config.yaml`, `task.json`, `log.jsonl`,
            `metrics.json` and the checkpoints (`checkpoints/`) are written.
        config: a YAML or JSON file of settings; `settings` (any key of
            `multimolecule.training.TrainConfig`: `model`, `epochs`, `learning_rate`, `lora`, ...) override it.

    The task (binary, multiclass, multi-label, regression; per sequence, per base or per base pair) is inferred
    from the training labels and printed first. Bad input raises `InputError` before any training.

    Example:
        >>> from multimolecule.api import train
        >>> metrics = train("ecoli/sequence", "finetuned", epochs=1)  # doctest: +SKIP
        >>> sorted(metrics["test"])  # doctest: +SKIP
        ['accuracy', 'auprc', 'auroc', 'f1', 'loss', 'mcc', 'precision', 'recall']
    """
    from .training.config import resolve_config
    from .training.engine import run_training

    if output_dir is not None and settings.get("resume") and config is None:
        saved = Path(output_dir) / "train_config.yaml"
        config = saved if saved.is_file() else None
    run = resolve_config(config, {"data": data, "output_dir": output_dir, **settings})
    return run_training(run)


def evaluate(
    model: str | os.PathLike,
    data: str | os.PathLike | None = None,
    file: str | os.PathLike | None = None,
    split: str = "test",
    batch_size: int | None = None,
    device: str | None = "cpu",
    dtype: str | None = None,
    progress: bool = False,
    max_tokens: int | None = None,
) -> dict:
    """Metrics of a fine-tuned model (a `train` output directory) on labelled data: the `split` of a GUE folder
    (`data`) or one labelled `file`, in the layout it was trained on. Batches hold at most `max_tokens` padded
    tokens (default 1024 on CPU, 32768 on GPUs), longest first, and at most `batch_size` sequences if given.

    Example:
        >>> from multimolecule.api import evaluate
        >>> evaluate("finetuned", "ecoli/sequence")["mcc"]  # doctest: +SKIP
        0.8
    """
    from .training.inference import evaluate_model

    for name, value in (("batch_size", batch_size), ("max_tokens", max_tokens)):
        if value is not None:
            check_positive(name, value)
    return evaluate_model(model, data, file, split, batch_size, device, dtype, progress, max_tokens)


def predict(
    inputs: Inputs,
    model: str | os.PathLike,
    output: str | os.PathLike | None = None,
    batch_size: int | None = None,
    device: str | None = "cpu",
    dtype: str | None = None,
    progress: bool = False,
    overwrite: bool = False,
    max_tokens: int | None = None,
) -> list[dict]:
    """Predictions of a fine-tuned model (a `train` output directory) for new sequences.

    `inputs` is a FASTA file, a table (CSV/TSV/JSON lines/Parquet with the training's sequence column and an
    optional `id` column), a list of sequences or an {id: sequence} mapping. Each result has the `id` and, for
    classification, the `label` and the `probability_<class>` of every class; for regression the value(s);
    per base, one label character (and probabilities) per base; for base pairs, the predicted `pairs`.
    `output` (`.csv`, `.tsv` or `.jsonl`; per-base results need `.jsonl`) also writes them there, atomically; an
    existing file is replaced only with `overwrite=True`. Batches are formed as in `embed`: longest first, at most
    `max_tokens` padded tokens each (default 1024 on CPU, 32768 on GPUs) and at most `batch_size` sequences if
    given; results come back in the input order.

    Example:
        >>> from multimolecule.api import predict
        >>> predict(["ACGTAGCTAGCTAGCTAGGATCC"], "finetuned")[0]["label"]  # doctest: +SKIP
        '1'
    """
    from .training.inference import predict_model

    for name, value in (("batch_size", batch_size), ("max_tokens", max_tokens)):
        if value is not None:
            check_positive(name, value)
    return predict_model(inputs, model, output, batch_size, device, dtype, progress, overwrite, max_tokens)
