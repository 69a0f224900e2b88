"""Reading sequences and writing outputs, for `multimolecule.api` and the command line.

Reusable pieces, light to import (no torch or transformers at import time, so the command line can use them
while it parses its arguments):

- `atomic_output(path, overwrite=..., directory=...)`: write a file or directory through a temporary beside it,
  renamed into place on success and removed on any error, Ctrl-C (SIGINT) or SIGTERM; honours the umask.
- `check_overwrite(path, overwrite)`: refuse to replace an existing output unless asked to.
- `check_positive(name, value)`, `check_choice(name, value, choices)`, `check_dtype(name, value)`,
  `check_device(name, value)`: one-line `OptionError`s (an `InputError`) naming the option, the value and what
  is allowed (for a device, what is available here).
- `read_sequences`, `clean_sequence`, `as_records`: FASTA (plain or gzip) or one sequence per line -> DNA.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

MASK = "<mask>"
DNA = "ACGT"
IUPAC = set("ACGTUNRYSWKMBDHV")  # accepted in input; ambiguity codes are read as N
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
OUTPUT_SUFFIXES = (".safetensors", ".npy", ".npz")


class InputError(ValueError):
    """Input the commands cannot use (a missing file, a record that is not DNA...); the message says why."""


class OptionError(InputError):
    """An option value out of range or unknown; the message names the option, the value and what is allowed."""


# Spellings of a mask other than ours: other tools' `[MASK]`, our token in upper case...
MASK_LOOKALIKE = re.compile(r"\[mask\]|<mask>|\{mask\}", re.IGNORECASE)


def clean_sequence(sequence: str, name: str, allow_mask: bool = False) -> str:
    """Upper case, no whitespace, U as T, IUPAC ambiguity codes as N; raises `InputError` if it is not DNA.

    Example:
        >>> clean_sequence("acgu nry", "s1")
        'ACGTNNN'
        >>> clean_sequence("AC[MASK]GT", "s1", allow_mask=True)
        Traceback (most recent call last):
        ...
        multimolecule.seqio.InputError: s1 contains '[MASK]': the mask token is <mask>
    """
    parts = "".join(sequence.split()).split(MASK) if allow_mask else ["".join(sequence.split())]
    cleaned = []
    for part in parts:
        lookalike = MASK_LOOKALIKE.search(part)
        if lookalike:
            raise InputError(
                f"{name} contains {lookalike.group()!r}: the mask token is {MASK}"
                if allow_mask
                else f"{name} contains {lookalike.group()!r}: masks are not allowed here"
            )
        part = part.upper()
        bad = sorted(set(part) - IUPAC)
        if bad:
            shown = ", ".join(repr(c) for c in bad[:5])
            raise InputError(f"{name} is not a DNA sequence: unexpected characters {shown}")
        cleaned.append(re.sub("[RYSWKMBDHV]", "N", part.replace("U", "T")))
    text = MASK.join(cleaned)
    if not text:
        raise InputError(f"{name} is empty")
    if not any(base in text for base in DNA):
        raise InputError(f"{name} has no A/C/G/T bases")
    return text


def read_sequences(path: str | os.PathLike) -> dict[str, str]:
    """{id: raw sequence} from a FASTA file (plain or gzip) or a file of one sequence per line; `-` is stdin.

    Lines starting with `;` or `#` are comments. Records keep their order; repeated ids get a `_2`, `_3` suffix.
    Records without an id are called `seqN` (N counts records from 1; in a one-per-line file, the line number).
    FASTQ is refused with a message saying so.
    """
    if str(path) == "-":
        raw = sys.stdin.buffer.read()
    else:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"input file not found: {path}")
        raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise InputError(f"{path} is a damaged gzip file: {error}") from error
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{path} is not a text FASTA file (binary data at byte {error.start})") from error
    # (line number, stripped line) of every line that is neither blank nor a comment
    lines = [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), 1)
        if line.strip() and line.lstrip()[0] not in ";#"
    ]
    if not lines:
        raise InputError(f"{path} contains no sequences")
    if lines[0][1].startswith("@") and len(lines) > 2 and lines[2][1].startswith("+"):
        raise InputError(f"{path} looks like FASTQ, which is not supported: convert it to FASTA first")
    records: dict[str, list[str]] = {}
    if lines[0][1].startswith(">"):
        current = ""
        for _, line in lines:
            if line.startswith(">"):
                current = unique(line[1:].split()[0] if line[1:].split() else f"seq{len(records) + 1}", records)
                records[current] = []
            else:
                records[current].append(line)
    else:
        for number, line in lines:
            if line.startswith(">"):
                raise InputError(f"{path}: line {number} is a FASTA header, but the file does not start with one")
            records[unique(f"seq{number}", records)] = [line]
    return {name: "".join(parts) for name, parts in records.items()}


def unique(name: str, taken: Mapping[str, object]) -> str:
    candidate, count = name, 1
    while candidate in taken:
        count += 1
        candidate = f"{name}_{count}"
    return candidate


Inputs = str | os.PathLike | Sequence[str] | Mapping[str, str]  # a file, sequences, or {id: sequence}


def looks_like_sequence(text: str) -> bool:
    """True for text made only of IUPAC bases (any case), whitespace and `<mask>`: a sequence, not a file name.

    Example:
        >>> looks_like_sequence("acgt<mask>NNA"), looks_like_sequence("sequences.fasta")
        (True, False)
    """
    return bool(re.fullmatch(r"(?:[ACGTUNRYSWKMBDHV\s]|<mask>)+", text, re.IGNORECASE)) and bool(text.strip())


def as_records(inputs: Inputs, allow_mask: bool = False) -> dict[str, str]:
    """A file path, a sequence, a list of sequences or an {id: sequence} mapping -> {id: cleaned sequence}.

    A string is a file name unless it `looks_like_sequence` and no such file exists; sequences without ids are
    called `seq1`, `seq2`...

    Example:
        >>> as_records({"gene": "acgt"}), as_records("ACGTN")
        ({'gene': 'ACGT'}, {'seq1': 'ACGTN'})
    """
    if isinstance(inputs, str) and looks_like_sequence(inputs) and not os.path.exists(inputs):
        records = {"seq1": inputs}
    elif isinstance(inputs, (str, os.PathLike)):
        records = read_sequences(inputs)
    elif isinstance(inputs, Mapping):
        records = dict(inputs)
    else:
        records = {f"seq{number}": sequence for number, sequence in enumerate(inputs, 1)}
    if not records:
        raise InputError("no sequences given")
    return {name: clean_sequence(sequence, f"sequence {name!r}", allow_mask) for name, sequence in records.items()}


def revcomp(sequence: str) -> str:
    """The reverse complement of a cleaned sequence.

    Example:
        >>> revcomp("AACGN")
        'NCGTT'
    """
    return sequence.translate(COMPLEMENT)[::-1]


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


def check_output(path: str | os.PathLike, per_base: bool, overwrite: bool = False) -> None:
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
    check_output(path, result.per_base is not None, overwrite)
    arrays = {"embeddings": result.embeddings.float().contiguous()}
    for i, states in enumerate(result.per_base or []):
        arrays[f"per_base.{i}"] = states.float().contiguous()
    with atomic_output(path, overwrite=overwrite) as temporary:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import save_file

            save_file(arrays, temporary, metadata={"ids": json.dumps(result.ids), **(result.metadata or {})})
        else:
            import numpy as np

            with open(temporary, "wb") as file:
                if path.suffix.lower() == ".npy":
                    np.save(file, arrays["embeddings"].numpy())
                else:
                    np.savez(file, ids=np.array(result.ids), **{k: v.numpy() for k, v in arrays.items()})
    return path


# ----------------------------------------------------------------------------------------------------- outputs


def check_overwrite(path: str | os.PathLike, overwrite: bool) -> None:
    """Raise `InputError` if `path` exists and `overwrite` is False.

    Example:
        >>> check_overwrite(".", overwrite=False)
        Traceback (most recent call last):
        ...
        multimolecule.seqio.InputError: output exists: . (pass --overwrite, or overwrite=True, to replace it)
    """
    if not overwrite and os.path.lexists(path):
        raise InputError(f"output exists: {path} (pass --overwrite, or overwrite=True, to replace it)")


def current_umask() -> int:
    """The process's file-mode creation mask (read without changing it where the system allows)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def honour_umask(path: Path) -> None:
    """Give `path` (and, for a directory, everything in it) the permissions of a new file under the umask: some
    writers (`tempfile`, safetensors) create files 0600 whatever the umask."""
    umask = current_umask()
    for root, folders, files in os.walk(path) if path.is_dir() else [(path.parent, [], [path.name])]:
        for name in folders:
            os.chmod(os.path.join(root, name), 0o777 & ~umask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~umask)
    if path.is_dir():
        os.chmod(path, 0o777 & ~umask)


