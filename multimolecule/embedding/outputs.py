"""What `embed` writes and returns: `Embeddings`, files written whole (`save_embeddings`) or record by record
(`EmbeddingWriter`), and per-base tensors read back from a written file (`StoredPerBase`).
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..utils import InputError, atomic_output, check_overwrite

OUTPUT_SUFFIXES = (".safetensors", ".npy", ".npz")


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


class MemoryWriter:
    """Keeps `embed`'s results in memory when no output file is given."""

    def __init__(self, records: int, hidden: int):
        self.embeddings = torch.zeros(records, hidden)
        self.per_base = [None] * records

    def write(self, index: int, embedding: torch.Tensor, per_base: torch.Tensor | None) -> None:
        self.embeddings[index] = embedding
        self.per_base[index] = per_base
