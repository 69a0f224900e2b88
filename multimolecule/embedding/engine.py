"""The `embed` job: records cut into shards (`utils.runner`), embedded window by window, streamed to the output.

A record's results go to the output (`EmbeddingWriter`) as soon as its last window is done; per-base vectors are
never all held in memory. Under `torchrun` (or with `resume`) every shard is written to `<output>.shards/` as it
finishes, stamped with the digest of its records, and rank 0 merges the shards, in order, into the output.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors import safe_open

from ..demo import DEFAULT_MODEL
from ..models import cached_model, special_template, species_condition, token_lengths, trained_window
from ..seqio import Inputs, as_records
from ..utils import InputError, check_apart, check_choice, check_positive, raise_on_sigterm
from ..utils.batching import default_max_tokens
from ..utils.progress import Progress, progress_bar
from ..utils.runner import Shard, ShardedJob, check_job_output, digest, item_digest, weights_digest
from .outputs import Embeddings, EmbeddingWriter, MemoryWriter, check_embedding_output, stored_result
from .windows import EmbedSettings, WindowEmbedder, default_stride

POOLINGS = ("mean", "mean-all", "cls")


@torch.no_grad()
def embed(
    inputs: Inputs,
    output: str | os.PathLike | None = None,
    model: str | None = None,
    pooling: str | None = None,
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
    species: str | None = None,
) -> Embeddings:
    """Embed DNA sequences with the last hidden layer of `model`.

    Args:
        inputs: a FASTA file (plain or gzip) or a file of one sequence per line (`str`/`Path`), a list of
            sequences, or an {id: sequence} mapping.
        output: if given, the result is written there as it is computed (`.safetensors`, `.npz`, or `.npy`
            without `per_base`), atomically; an existing file is replaced only with `overwrite=True`. Per-base
            vectors are then read back from the file when indexed.
        pooling: `"mean"` over the sequence's tokens (`<cls>`, `<eos>` and padding excluded), `"mean-all"` over
            every real token, `<cls>` and `<eos>` included (DNABERT-S's embedding), or `"cls"`. Default: the
            model's `config.embedding_pooling` if it names one (`"mean-all"` for DNABERT-S), else `"mean"`.
        per_base: also return one vector per base: each base takes its token's vector (`expand_to_bases`).
        reverse_complement: average with the reverse complement's embeddings (per-base ones flipped back).
        batch_size: at most this many windows per forward pass (default: as many as `max_tokens` allows).
        max_tokens: token budget of a forward pass, padding included (default 1024 on CPU, 32768 on GPUs);
            windows are batched longest first under it (`multimolecule.utils.batching`), results come back in order.
        window: tokens per window, special tokens included (default: the model's trained length, `max_tokens`).
        stride: tokens between window starts (default: half a window with `per_base`, a whole window without).
        resume: keep finished shards in `<output>.shards/` and skip them when the same job (same sequences,
            weights, dtype and settings) is run again; another job's shards are refused in one line.
        overwrite: replace an existing `output`.
        species: the species a species-conditioned model (a post-trained NTv3) is conditioned on; it needs one,
            and any other model refuses one.

    Sequences longer than a window are cut into windows every `stride` tokens (the last window ends at the
    sequence's end). Per-base vectors are averaged where windows overlap; the per-sequence vector is the mean of
    the windows' pooled vectors. Under `torchrun --nproc-per-node N -m multimolecule embed ...` each process embeds
    every N-th shard of 64 records (`multimolecule.utils.runner`) and rank 0 merges them into `output`.

    Example:
        >>> from multimolecule.api import embed
        >>> result = embed(["ACGTACGTAGCTAGCTAGGATCC", "TTGACA"], per_base=True)
        >>> result.embeddings.shape, [tuple(x.shape) for x in result.per_base]
        (torch.Size([2, 128]), [(23, 128), (6, 128)])
    """
    if pooling is not None:
        check_choice("pooling", pooling, POOLINGS)
    for name, value in (("batch_size", batch_size), ("max_tokens", max_tokens), ("window", window), ("stride", stride)):
        check_positive(name, value)
    if output is not None:
        check_apart(output, [inputs] if isinstance(inputs, (str, os.PathLike)) else [])
        check_embedding_output(output, per_base, overwrite)
    check_job_output(output, resume)
    records = as_records(inputs)
    names, sequences = list(records), list(records.values())
    job = ShardedJob(output, [item_digest(n, s) for n, s in records.items()], {}, resume, ".safetensors", read_stamp)
    if job.world > 1 and device in (None, "auto") and torch.cuda.is_available():
        device = f"cuda:{job.local_rank}"
    encoder, tokenizer = cached_model(model, device, dtype, "feature-extraction")
    condition = species_condition(encoder.config, species)
    pooling = pooling or getattr(encoder.config, "embedding_pooling", None) or "mean"
    check_choice("pooling", pooling, POOLINGS)
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
        species=species,
    )
    embedder = WindowEmbedder(encoder, tokenizer, template, token_lengths(encoder, tokenizer), settings, condition)
    lengths = [len(s) for s in sequences]
    hidden = encoder.config.hidden_size
    mine = job.mine()
    bar = progress_bar(sum(lengths[i] for shard in mine for i in shard.items), progress and job.rank == 0)
    progress_state = Progress(bar, sum(len(shard.items) for shard in mine))

    def embed_shard(shard: Shard, writer) -> None:
        """One shard's records into `writer`: the output (no shards kept) or the shard's own file."""
        texts = [sequences[i] for i in shard.items]
        if shard.path is None:
            sink = functools.partial(record_sink, writer, shard.items, progress_state)
            embedder.run(texts, sink, progress_state.tick)
            return
        if job.finished(shard):  # finished before an interruption (resume)
            progress_state.tick(sum(lengths[i] for i in shard.items))
            progress_state.finished(len(shard.items))
            return
        stamp = {"shard_inputs": shard.digest, "shard_rows": str(len(shard.items))}
        shard_lengths = [lengths[i] for i in shard.items]
        ids = [names[i] for i in shard.items]
        with EmbeddingWriter(shard.path, ids, shard_lengths, hidden, per_base, stamp, overwrite=True) as shard_out:
            sink = functools.partial(record_sink, shard_out, range(len(shard.items)), progress_state)
            embedder.run(texts, sink, progress_state.tick)

    with raise_on_sigterm(), bar:  # the bar is closed before an error or interruption is reported
        if output is None:
            writer = MemoryWriter(len(names), hidden)
            for shard in mine:
                embed_shard(shard, writer)
        elif not job.keep:
            job.prepare()  # removes the shards of an earlier resumable run: this one starts afresh
            with EmbeddingWriter(output, names, lengths, hidden, per_base, settings.metadata(), overwrite) as writer:
                for shard in mine:
                    embed_shard(shard, writer)
        else:
            job.manifest.update(job_manifest(encoder, settings, names, sequences) if job.rank == 0 else {})
            job.prepare()
            for shard in mine:
                embed_shard(shard, None)

            def merge(shards: list[Shard]) -> None:
                with EmbeddingWriter(output, names, lengths, hidden, per_base, settings.metadata(), overwrite) as out:
                    merge_shards(shards, out)

            job.merge(merge)
    if output is None:
        return Embeddings(names, writer.embeddings, writer.per_base if per_base else None, settings.metadata(), lengths)
    return stored_result(output, names, per_base, settings.metadata(), lengths)


def job_manifest(encoder, settings: EmbedSettings, names: list[str], sequences: list[str]) -> dict:
    """What binds a shard folder to this job: the sequences (ids and bases), the weights, dtype and settings."""
    return {
        "inputs": {"sequences": digest(names, sequences)},
        "model": weights_digest(encoder.name_or_path),
        "dtype": str(encoder.dtype).removeprefix("torch."),
        "settings": asdict(settings),
    }


def read_stamp(path: Path) -> tuple[str, int]:
    """(digest, rows) of an embedding shard: its `shard_inputs` stamp and the rows of its `embeddings` (-1 when
    they are not as many as its `shard_rows` stamp says)."""
    with safe_open(path, "pt") as file:
        metadata = file.metadata() or {}
        rows = file.get_slice("embeddings").get_shape()[0]
    return metadata.get("shard_inputs", ""), rows if metadata.get("shard_rows") == str(rows) else -1


def merge_shards(shards: list[Shard], writer: EmbeddingWriter) -> None:
    """Copy every shard's records, in order, into `writer`, one record at a time."""
    index = 0
    for shard in shards:
        with safe_open(shard.path, "pt") as file:
            embeddings = file.get_tensor("embeddings")
            for row in range(embeddings.shape[0]):
                per_base = file.get_tensor(f"per_base.{row}") if writer.per_base else None
                writer.write(index, embeddings[row], per_base)
                index += 1


def record_sink(writer, positions: Sequence[int], progress: Progress, index: int, *vectors) -> None:
    """Where a finished record goes: record `index` of a shard is record `positions[index]` of `writer`."""
    writer.write(positions[index], *vectors)
    progress.finished()
