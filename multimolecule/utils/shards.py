"""Shards of a job's records, kept on disk under `torchrun` or for `resume`: the cut, the folder, its manifest.

Records are cut, in input order, into shards of `SHARD_RECORDS`; shard `k` belongs to rank `k % world_size`. The
shards of one job live in `<output>.shards/` beside its output, with a `manifest.json` of the job's settings and
inputs: a resumed job keeps them only if the manifest matches. Used by `embed` and `score-variants`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .distributed import broadcast_error
from .errors import InputError

SHARD_RECORDS = 64


def shard_ranges(count: int) -> list[range]:
    """Record indices of each shard: `SHARD_RECORDS` consecutive records.

    Example:
        >>> [(r.start, r.stop) for r in shard_ranges(130)]
        [(0, 64), (64, 128), (128, 130)]
    """
    return [range(start, min(start + SHARD_RECORDS, count)) for start in range(0, count, SHARD_RECORDS)]


def shard_directory(output: Path) -> Path:
    return output.with_name(output.name + ".shards")


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


def prepare_shards_everywhere(directory: Path, manifest: dict, resume: bool, rank: int) -> None:
    """`prepare_shards` on rank 0; every rank then raises rank 0's error, if any, instead of waiting for it.

    The error message goes to the other ranks with `broadcast_object_list`, which also keeps the ranks in step.
    """
    message = None
    if rank == 0:
        try:
            prepare_shards(directory, manifest, resume)
        except InputError as error:
            message = str(error)
    message = broadcast_error(message)
    if message is not None:
        raise InputError(message)
