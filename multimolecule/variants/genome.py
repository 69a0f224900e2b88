"""Random access to a reference genome in FASTA: plain, gzip or bgzip, indexed where it lies or in a cache.

`pysam.FastaFile` reads a plain or bgzip FASTA through its `.fai` index (and `.gzi` for bgzip). Where the
index is missing, or stale (older than the FASTA, or not matching a plain FASTA's lines), it is built beside the
file; where that folder (or the stale index) is read-only, in the cache folder instead. A
plain gzip FASTA cannot be read by random access, so it is decompressed once into the cache folder. The cache
folder is `$MULTIMOLECULE_CACHE/genomes` if set, else `$XDG_CACHE_HOME/multimolecule/genomes` (default
`~/.cache/multimolecule/genomes`); cached files are named by the source's path, size and modification time.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
from pathlib import Path

from ..utils import InputError, atomic_output


def cache_folder() -> Path:
    """Where decompressed genomes and indexes of read-only genomes go."""
    if os.environ.get("MULTIMOLECULE_CACHE"):
        return Path(os.environ["MULTIMOLECULE_CACHE"]) / "genomes"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "multimolecule" / "genomes"


def compression(path: Path) -> str:
    """`"plain"`, `"bgzip"` (gzip blocks with the BGZF `BC` extra field) or `"gzip"`."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    if head[:2] != b"\x1f\x8b":
        return "plain"
    has_extra = len(head) >= 4 and head[3] & 4
    return "bgzip" if has_extra and head[12:14] == b"BC" else "gzip"


def cached_name(path: Path, suffix: str) -> Path:
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_folder() / f"{path.name}.{key}{suffix}"


def writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def ragged_line(path: Path) -> str | None:
    """Why htslib cannot index a plain FASTA, in words: a contig's lines must all have one length but the last."""
    if compression(path) != "plain":
        return None
    width, short, name = None, None, None
    rewrap = "htslib needs one length for every line of a contig but its last: rewrap it (e.g. seqkit seq -w 60)"
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            line = line.rstrip(b"\r\n")
            if line.startswith(b">"):
                width, short, name = None, None, line[1:].split(b" ")[0].decode(errors="replace")
            elif short is not None:
                return f"contig {name}: line {short} is shorter than the lines before it and not the last; {rewrap}"
            elif width is None:
                width = len(line)
            elif len(line) > width:
                return f"contig {name}: line {number} is longer than the lines before it; {rewrap}"
            elif len(line) < width:
                short = number
    return None


def writable_file(path: Path) -> bool:
    return not path.exists() or os.access(path, os.W_OK)


def index_is_current(path: Path, index: Path, compressed_index: Path | None, kind: str) -> bool:
    """Whether the `.fai` (and `.gzi`) of `path` can be used: present, not older than the FASTA, and, for a plain
    FASTA, consistent with it (every contig starts just after a line end and ends within the file). A stale index
    of a rewritten FASTA would give wrong bases silently; it is rebuilt instead."""
    indexes = [index] if compressed_index is None else [index, compressed_index]
    if not all(p.is_file() for p in indexes):
        return False
    if any(p.stat().st_mtime_ns < path.stat().st_mtime_ns for p in indexes):
        return False
    return kind != "plain" or fai_matches(path, index)


def fai_matches(path: Path, index: Path) -> bool:
    """Whether each `.fai` record (name, length, offset, bases and bytes per line) fits the plain FASTA `path`."""
    size = path.stat().st_size
    try:
        with open(index) as records, open(path, "rb") as fasta:
            for record in records:
                _, length, offset, line_bases, line_bytes = (record.rstrip("\n").split("\t") + [""] * 5)[:5]
                length, offset, line_bases, line_bytes = int(length), int(offset), int(line_bases), int(line_bytes)
                last = offset + (length - 1) // line_bases * line_bytes + (length - 1) % line_bases
                last = last if length else offset
                fasta.seek(offset - 1)
                if offset < 1 or last >= size + (length == 0) or fasta.read(1) != b"\n":
                    return False
                if length:
                    fasta.seek(last)
                    if fasta.read(1) in (b"\n", b"\r", b">", b""):
                        return False
    except (OSError, ValueError, ZeroDivisionError):
        return False
    return True


