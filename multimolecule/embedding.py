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

import json
import os
import shutil
import struct
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .batching import token_budget_batches
from .seqio import InputError, atomic_output, revcomp

SHARD_RECORDS = 64
OWN_PROCESS_GROUP: list[bool] = []  # not empty while a process group opened by `distributed_context` is open


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
            "max_tokens": str(self.window),  # the window, as earlier versions wrote it
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


# ------------------------------------------------------------------------------------------------- writers
class EmbeddingWriter:
    """Writes an `Embeddings` file record by record, as a context manager: the file appears, atomically, when the
    block ends without error (`seqio.atomic_output`: nothing is left behind otherwise, Ctrl-C and SIGTERM included).

    `.safetensors`: the layout is known from the lengths, so the header is written first and each record's
    per-base tensor goes straight to its place in the file. `.npz`: per-base arrays are appended to the zip
    as they come. `.npy`: the embedding matrix only. Same arrays and metadata as `seqio.save_embeddings`.

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
            import zipfile

            self.zip = zipfile.ZipFile(self.file, "w", allowZip64=True)
        return self

    def __exit__(self, error_type, error, traceback) -> bool:
        with self.stack:  # closes the file, then renames it into place, or removes it if anything failed
            if error is not None:
                raise error
            self._finish()
        return False

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
            import numpy as np

            with self.zip.open(f"per_base.{index}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array.numpy())

    def _finish(self) -> None:
        import numpy as np

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
            from safetensors import safe_open

            with safe_open(self.path, "pt") as file:
                return file.get_tensor(f"per_base.{index}")
        import numpy as np

        with np.load(self.path) as archive:
            return torch.from_numpy(archive[f"per_base.{index}"])


# -------------------------------------------------------------------------------------------------- engine
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
        windows = []  # (record, strand, first token, first base, token count), in record order
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
                    windows.append((record, strand, start, int(offsets[start]), count, len(text) / len(starts)))
        remaining = [0] * len(texts)
        for window in windows:
            remaining[window[0]] += 1
        states = {}  # record -> [per-strand lists of pooled vectors, per-strand (sums, counts)]
        extra = len(self.template[0]) + len(self.template[1])
        lengths = [window[4] + extra for window in windows]
        for batch in token_budget_batches(lengths, settings.max_tokens, settings.max_batch_size):
            chosen = [windows[index] for index in batch]
            rows = [
                [*self.template[0], *ids_of[record, strand][start : start + count].tolist(), *self.template[1]]
                for record, strand, start, _, count, _ in chosen
            ]
            pooled, per_base = self.forward(rows)
            for row, (record, strand, _, first_base, _, _) in enumerate(chosen):
                state = states.setdefault(record, self.empty_state(len(texts[record]), len(strands)))
                state[0][strand].append(pooled[row])
                if per_base is not None:
                    vectors = per_base[row]
                    sums, counts = state[1][strand]
                    sums[first_base : first_base + len(vectors)] += vectors
                    counts[first_base : first_base + len(vectors)] += 1
                remaining[record] -= 1
                if remaining[record] == 0:
                    sink(record, *self.finish(states.pop(record)))
            if tick is not None:
                tick(sum(window[5] for window in chosen) / len(strands))

    def empty_state(self, length: int, strands: int):
        hidden = self.encoder.config.hidden_size
        per_base = [(torch.zeros(length, hidden), torch.zeros(length, 1)) for _ in range(strands)]
        return [[[] for _ in range(strands)], per_base if self.settings.per_base else None]

    def finish(self, state) -> tuple[torch.Tensor, torch.Tensor | None]:
        embedding = torch.stack([torch.stack(vectors).mean(0) for vectors in state[0]]).mean(0)
        if not self.settings.per_base:
            return embedding, None
        strands = [sums / counts.clamp(min=1) for sums, counts in state[1]]
        strands[1:] = [strand.flip(0) for strand in strands[1:]]  # the reverse complement, back in input order
        return embedding, torch.stack(strands).mean(0)

    @torch.no_grad()
    def forward(self, rows: list[list[int]]) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """Pooled (batch, hidden) vectors and, with per-base output, each window's (bases, hidden) vectors."""
        from .api import pad
        from .modules import expand_to_bases

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
def shard_ranges(count: int) -> list[range]:
    """Record indices of each shard: `SHARD_RECORDS` consecutive records.

    Example:
        >>> [(r.start, r.stop) for r in shard_ranges(130)]
        [(0, 64), (64, 128), (128, 130)]
    """
    return [range(start, min(start + SHARD_RECORDS, count)) for start in range(0, count, SHARD_RECORDS)]


def shard_directory(output: Path) -> Path:
    return output.with_name(output.name + ".shards")


def shard_path(directory: Path, shard: int, shards: int) -> Path:
    return directory / f"shard-{shard:05d}-of-{shards:05d}.safetensors"


def prepare_shards(directory: Path, manifest: dict, resume: bool) -> None:
    """Create the shard directory with its manifest (rank 0); with `resume`, an existing one must match it."""
    manifest_path = directory / "manifest.json"
    if directory.exists() and resume and manifest_path.is_file():
        if json.loads(manifest_path.read_text()) != manifest:
            raise InputError(f"{directory} holds shards of another job (other inputs or settings); remove it")
        return
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    manifest_path.write_text(json.dumps(manifest, indent=1))


def prepare_shards_everywhere(directory: Path, manifest: dict, resume: bool, rank: int, world: int) -> None:
    """`prepare_shards` on rank 0; every rank then raises rank 0's error, if any, instead of waiting for it.

    The error message goes to the other ranks with `broadcast_object_list`, which also keeps the ranks in step.
    """
    message = None
    if rank == 0:
        try:
            prepare_shards(directory, manifest, resume)
        except InputError as error:
            message = str(error)
    if world > 1:
        import torch.distributed as dist

        shared = [message]
        dist.broadcast_object_list(shared, src=0)
        message = shared[0]
    if message is not None:
        raise InputError(message)


def merge_shards(directory: Path, shards: int, writer: EmbeddingWriter) -> None:
    """Copy every shard's records, in order, into `writer`, one record at a time."""
    from safetensors import safe_open

    index = 0
    for shard in range(shards):
        with safe_open(shard_path(directory, shard, shards), "pt") as file:
            embeddings = file.get_tensor("embeddings")
            for row in range(embeddings.shape[0]):
                per_base = file.get_tensor(f"per_base.{row}") if writer.per_base else None
                writer.write(index, embeddings[row], per_base)
                index += 1


def job_manifest(settings: EmbedSettings, ids: list[str], lengths: list[int]) -> dict:
    import hashlib

    digest = hashlib.sha256(json.dumps([ids, lengths]).encode()).hexdigest()
    return {"settings": asdict(settings), "records": len(ids), "shard_records": SHARD_RECORDS, "inputs": digest}


def distributed_context() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's (or accelerate's) environment; (0, 1, 0) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")  # only to coordinate the ranks: models run on their own devices
        OWN_PROCESS_GROUP.append(True)
    return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0"))


def barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


def end_distributed(world: int) -> None:
    """A last barrier; closes the process group if `distributed_context` opened it."""
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        if OWN_PROCESS_GROUP:
            dist.destroy_process_group()
            OWN_PROCESS_GROUP.clear()
