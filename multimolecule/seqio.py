"""Reading sequences (FASTA, plain or gzip, or one per line) and writing embeddings, for `multimolecule.api`."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

MASK = "<mask>"
DNA = "ACGT"
IUPAC = set("ACGTUNRYSWKMBDHV")  # accepted in input; ambiguity codes are read as N
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
OUTPUT_SUFFIXES = (".safetensors", ".npy", ".npz")


class InputError(ValueError):
    """Input the commands cannot use (a missing file, a record that is not DNA...); the message says why."""


def clean_sequence(sequence: str, name: str, allow_mask: bool = False) -> str:
    """Upper case, no whitespace, U as T, IUPAC ambiguity codes as N; raises `InputError` if it is not DNA.

    Example:
        >>> clean_sequence("acgu nry", "s1")
        'ACGTNNN'
    """
    parts = "".join(sequence.split()).split(MASK) if allow_mask else ["".join(sequence.split())]
    cleaned = []
    for part in parts:
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
    lines = [line.strip() for line in io.StringIO(text) if line.strip() and line.lstrip()[0] not in ";#"]
    if not lines:
        raise InputError(f"{path} contains no sequences")
    records: dict[str, list[str]] = {}
    if lines[0].startswith(">"):
        current = ""
        for line in lines:
            if line.startswith(">"):
                current = unique(line[1:].split()[0] if line[1:].split() else f"seq{len(records) + 1}", records)
                records[current] = []
            else:
                records[current].append(line)
    else:
        for number, line in enumerate(lines, 1):
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


def as_records(inputs: Inputs, allow_mask: bool = False) -> dict[str, str]:
    """A file path, a list of sequences or an {id: sequence} mapping -> {id: cleaned sequence}."""
    if isinstance(inputs, (str, os.PathLike)):
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

    def save(self, path: str | os.PathLike) -> Path:
        """Write to `.safetensors`, `.npz` or `.npy` (chosen by suffix), atomically: see `docs/cli.md`."""
        return save_embeddings(self, path)


def check_output(path: str | os.PathLike, per_base: bool) -> None:
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"unsupported output {path}: use a .safetensors, .npz or .npy file name")
    if suffix == ".npy" and per_base:
        raise InputError("a .npy file holds one array: write per-base embeddings to .safetensors or .npz")
    if Path(path).is_dir():
        raise InputError(f"output {path} is a directory")


def save_embeddings(result: Embeddings, path: str | os.PathLike) -> Path:
    """Write `result` by suffix, through a temporary file renamed into place (no partial file on failure).

    `.safetensors`: `embeddings` (sequences, hidden) float32, `per_base.{i}` (length_i, hidden) per sequence in
    input order, and metadata `ids` (a JSON list) plus the settings. `.npz`: the same arrays and an `ids` array.
    `.npy`: the `embeddings` matrix only, rows in input order.
    """
    path = Path(path)
    check_output(path, result.per_base is not None)
    arrays = {"embeddings": result.embeddings.float().contiguous()}
    for i, states in enumerate(result.per_base or []):
        arrays[f"per_base.{i}"] = states.float().contiguous()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
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
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path
