"""One runner for sharded jobs (`embed`, `score-variants`, `benchmark`): shards, manifests, resuming.

A job is a list of work items in input order, each with a stable digest of what it is computed from
(`item_digest(key, *content)`). The items are cut into shards of `SHARD_RECORDS`; shard `k` belongs to worker
`k % workers`, the workers being the `torchrun` ranks of every part of `--shard i/n` (part `i` of `n` runs its
ranks as workers `(i - 1) * world .. i * world - 1` of `n * world`). Without shards kept, one process computes
every shard and writes its output directly.

With several processes, a part, or `resume`, every finished shard is kept in `<output>.shards/` as
`shard-KKKKK-of-NNNNN<suffix>`, beside a `manifest.json` that binds the folder to one job: the digest of every
input (`inputs`), of the model's files (`model`, `weights_digest`), the dtype and every setting. Both are
written atomically. A resumed job reuses the folder only for the same job; otherwise it stops with one line
naming what differs ("differing: the reference"); a run without `resume` starts afresh (the folder is removed).
Each shard carries the digest of its items and its row count (its stamp), checked before it is reused or merged:
a planted, short or damaged shard is refused in one line. Once every shard is there, rank 0 merges them, in
order, and removes the folder. A damaged manifest (a 0-byte file left by a full disk) is named in one line.

A job whose items are whole runs of their own (a benchmark's training runs) takes `independent=True`: under
`torchrun` each rank is then a worker alone, as a part of `--shard i/n` is (no process group; the launcher's
variables are taken out of the environment, so that a `Trainer` inside does not join the ranks into one
data-parallel run; the rank sees only its own GPU), and whichever worker finds every shard finished merges. The
merge of parts and independent ranks holds `<output>.shards.lock`, so that two finishing at once merge one after
the other; `merge(..., partial=...)` lets a worker report what is finished while other parts still run.

Example:
    >>> import tempfile
    >>> output = Path(tempfile.mkdtemp()) / "squares.jsonl"
    >>> items = [item_digest(str(n), n) for n in range(100)]
    >>> job = ShardedJob(output, items, {"inputs": {"numbers": digest(*items)}}, resume=True, suffix=".jsonl",
    ...                  read_stamp=read_jsonl_stamp)
    >>> job.prepare()
    >>> for shard in job.mine():
    ...     if not job.finished(shard):
    ...         write_jsonl_shard(shard.path, shard.digest, [{"square": n * n} for n in shard.items])
    >>> job.merge(lambda shards: [row for s in shards for row in read_jsonl_shard(s.path)][-1])
    {'square': 9801}
    >>> job.directory.exists()
    False
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .distributed import broadcast_error, distributed_context, end_distributed, rank, synchronize, world_size
from .errors import InputError, OptionError
from .files import atomic_output, lock_holder

SHARD_RECORDS = 64
MANIFEST = "manifest.json"
# what torchrun (and torch.distributed's elastic agent) tells a process; an independent worker removes them
LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK")
LAUNCHER_VARIABLES += ("ROLE_WORLD_SIZE", "GROUP_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID")


def digest(*parts) -> str:
    """A SHA-256 hex digest of JSON-serialisable `parts` (strings, numbers, lists, dicts).

    Example:
        >>> digest("ACGT", 1)[:12]
        '68f673855c1b'
    """
    return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def item_digest(key: str, *content) -> str:
    """The digest of one work item: its stable `key` (a record id, a variant) and what it is computed from."""
    return digest(key, *content)


def weights_digest(model: str | os.PathLike) -> str:
    """A digest of a model's files: every file at the top of its folder (weights, config, tokenizer, a fine-tuned
    model's task), by name and content. `model` is a folder, a file, or a Hub id (its cached snapshot); the digest
    of the name itself where none of these is found.

    The loaded module is not hashed: the tensors a class initialises anew at each load (DNABERT-2's pooler, a
    head not in the checkpoint) would make every load another model.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "model.safetensors").write_bytes(b"weights")
        >>> before = weights_digest(folder)
        >>> _ = (folder / "model.safetensors").write_bytes(b"other weights")
        >>> weights_digest(folder) == before
        False
    """
    path = Path(model).expanduser()
    if not path.exists():
        path = hub_snapshot(str(model)) or path
    if not path.exists():
        return digest("name", str(model))
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")) if path.is_dir() else [path]
    hasher = hashlib.sha256()
    for file in files:
        hasher.update(f"{file.name}:{file.stat().st_size};".encode())
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(chunk)
    return hasher.hexdigest()


def hub_snapshot(name: str) -> Path | None:
    """The cached snapshot folder of Hub id `name` (where its `config.json` is), or None."""
    try:
        from huggingface_hub import try_to_load_from_cache  # here, not at the top: the CLI parses without it

        found = try_to_load_from_cache(name, "config.json")
    except Exception:  # not a Hub id (a malformed name), or no cache
        return None
    return Path(found).parent if isinstance(found, str) else None


def parse_part(text: str | None) -> tuple[int, int] | None:
    """`--shard i/n` as (i, n), 1 <= i <= n: this process runs the i-th of n parts of the job.

    Example:
        >>> parse_part("2/4"), parse_part(None)
        ((2, 4), None)
        >>> parse_part("5/4")
        Traceback (most recent call last):
        ...
        multimolecule.utils.errors.OptionError: shard must be i/n with 1 <= i <= n, got '5/4'
    """
    if text is None:
        return None
    index, _, count = str(text).partition("/")
    if not (index.isascii() and count.isascii() and index.isdigit() and count.isdigit()):
        raise OptionError(f"shard must be i/n with 1 <= i <= n, got {text!r}", "shard")
    if not 1 <= int(index) <= int(count):
        raise OptionError(f"shard must be i/n with 1 <= i <= n, got {text!r}", "shard")
    return int(index), int(count)


def independent_part(part: tuple[int, int] | None) -> tuple[int, int] | None:
    """This process as a part of its own: under `torchrun`, rank r of w in part (i, n) of `--shard` is part
    ((i - 1) * w + r + 1, n * w). Detaches the process from the launcher (see the module's docstring): call it
    before CUDA is first used. A single process keeps `part`.

    Example:
        >>> independent_part((2, 3))
        (2, 3)
    """
    processes = world_size()
    if processes <= 1:
        return part
    index, count = part or (1, 1)
    process, local = rank(), int(os.environ.get("LOCAL_RANK", "0"))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = visible.split(",") if visible else None
    os.environ["CUDA_VISIBLE_DEVICES"] = devices[local % len(devices)] if devices else str(local)
    for name in LAUNCHER_VARIABLES:
        os.environ.pop(name, None)
    return (index - 1) * processes + process + 1, count * processes


@contextmanager
def waiting_lock(path: Path, poll: float = 0.1) -> Iterator[None]:
    """Hold `<path>.lock` (the process id inside), waiting while another running process holds it; a lock left
    by a process that no longer runs is taken over."""
    lock = path.with_name(path.name + ".lock")
    while True:
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            if lock_holder(lock) is None:
                lock.unlink(missing_ok=True)
            else:
                time.sleep(poll)
    with os.fdopen(handle, "w") as file:
        file.write(f"{os.getpid()}\n")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def check_job_output(output: str | os.PathLike | None, resume: bool, part: tuple[int, int] | None = None) -> None:
    """Refuse `resume` (or a part of a job) without an output file, before any work: shards are kept beside it."""
    if output is None and (resume or part is not None):
        raise InputError("resume needs an output file: its finished shards are kept beside it")


def shard_directory(output: str | os.PathLike) -> Path:
    """Where the shards of the job writing `output` are kept: `<output>.shards/` beside it."""
    output = Path(output)
    return output.with_name(output.name + ".shards")


def shard_path(directory: Path, shard: int, shards: int, suffix: str) -> Path:
    return directory / f"shard-{shard:05d}-of-{shards:05d}{suffix}"


def difference(found: dict, expected: dict) -> str:
    """What differs between two manifests, in words.

    Example:
        >>> difference({"inputs": {"reference": "a"}, "dtype": "float32", "settings": {"window": 60}},
        ...            {"inputs": {"reference": "b"}, "dtype": "float32", "settings": {"window": 80}})
        'the reference, setting window'
    """
    names = []
    found_inputs, inputs = found.get("inputs") or {}, expected.get("inputs") or {}
    names += [
        f"the {name}" for name in sorted(set(found_inputs) | set(inputs)) if found_inputs.get(name) != inputs.get(name)
    ]
    if found.get("model") != expected.get("model"):
        names.append("the model's weights")
    if found.get("dtype") != expected.get("dtype"):
        names.append(f"the dtype ({found.get('dtype')} then, {expected.get('dtype')} now)")
    found_settings, settings = found.get("settings") or {}, expected.get("settings") or {}
    changed = [
        key for key in sorted(set(found_settings) | set(settings)) if found_settings.get(key) != settings.get(key)
    ]
    if changed:
        names.append(("settings " if len(changed) > 1 else "setting ") + ", ".join(changed))
    known = {"inputs", "model", "dtype", "settings"}
    if not names and any(found.get(key) != expected.get(key) for key in (set(found) | set(expected)) - known):
        names.append("the shards' layout")
    return ", ".join(names) or "nothing"


@dataclass(frozen=True)
class Shard:
    """One shard: its number, the indices of its items, its file (None when no shards are kept), its digest."""

    index: int
    items: range
    path: Path | None
    digest: str


class ShardedJob:
    """The shards of one job's items, which of them this process computes, and (kept on disk) their checks.

    Args:
        output: the job's output file; its shards are kept in `<output>.shards/` (None: no output, no shards).
        items: the digest of every work item, in input order (`item_digest`).
        manifest: what the job is: `inputs` ({name: digest}), `model` (`weights_digest`), `dtype`, `settings`.
        resume: keep finished shards and reuse them when the same job is run again.
        suffix: the shards' file suffix (`.jsonl`, `.safetensors`).
        read_stamp: `read_stamp(path) -> (digest, rows)` of a written shard: the digest it was stamped with and
            the rows it actually holds (raising on a damaged file).
        part: (i, n) of `--shard i/n`: this process computes part i of n (shards are then always kept).
        shard_records: items per shard (default `SHARD_RECORDS`).
        independent: under `torchrun`, every rank is a part of its own (`independent_part`), not a rank of one
            process group: for items that are whole runs of their own, such as training runs.
    """

    def __init__(
        self,
        output: str | os.PathLike | None,
        items: Sequence[str],
        manifest: dict,
        resume: bool = False,
        suffix: str = ".jsonl",
        read_stamp: Callable[[Path], tuple[str, int]] | None = None,
        part: tuple[int, int] | None = None,
        shard_records: int | None = None,
        independent: bool = False,
    ):
        check_job_output(output, resume, part)
        if independent:
            part = independent_part(part)
        self.rank, self.world, self.local_rank = distributed_context()
        if output is None and self.world > 1:
            raise InputError("several processes need an output file to write their shards to")
        self.output, self.resume, self.suffix, self.read_stamp = output, resume, suffix, read_stamp or read_jsonl_stamp
        self.part = part
        self.keep = output is not None and (self.world > 1 or resume or part is not None)
        self.directory = shard_directory(output) if output is not None else None
        shard_records = shard_records or SHARD_RECORDS  # read when the job is made (the module's setting)
        ranges = [range(start, min(start + shard_records, len(items))) for start in range(0, len(items), shard_records)]
        self.shards = [
            Shard(
                index,
                indices,
                shard_path(self.directory, index, len(ranges), suffix) if self.keep else None,
                digest(*items[indices.start : indices.stop]),
            )
            for index, indices in enumerate(ranges)
        ]
        self.manifest = {
            **manifest,
            "items": len(items),
            "shard_records": shard_records,
            "suffix": suffix,
            "shards": digest(*(shard.digest for shard in self.shards)),
        }

    @property
    def workers(self) -> tuple[int, int]:
        """(this process's worker number, the number of workers): ranks times parts."""
        index, count = self.part or (1, 1)
        return (index - 1) * self.world + self.rank, count * self.world

    def mine(self) -> list[Shard]:
        """The shards this process computes: every `workers`-th one."""
        worker, workers = self.workers
        return [shard for shard in self.shards if shard.index % workers == worker]

    # ----------------------------------------------------------------------------------------- the folder
    def prepare(self) -> None:
        """Create the shard folder with its manifest (rank 0); a resumed job checks the one there, a job started
        afresh removes it. Every rank then raises rank 0's error, if any, instead of waiting for it."""
        if not self.keep:
            if self.directory is not None and (self.directory / MANIFEST).is_file():
                shutil.rmtree(self.directory)  # a run started afresh: the shards of an earlier one are stale
            return
        message = None
        if self.rank == 0:
            try:
                self._prepare()
            except InputError as error:
                message = str(error)
        message = broadcast_error(message)
        if message is not None:
            raise InputError(message)

    def _prepare(self) -> None:
        manifest_path = self.directory / MANIFEST
        if (self.resume or self.part is not None) and manifest_path.exists():
            return self._check_manifest(manifest_path)
        if os.path.lexists(self.directory) and not manifest_path.is_file():
            raise InputError(f"{self.directory} is in the way: not a folder of shards (no {MANIFEST}); move it")
        if self.directory.exists():
            shutil.rmtree(self.directory)  # shards of an earlier run, started afresh
        try:  # the folder appears with its manifest, at once
            with atomic_output(self.directory, directory=True) as temporary:
                (temporary / MANIFEST).write_text(json.dumps(self.manifest, indent=1, sort_keys=True))
        except InputError:
            if self.part is None or not manifest_path.exists():
                raise
            self._check_manifest(manifest_path)  # another part of the job created it meanwhile

    def _check_manifest(self, path: Path) -> None:
        found = read_manifest(path)
        if found != self.manifest:
            raise InputError(
                f"{self.directory} holds shards of another job (differing: {difference(found, self.manifest)}); "
                "remove it, or run without --resume to start afresh"
            )

    def finished(self, shard: Shard) -> bool:
        """Whether `shard` is already written (resume): its stamp must be this shard's digest and row count."""
        if shard.path is None or not shard.path.exists():
            return False
        try:
            stamped, rows = self.read_stamp(shard.path)
        except Exception as error:  # any reader's error: the file is not a readable shard
            raise InputError(
                f"{shard.path} is damaged ({type(error).__name__}); remove it to compute the shard again"
            ) from None
        if stamped != shard.digest:
            raise InputError(f"{shard.path} was not written for these inputs; remove it to compute the shard again")
        if rows != len(shard.items):
            raise InputError(
                f"{shard.path} holds {rows} rows, not {len(shard.items)}; remove it to compute the shard again"
            )
        return True

    def merge(
        self, merge: Callable[[list[Shard]], object], partial: Callable[[list[Shard]], object] | None = None
    ) -> object:
        """Wait for every rank; rank 0 checks every shard, calls `merge(shards)` and removes the folder. While
        another part's shards are missing it calls `partial(finished shards)` instead, if given. Parts (and
        independent ranks) take turns (`waiting_lock`), so that the last to finish merges everything.

        Returns what `merge` (or `partial`) returned (None on other ranks, or while shards are missing and no
        `partial` is given)."""
        synchronize()
        message, result = None, None
        if self.rank == 0:
            try:
                with waiting_lock(self.directory):
                    finished = [shard for shard in self.shards if self.finished(shard)]
                    if len(finished) == len(self.shards):
                        result = merge(self.shards)
                        shutil.rmtree(self.directory, ignore_errors=True)
                    elif partial is not None:
                        result = partial(finished)
            except InputError as error:
                message = str(error)
        message = broadcast_error(message)
        end_distributed()
        if message is not None:
            raise InputError(message)
        return result


def read_manifest(path: Path) -> dict:
    """The manifest at `path`, or one line naming it if it is damaged (empty, cut short, not a JSON object)."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        manifest = None
    if not isinstance(manifest, dict):
        raise InputError(f"{path} is damaged (not a job manifest); remove {path.parent} to start afresh")
    return manifest


# ------------------------------------------------------------------------------------ JSON-lines shards
def write_jsonl_shard(path: Path, shard_digest: str, rows: Sequence[dict]) -> None:
    """Write `rows` as a JSON-lines shard, atomically, after a stamp line of its digest and row count."""
    with atomic_output(path) as temporary:
        stamp = json.dumps({"shard": {"inputs": shard_digest, "rows": len(rows)}})
        temporary.write_text("".join(line + "\n" for line in [stamp, *map(json.dumps, rows)]))


def read_jsonl_stamp(path: Path) -> tuple[str, int]:
    """(digest, rows held) of a JSON-lines shard; a file without a stamp line gives an empty digest."""
    lines = path.read_text().splitlines()
    stamp = json.loads(lines[0]).get("shard") if lines else None
    if not isinstance(stamp, dict) or not isinstance(stamp.get("rows"), int):
        return "", len(lines)
    rows = [json.loads(line) for line in lines[1:]]
    if not all(isinstance(row, dict) for row in rows):
        raise ValueError("a row is not an object")
    return str(stamp.get("inputs")), len(rows)


def read_jsonl_shard(path: Path) -> list[dict]:
    """The rows of a JSON-lines shard (its stamp line left out)."""
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]