class Terminated(KeyboardInterrupt):
    """Raised inside `atomic_output` when SIGTERM arrives, so that cleanup runs; `signum` is the signal."""

    def __init__(self, signum: int):
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


@contextmanager
def raise_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises `Terminated` (a `KeyboardInterrupt`) instead of ending the process at once,
    so `finally` blocks run. Only in the main thread, and only if nobody else handles SIGTERM."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def terminate(signum, frame):
        raise Terminated(signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write to; it becomes `path` only when the block succeeds.

    - Refuses (`InputError`) if `path` exists, unless `overwrite`; then the old output is replaced only once the
      new one is complete (a rename, so readers see the old or the new output, never a mix).
    - The temporary (`.NAME.XXXX.tmp`, a file, or with `directory=True` an empty directory) is removed on any
      error, on Ctrl-C (SIGINT) and on SIGTERM (which raises `Terminated`, a `KeyboardInterrupt`, in the block).
    - Permissions follow the umask, as for any new file (0644 files / 0755 directories with umask 022); missing
      parent directories are created.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with atomic_output(folder / "out.txt") as temporary:
        ...     _ = temporary.write_text("done")
        >>> sorted(p.name for p in folder.iterdir()), (folder / "out.txt").read_text()
        (['out.txt'], 'done')
        >>> with atomic_output(folder / "out.txt") as temporary:
        ...     pass
        Traceback (most recent call last):
        ...
        multimolecule.seqio.InputError: output exists: ... (pass --overwrite, or overwrite=True, to replace it)
    """
    path = Path(path)
    check_overwrite(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    with raise_on_sigterm():
        if directory:
            temporary = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        else:
            handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(handle)
            temporary = Path(name)
        old = None
        try:
            yield temporary
            check_overwrite(path, overwrite)  # something else may have written it meanwhile
            honour_umask(temporary)
            if directory and path.is_dir() and not path.is_symlink():
                old = path.with_name(f"{temporary.name}.old")  # a directory cannot be renamed over another one
                path.rename(old)
            os.replace(temporary, path)
        finally:
            for leftover in (temporary, old):
                if leftover is not None and leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                elif leftover is not None and os.path.lexists(leftover):
                    leftover.unlink()


# ------------------------------------------------------------------------------------------------- validation

DTYPES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16"}
DTYPES |= {"bfloat16": "bfloat16", "bf16": "bfloat16"}


def check_positive(name: str, value: int | None, allow_zero: bool = False) -> int | None:
    """`value` if it is an integer of at least 1 (0 too with `allow_zero`), or None; else an `InputError`.

    Example:
        >>> check_positive("--top-k", 3)
        3
        >>> check_positive("--top-k", 0)
        Traceback (most recent call last):
        ...
        multimolecule.seqio.OptionError: --top-k must be an integer of at least 1, got 0
    """
    smallest = 0 if allow_zero else 1
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < smallest):
        raise OptionError(f"{name} must be an integer of at least {smallest}, got {value!r}")
    return value


def check_choice(name: str, value: str | None, choices: Sequence[str]) -> str | None:
    """`value` if it is one of `choices` (or None); else an `InputError` listing them.

    Example:
        >>> check_choice("--pooling", "max", ("mean", "cls"))
        Traceback (most recent call last):
        ...
        multimolecule.seqio.OptionError: --pooling must be one of mean, cls; got 'max'
    """
    if value is not None and value not in choices:
        raise OptionError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def check_dtype(name: str, value: str | None) -> str | None:
    """The canonical name (`float32`, `float16` or `bfloat16`) of a dtype name or alias (`fp16`, `bf16`...).

    Example:
        >>> check_dtype("--dtype", "bf16")
        'bfloat16'
        >>> check_dtype("--dtype", "fp8")
        Traceback (most recent call last):
        ...
        multimolecule.seqio.OptionError: --dtype must be one of float32, float16, bfloat16; got 'fp8'
    """
    if value is None:
        return None
    if str(value).removeprefix("torch.") not in DTYPES:
        raise OptionError(f"{name} must be one of float32, float16, bfloat16; got {value!r}")
    return DTYPES[str(value).removeprefix("torch.")]


def available_devices() -> list[str]:
    """The devices torch can use here: `cpu`, then `cuda:0`..., `mps`, `xpu:0`... (imports torch)."""
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    if hasattr(torch, "xpu") and torch.xpu.is_available():
        devices += [f"xpu:{i}" for i in range(torch.xpu.device_count())]
    return devices


def check_device(name: str, value: str | None) -> torch.device:
    """The `torch.device` for `value` (`auto` or None: the first accelerator present, else the CPU), checked to be
    present here; else an `InputError` naming the option, the value and the devices that are available.

    Example:
        >>> check_device("--device", "cpu")
        device(type='cpu')
        >>> check_device("--device", "gpu")
        Traceback (most recent call last):
        ...
        multimolecule.seqio.OptionError: --device 'gpu' is not a device name (use auto, cpu, cuda, cuda:N, mps)...
    """
    import torch

    available = available_devices()
    if value in (None, "auto"):
        return torch.device(available[1] if len(available) > 1 else "cpu")
    try:
        device = torch.device(value)
    except (RuntimeError, TypeError) as error:
        raise OptionError(
            f"{name} {value!r} is not a device name (use auto, cpu, cuda, cuda:N, mps); available here: "
            + ", ".join(available)
        ) from error
    wanted = str(device) if device.index is not None else device.type
    if device.type != "cpu" and not any(d == wanted or d.split(":")[0] == wanted for d in available):
        raise OptionError(f"{name} {value!r} is not available on this machine; available: {', '.join(available)}")
    return device
