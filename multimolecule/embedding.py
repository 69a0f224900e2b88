"""The engine behind `multimolecule.api.embed`: windows, token-budget batches, streamed output, several processes.

* **Windows.** A sequence longer than `window` tokens (`<cls>`/`<eos>` included) is cut into windows that start
  every `stride` tokens; the last one ends at the sequence's end. Per-base vectors are averaged where windows
  overlap; the per-sequence vector is the mean of the windows' pooled vectors.
* **Batches.** All windows of a shard go through the model in `token_budget_batches` (longest first, at most
  `max_tokens` padded tokens each), so memory is set by the budget, not by the longest sequence.
* **Shards.** Records are cut, in input order, into shards of `SHARD_RECORDS` records; shard `k` belongs to rank
  `k % world_size`. The batches depend only on the shard, so one process and N processes compute the same batches.
* **Streaming.** A record's results go to the output (`EmbeddingWriter`) as soon as its last window is done;
  per-base vectors are never all held in memory. Under `torchrun` (or with `resume`) every shard is written to
  `<output>.shards/` as it finishes, and rank 0 merges the shards, in order, into the output.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import struct
import zipfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .demo import DEFAULT_MODEL
from .models import cached_model, special_template, token_lengths, trained_window
from .modules import expand_to_bases
from .seqio import Inputs, as_records, revcomp
from .utils import (
    InputError,
    atomic_output,
    check_apart,
    check_choice,
    check_overwrite,
    check_positive,
    raise_on_sigterm,
)
from .utils.batching import default_max_tokens, pad, token_budget_batches
from .utils.distributed import distributed_context, end_distributed, synchronize
from .utils.progress import Progress, progress_bar
from .utils.shards import SHARD_RECORDS, prepare_shards_everywhere, shard_directory, shard_ranges  # noqa: F401

OUTPUT_SUFFIXES = (".safetensors", ".npy", ".npz")


@dataclass(frozen=True)
class EmbedSettings:
    """What determines the numbers of an embedding job (shards of another job's settings are never reused)."""

    model: str
    pooling: str
    per_base: bool
    reverse_complement: bool
    window: int  # tokens per window, special tokens included
    stride: int  # tokens between window starts
    max_tokens: int  # token budget of a forward pass, padding included
    max_batch_size: int | None = None  # windows per forward pass at most

    def metadata(self) -> dict[str, str]:
        return {
            "model": self.model,
            "pooling": self.pooling,
            "reverse_complement": str(self.reverse_complement).lower(),
            "window_tokens": str(self.window),
            "stride_tokens": str(self.stride),
        }


def default_stride(body: int, per_base: bool) -> int:
    """Tokens between window starts when not given: half a window for per-base output (every base gets context
    from both sides in some window), a whole window otherwise (pooling over a sequence needs no overlap).

    Example:
        >>> default_stride(510, per_base=True), default_stride(510, per_base=False)
        (255, 510)
    """
    return max(1, body // 2) if per_base else body


def window_starts(num_tokens: int, body: int, stride: int) -> list[int]:
    """Start indices of windows of `body` tokens every `stride` tokens; the last one ends at the end.

    Example:
        >>> window_starts(10, 4, 2)
        [0, 2, 4, 6]
        >>> window_starts(10, 4, 4)
        [0, 4, 6]
        >>> window_starts(3, 4, 2)
        [0]
    """
    if num_tokens <= body:
        return [0]
    starts = list(range(0, num_tokens - body, stride))
    return starts + [num_tokens - body]


# ---------------------------------------------------------------------------------------------- results
@dataclass
class Embeddings:
    """What `embed` returns: record `ids`, `embeddings` (sequences, hidden), per-base (length, hidden) tensors
    if asked, the settings as `metadata`, and the `lengths` of the sequences in bases."""

    ids: list[str]
    embeddings: torch.Tensor
    per_base: list[torch.Tensor] | None = None
    metadata: dict[str, str] | None = None
    lengths: list[int] | None = None

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write to `.safetensors`, `.npz` or `.npy` (chosen by suffix), atomically: see `save_embeddings`."""
        return save_embeddings(self, path, overwrite)


def check_embedding_output(path: str | os.PathLike, per_base: bool, overwrite: bool = False) -> None:
    """Fail early on an output `save_embeddings` would refuse: wrong suffix, a directory, an existing file."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"unsupported output {path}: use a .safetensors, .npz or .npy file name")
    if suffix == ".npy" and per_base:
        raise InputError("a .npy file holds one array: write per-base embeddings to .safetensors or .npz")
    if Path(path).is_dir():
        raise InputError(f"output {path} is a directory")
    check_overwrite(path, overwrite)


def save_embeddings(result: Embeddings, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write `result` by suffix, atomically (`atomic_output`); an existing file is replaced only with `overwrite`.

    `.safetensors`: `embeddings` (sequences, hidden) float32, `per_base.{i}` (length_i, hidden) per sequence in
    input order, and metadata `ids` (a JSON list) plus the settings. `.npz`: the same arrays and an `ids` array.
    `.npy`: the `embeddings` matrix only, rows in input order.
    """
    path = Path(path)
    check_embedding_output(path, result.per_base is not None, overwrite)
    arrays = {"embeddings": result.embeddings.float().contiguous()}
    for i, states in enumerate(result.per_base or []):
        arrays[f"per_base.{i}"] = states.float().contiguous()
    with atomic_output(path, overwrite=overwrite) as temporary:
        if path.suffix.lower() == ".safetensors":
            save_file(arrays, temporary, metadata={"ids": json.dumps(result.ids), **(result.metadata or {})})
        else:
            with open(temporary, "wb") as file:
                if path.suffix.lower() == ".npy":
                    np.save(file, arrays["embeddings"].numpy())
                else:
                    np.savez(file, ids=np.array(result.ids), **{k: v.numpy() for k, v in arrays.items()})
    return path


# ------------------------------------------------------------------------------------------------- writers
class EmbeddingWriter:
    """Writes an `Embeddings` file record by record, as a context manager: the file appears, atomically, when the
    block ends without error (`utils.atomic_output`: nothing is left behind otherwise, Ctrl-C and SIGTERM included).

    `.safetensors`: the layout is known from the lengths, so the header is written first and each record's
    per-base tensor goes straight to its place in the file. `.npz`: per-base arrays are appended to the zip
    as they come. `.npy`: the embedding matrix only. Same arrays and metadata as `save_embeddings`.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "two.safetensors"
        >>> with EmbeddingWriter(path, ["a", "b"], [3, 2], hidden=4, per_base=True, metadata={}) as writer:
        ...     writer.write(1, torch.ones(4), torch.ones(2, 4))
        ...     writer.write(0, torch.zeros(4), torch.zeros(3, 4))
        >>> from safetensors.torch import load_file
        >>> {name: tuple(tensor.shape) for name, tensor in sorted(load_file(path).items())}
        {'embeddings': (2, 4), 'per_base.0': (3, 4), 'per_base.1': (2, 4)}
    """

    def __init__(
        self,
        path: str | os.PathLike,
        ids: list[str],
        lengths: list[int],
        hidden: int,
        per_base: bool,
        metadata: dict,
        overwrite: bool = False,
    ):
        self.path, self.ids, self.lengths, self.hidden, self.per_base = Path(path), ids, lengths, hidden, per_base
        self.metadata, self.overwrite = metadata, overwrite
        self.suffix = self.path.suffix.lower()
        self.embeddings = torch.zeros(len(ids), hidden)

    def __enter__(self) -> EmbeddingWriter:
        self.stack = ExitStack()
        temporary = self.stack.enter_context(atomic_output(self.path, overwrite=self.overwrite))
        self.file = self.stack.enter_context(open(temporary, "wb"))
        if self.suffix == ".safetensors":
            self.offsets = self._safetensors_header(self.metadata)
        elif self.suffix == ".npz":
            self.zip = zipfile.ZipFile(self.file, "w", allowZip64=True)
        return self

    def __exit__(self, error_type, error, traceback) -> bool:
        with self.stack:  # closes the file, then renames it into place, or removes it if anything failed
            if error is not None:
                self._abandon()
                raise error
            try:
                self._finish()
            except BaseException:
                self._abandon()
                raise
        return False

    def _abandon(self) -> None:
        """Close an unfinished `.npz` archive before its file is removed (else the zip module writes to the closed
        file when it is collected, and prints a traceback). The archive is discarded, so errors in closing it, as
        on a full disk, are not reported over the error that stopped the job."""
        if self.suffix == ".npz" and self.zip.fp is not None:
            try:
                self.zip.close()
            except (OSError, ValueError):
                pass

    def _safetensors_header(self, metadata: dict) -> list[int]:
        row_bytes = self.hidden * 4
        header: dict = {"__metadata__": {"ids": json.dumps(self.ids), **metadata}}
        end = len(self.ids) * row_bytes
        header["embeddings"] = {"dtype": "F32", "shape": [len(self.ids), self.hidden], "data_offsets": [0, end]}
        offsets = []
        for index, length in enumerate(self.lengths if self.per_base else []):
            offsets.append(end)
            header[f"per_base.{index}"] = {
                "dtype": "F32",
                "shape": [length, self.hidden],
                "data_offsets": [end, end + length * row_bytes],
            }
            end += length * row_bytes
        encoded = json.dumps(header, separators=(",", ":")).encode()
        encoded += b" " * (-len(encoded) % 8)
        self.file.write(struct.pack("<Q", len(encoded)) + encoded)
        self.data_start = self.file.tell()
        self.file.truncate(self.data_start + end)
        return offsets

    def write(self, index: int, embedding: torch.Tensor, per_base: torch.Tensor | None) -> None:
        """Record `index`: its (hidden,) vector and, for a per-base file, its (length, hidden) vectors."""
        self.embeddings[index] = embedding
        if not self.per_base:
            return
        array = per_base.float().contiguous()
        if self.suffix == ".safetensors":
            self.file.seek(self.data_start + self.offsets[index])
            self.file.write(array.numpy().tobytes())
        else:
            with self.zip.open(f"per_base.{index}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array.numpy())

    def _finish(self) -> None:
        if self.suffix == ".safetensors":
            self.file.seek(self.data_start)
            self.file.write(self.embeddings.numpy().tobytes())
        elif self.suffix == ".npz":
            for name, array in (("embeddings", self.embeddings.numpy()), ("ids", np.array(self.ids))):
                with self.zip.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array)
            self.zip.close()
        else:
            np.save(self.file, self.embeddings.numpy())
        self.file.flush()
        os.fsync(self.file.fileno())


class StoredPerBase(Sequence):
    """The per-base tensors of a written file, read one at a time when indexed (nothing is loaded up front).

    Example:
        >>> from multimolecule.api import embed
        >>> result = embed(["ACGTACGTAG", "TTGACA"], output="example.safetensors", per_base=True)  # doctest: +SKIP
        >>> result.per_base[1].shape  # doctest: +SKIP
        torch.Size([6, 128])
    """

    def __init__(self, path: Path, count: int):
        self.path, self.count = Path(path), count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.count))]
        if not -self.count <= index < self.count:
            raise IndexError(index)
        index %= self.count
        if self.path.suffix.lower() == ".safetensors":
            with safe_open(self.path, "pt") as file:
                return file.get_tensor(f"per_base.{index}")
        with np.load(self.path) as archive:
            return torch.from_numpy(archive[f"per_base.{index}"])


# -------------------------------------------------------------------------------------------------- engine
class Window(NamedTuple):
    """One window of one strand of one record: which tokens of the record it holds and what it stands for."""

    record: int  # index of the record in the list being embedded
    strand: int  # 0: the record as given, 1: its reverse complement
    first_token: int  # index of the window's first token in the strand's tokens
    first_base: int  # index of the base the window starts at, in the strand
    tokens: int  # sequence tokens in the window (special tokens not counted)
    bases: float  # the record's bases shared out among its windows, for the progress bar


@dataclass
class RecordState:
    """What has been gathered of a record so far, per strand: pooled window vectors, and for per-base output
    the running sums and counts of the per-base vectors of overlapping windows."""

    pooled: list[list[torch.Tensor]]
    sums: list[torch.Tensor] | None  # per strand: (bases, hidden)
    counts: list[torch.Tensor] | None  # per strand: (bases, 1)


class WindowEmbedder:
    """Runs the windows of a list of records through the model and hands each finished record to `sink`.

    `sink(index, embedding, per_base)` gets the record's index in the list, its (hidden,) vector and, with
    `per_base`, its (length, hidden) per-base vectors; `tick(bases)` advances a progress bar after every batch.
    """

    def __init__(self, encoder, tokenizer, template, token_lengths, settings: EmbedSettings):
        self.encoder, self.tokenizer, self.template = encoder, tokenizer, template
        self.token_lengths, self.settings = token_lengths, settings
        self.body = settings.window - len(template[0]) - len(template[1])

    def run(self, texts: list[str], sink: Callable, tick: Callable[[float], None] | None = None) -> None:
        settings = self.settings
        strands = [texts, [revcomp(text) for text in texts]] if settings.reverse_complement else [texts]
        windows: list[Window] = []  # in record order
        ids_of = {}
        for strand, strand_texts in enumerate(strands):
            encoded = self.tokenizer(strand_texts, add_special_tokens=False)["input_ids"]
            for record, (text, ids) in enumerate(zip(strand_texts, encoded)):
                ids = torch.tensor(ids, dtype=torch.long)
                offsets = torch.cat([torch.zeros(1, dtype=torch.long), self.token_lengths[ids].cumsum(0)])
                if int(offsets[-1]) != len(text):
                    raise InputError(f"the tokenizer covers {int(offsets[-1])} of the {len(text)} bases of a sequence")
                ids_of[record, strand] = ids
                starts = window_starts(len(ids), self.body, settings.stride)
                for start in starts:
                    count = min(self.body, len(ids) - start)
                    windows.append(Window(record, strand, start, int(offsets[start]), count, len(text) / len(starts)))
        remaining = [0] * len(texts)
        for window in windows:
            remaining[window.record] += 1
        states: dict[int, RecordState] = {}
        extra = len(self.template[0]) + len(self.template[1])
        lengths = [window.tokens + extra for window in windows]
        for batch in token_budget_batches(lengths, settings.max_tokens, settings.max_batch_size):
            chosen = [windows[index] for index in batch]
            rows = [
                [
                    *self.template[0],
                    *ids_of[w.record, w.strand][w.first_token : w.first_token + w.tokens].tolist(),
                    *self.template[1],
                ]
                for w in chosen
            ]
            pooled, per_base = self.forward(rows)
            for row, window in enumerate(chosen):
                state = states.setdefault(window.record, self.empty_state(len(texts[window.record]), len(strands)))
                state.pooled[window.strand].append(pooled[row])
                if per_base is not None:
                    vectors = per_base[row]
                    covered = slice(window.first_base, window.first_base + len(vectors))
                    state.sums[window.strand][covered] += vectors
                    state.counts[window.strand][covered] += 1
                remaining[window.record] -= 1
                if remaining[window.record] == 0:
                    sink(window.record, *self.finish(states.pop(window.record)))
            if tick is not None:
                tick(sum(window.bases for window in chosen) / len(strands))

    def empty_state(self, length: int, strands: int) -> RecordState:
        hidden = self.encoder.config.hidden_size
        if not self.settings.per_base:
            return RecordState([[] for _ in range(strands)], None, None)
        sums = [torch.zeros(length, hidden) for _ in range(strands)]
        counts = [torch.zeros(length, 1) for _ in range(strands)]
        return RecordState([[] for _ in range(strands)], sums, counts)

    def finish(self, state: RecordState) -> tuple[torch.Tensor, torch.Tensor | None]:
        embedding = torch.stack([torch.stack(vectors).mean(0) for vectors in state.pooled]).mean(0)
        if not self.settings.per_base:
            return embedding, None
        strands = [sums / counts.clamp(min=1) for sums, counts in zip(state.sums, state.counts)]
        strands[1:] = [strand.flip(0) for strand in strands[1:]]  # the reverse complement, back in input order
        return embedding, torch.stack(strands).mean(0)

    @torch.no_grad()
    def forward(self, rows: list[list[int]]) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """Pooled (batch, hidden) vectors and, with per-base output, each window's (bases, hidden) vectors."""
        input_ids, attention_mask = pad(rows, self.tokenizer.pad_token_id)
        device = self.encoder.device
        hidden = self.encoder(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device))
        hidden = hidden.last_hidden_state.float().cpu()  # (batch, tokens, hidden)
        if self.settings.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            positions = torch.arange(input_ids.shape[1])[None, :]
            ends = attention_mask.sum(1, keepdim=True) - len(self.template[1])
            inner = ((positions >= len(self.template[0])) & (positions < ends))[..., None].float()  # no <cls>/<eos>
            pooled = (hidden * inner).sum(1) / inner.sum(1).clamp(min=1)
        if not self.settings.per_base:
            return pooled, None
        states, base_mask = expand_to_bases(hidden, input_ids, attention_mask, self.token_lengths)
        return pooled, [states[row, : int(base_mask[row].sum())] for row in range(len(rows))]


# -------------------------------------------------------------------------------------------------- shards
def shard_path(directory: Path, shard: int, shards: int) -> Path:
    return directory / f"shard-{shard:05d}-of-{shards:05d}.safetensors"


def merge_shards(directory: Path, shards: int, writer: EmbeddingWriter) -> None:
    """Copy every shard's records, in order, into `writer`, one record at a time."""
    index = 0
    for shard in range(shards):
        with safe_open(shard_path(directory, shard, shards), "pt") as file:
            embeddings = file.get_tensor("embeddings")
            for row in range(embeddings.shape[0]):
                per_base = file.get_tensor(f"per_base.{row}") if writer.per_base else None
                writer.write(index, embeddings[row], per_base)
                index += 1


def job_manifest(settings: EmbedSettings, ids: list[str], lengths: list[int]) -> dict:
    digest = hashlib.sha256(json.dumps([ids, lengths]).encode()).hexdigest()
    return {"settings": asdict(settings), "records": len(ids), "shard_records": SHARD_RECORDS, "inputs": digest}


# ------------------------------------------------------------------------------------------------ the job
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
            windows are batched longest first under it (`multimolecule.utils.batching`), results come back in order.
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
    check_choice("pooling", pooling, ("mean", "cls"))
    for name, value in (("batch_size", batch_size), ("max_tokens", max_tokens), ("window", window), ("stride", stride)):
        check_positive(name, value)
    if output is not None:
        check_apart(output, [inputs] if isinstance(inputs, (str, os.PathLike)) else [])
        check_embedding_output(output, per_base, overwrite)
    elif resume:
        raise InputError("resume needs an output file: its finished shards are kept beside it")
    records = as_records(inputs)
    rank, world, local_rank = distributed_context()
    if world > 1 and output is None:
        raise InputError("several processes need an output file to write their shards to")
    if world > 1 and device in (None, "auto") and torch.cuda.is_available():
        device = f"cuda:{local_rank}"
    encoder, tokenizer = cached_model(model, device, dtype, "feature-extraction")
    template = special_template(tokenizer)
    window = window or trained_window(tokenizer, encoder.config)
    body = window - len(template[0]) - len(template[1])
    if body < 1:
        raise InputError(f"window must hold at least one token besides the special tokens, got {window}")
    if stride is not None and stride > body:
        raise InputError(
            f"stride ({stride}) must not exceed the window's {body} sequence tokens: bases would be skipped"
        )
    budget = max_tokens or default_max_tokens(encoder.device)
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
            writer = MemoryWriter(len(names), hidden)
            embed_shards(writer)
        elif not (world > 1 or resume):
            with EmbeddingWriter(output, names, lengths, hidden, per_base, settings.metadata(), overwrite) as writer:
                embed_shards(writer)
        else:
            directory = shard_directory(Path(output))
            manifest = job_manifest(settings, names, lengths)
            prepare_shards_everywhere(directory, manifest, resume, rank)
            embed_shards(None, directory)
            synchronize()
            if rank == 0:
                with EmbeddingWriter(
                    output, names, lengths, hidden, per_base, settings.metadata(), overwrite
                ) as writer:
                    merge_shards(directory, len(shards), writer)
                shutil.rmtree(directory)
            end_distributed()
    if output is None:
        return Embeddings(names, writer.embeddings, writer.per_base if per_base else None, settings.metadata(), lengths)
    return stored_result(output, names, per_base, settings.metadata(), lengths)


def stored_result(output, names: list[str], per_base: bool, metadata: dict, lengths: list[int]) -> Embeddings:
    """The `Embeddings` of a written file: the matrix read, per-base tensors read from the file when indexed."""
    if Path(output).suffix.lower() == ".safetensors":
        with safe_open(output, "pt") as file:
            embeddings = file.get_tensor("embeddings")
    elif Path(output).suffix.lower() == ".npz":
        with np.load(output) as archive:
            embeddings = torch.from_numpy(archive["embeddings"])
    else:
        embeddings = torch.from_numpy(np.load(output))
    stored = StoredPerBase(Path(output), len(names)) if per_base else None
    return Embeddings(names, embeddings, stored, metadata, lengths)


def record_sink(writer, positions: Sequence[int], progress: Progress, index: int, *vectors) -> None:
    """Where a finished record goes: record `index` of a shard is record `positions[index]` of `writer`."""
    writer.write(positions[index], *vectors)
    progress.finished()


class MemoryWriter:
    """Keeps `embed`'s results in memory when no output file is given."""

    def __init__(self, records: int, hidden: int):
        self.embeddings = torch.zeros(records, hidden)
        self.per_base = [None] * records

    def write(self, index: int, embedding: torch.Tensor, per_base: torch.Tensor | None) -> None:
        self.embeddings[index] = embedding
        self.per_base[index] = per_base