class Genome:
    """A FASTA reference read by random access; `fetch` gives upper-case bases with IUPAC codes as N.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "tiny.fa"
        >>> _ = path.write_text(">chr1 test\\nACGTacgtNR\\n>chr2\\nGGGCCC\\n")
        >>> genome = Genome(path)
        >>> genome.contigs, genome.length("chr1"), genome.fetch("chr1", 2, 10)
        (['chr1', 'chr2'], 10, 'GTACGTNN')
    """

    def __init__(self, path: str | os.PathLike):
        import pysam

        path = Path(path)
        if not path.is_file():
            raise InputError(f"reference genome not found: {path}")
        kind = compression(path)
        if kind == "gzip":  # no random access into plain gzip: decompress once into the cache
            path = self.decompressed(path)
        index, compressed_index = Path(f"{path}.fai"), Path(f"{path}.gzi") if kind == "bgzip" else None
        if not index_is_current(path, index, compressed_index, kind):  # missing, older than the FASTA or wrong
            if not writable(path.parent) or not all(writable_file(p) for p in (index, compressed_index) if p):
                index = cached_name(path, ".fai")
                compressed_index = cached_name(path, ".gzi") if kind == "bgzip" else None
            if not index_is_current(path, index, compressed_index, kind):
                self.build_index(path, index, compressed_index)
        try:
            self.fasta = pysam.FastaFile(
                str(path),
                filepath_index=str(index),
                filepath_index_compressed=str(compressed_index) if compressed_index else None,
            )
        except (OSError, ValueError) as error:
            raise InputError(f"cannot read the reference genome {path}: {error}") from error
        self.path = path
        self.contigs = list(self.fasta.references)
        self.lengths = dict(zip(self.fasta.references, self.fasta.lengths))

    @staticmethod
    def decompressed(path: Path) -> Path:
        target = cached_name(path, ".fa")
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(target) as temporary:
                try:
                    with gzip.open(path, "rb") as source, open(temporary, "wb") as sink:
                        shutil.copyfileobj(source, sink, 1 << 20)
                except (OSError, EOFError) as error:
                    raise InputError(f"{path} is a damaged gzip file: {error}") from error
        return target

    @staticmethod
    def build_index(path: Path, index: Path, compressed_index: Path | None) -> None:
        import pysam

        index.parent.mkdir(parents=True, exist_ok=True)
        arguments = [str(path), "--fai-idx", str(index)]
        if compressed_index is not None:
            arguments += ["--gzi-idx", str(compressed_index)]
        verbosity = pysam.set_verbosity(0)  # htslib's own [E::fai_build_core] lines would leak to stderr
        try:
            pysam.faidx(*arguments)
        except pysam.SamtoolsError as error:
            message = ragged_line(path) or " ".join(str(error).split())
            raise InputError(f"cannot index the reference genome {path}: {message}") from error
        finally:
            pysam.set_verbosity(verbosity)

    def __contains__(self, contig: str) -> bool:
        return contig in self.lengths

    def length(self, contig: str) -> int:
        return self.lengths[contig]

    def fetch(self, contig: str, start: int, end: int) -> str:
        """Bases `start` to `end` (0-based, end excluded) of `contig`, upper case, IUPAC ambiguity codes as N."""
        return re.sub("[^ACGT]", "N", self.fasta.fetch(contig, start, end).upper())


class Sequences:
    """An in-memory genome with `Genome`'s interface: {name: cleaned sequence}.

    Example:
        >>> Sequences({"s": "ACGTN"}).fetch("s", 1, 4)
        'CGT'
    """

    def __init__(self, records: dict[str, str]):
        self.records = records
        self.contigs = list(records)
        self.lengths = {name: len(sequence) for name, sequence in records.items()}

    def __contains__(self, contig: str) -> bool:
        return contig in self.records

    def length(self, contig: str) -> int:
        return self.lengths[contig]

    def fetch(self, contig: str, start: int, end: int) -> str:
        return self.records[contig][start:end]
