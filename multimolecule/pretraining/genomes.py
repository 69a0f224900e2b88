"""Genomes streamed from FASTA files: contigs one at a time, cut into token windows for masked-LM training.

Nothing holds a whole genome: `read_contigs` reads a file (plain or gzip) line by line and yields one contig at
a time, and `GenomeWindows` turns each contig into windows of the model's length as it goes. Runs of `N` (and
other ambiguity codes) split a contig into A/C/G/T segments, as the originals were trained without `N`.
"""

from __future__ import annotations

import gzip
import io
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ..models import special_template
from ..seqio import COMPLEMENT, IUPAC
from ..utils import InputError

FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas", ".ffn", ".frn", ".seq")
NOT_DNA = re.compile(f"[^{''.join(sorted(IUPAC))}]")
AMBIGUOUS = re.compile("[^ACGT]+")
SEGMENTS = re.compile("[ACGT]+")


def genome_files(data: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """The FASTA files of `data`: files, folders (their FASTA files, plain or `.gz`, recursively, sorted) or a
    comma-separated string of them."""
    items = data.split(",") if isinstance(data, str) else [data] if isinstance(data, os.PathLike) else list(data)
    files = []
    for item in (Path(str(i).strip()).expanduser() for i in items if str(i).strip()):
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file() and is_fasta_name(p.name))
            if not found:
                raise InputError(f"no FASTA files ({', '.join(FASTA_SUFFIXES)}, optionally .gz) in {item}")
            files += found
        elif item.is_file():
            files.append(item)
        else:
            raise InputError(f"genome file not found: {item}")
    if not files:
        raise InputError("no genome files given")
    return files


def is_fasta_name(name: str) -> bool:
    return name.lower().removesuffix(".gz").endswith(FASTA_SUFFIXES)


def open_text(path: Path) -> io.TextIOBase:
    with open(path, "rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    return (
        gzip.open(path, "rt", encoding="ascii", errors="replace")
        if compressed
        else open(path, encoding="ascii", errors="replace")
    )


def read_contigs(path: Path) -> Iterator[tuple[str, str]]:
    """(name, sequence) of each contig of a FASTA file, one at a time: upper case, `U` as `T`, ambiguity codes as
    `N`. A file that is not FASTA, or a line that is not DNA, raises `InputError` naming the file and line."""
    name, parts, number = None, [], 0
    try:
        with open_text(path) as handle:
            for number, line in enumerate(handle, 1):
                line = line.strip()
                if not line or line[0] in ";#":
                    continue
                if line[0] == ">":
                    if name is not None:
                        yield name, "".join(parts)
                    name, parts = (line[1:].split() or [f"contig{number}"])[0], []
                    continue
                if name is None:
                    raise InputError(f"{path} is not a FASTA file: line {number} comes before any '>' header")
                line = line.upper()
                bad = NOT_DNA.search(line)
                if bad:
                    raise InputError(f"{path}, line {number}: not DNA (unexpected character {bad.group()!r})")
                parts.append(AMBIGUOUS.sub(lambda run: "N" * len(run.group()), line.replace("U", "T")))
    except (OSError, EOFError, UnicodeError) as error:
        raise InputError(f"cannot read {path}: {error}") from error
    if name is not None:
        yield name, "".join(parts)


@dataclass
class GenomeSummary:
    """What `scan_genomes` found: files, contigs and A/C/G/T bases, for training and for evaluation."""

    files: list[Path]
    contigs: int
    bases: int
    eval_files: list[Path]
    eval_bases: int

    def describe(self) -> str:
        return (
            f"{len(self.files)} genome file(s), {self.contigs:,} contigs, {self.bases:,} training bases, "
            f"{self.eval_bases:,} held-out bases"
        )


@dataclass(frozen=True)
class HeldOut:
    """Which part of the genomes is held out: whole contigs by name, else the last `fraction` of every contig
    (0 when evaluation comes from files of its own; 1 for those files)."""

    contigs: frozenset[str] = frozenset()
    fraction: float = 0.05

    def span(self, name: str, length: int, part: str) -> tuple[int, int]:
        """(start, end) of the contig `name` (of `length` bases) that belongs to `part` ("train" or "eval")."""
        if self.contigs:
            held = name in self.contigs
            return (0, length) if held == (part == "eval") else (0, 0)
        cut = length - int(length * self.fraction)
        return (0, cut) if part == "train" else (cut, length)


def scan_genomes(
    files: list[Path], eval_files: list[Path], held_out: HeldOut, require_eval: bool = True
) -> GenomeSummary:
    """Read every file once (streamed) and check it: `InputError` for a file without contigs, a line that is not
    DNA, no A/C/G/T bases to train or evaluate on, or a held-out contig name that no file has."""
    contigs, bases, names = 0, {"train": 0, "eval": 0}, set()
    for path in [*files, *eval_files]:
        found = 0
        for name, sequence in read_contigs(path):
            found += 1
            names.add(name)
            for part in ("train", "eval") if path in files else ():
                start, end = held_out.span(name, len(sequence), part)
                bases[part] += end - start - sequence.count("N", start, end)
            if path in eval_files:
                bases["eval"] += len(sequence) - sequence.count("N")
        if not found:
            raise InputError(f"{path} contains no sequences")
        contigs += found
    missing = sorted(held_out.contigs - names)
    if missing:
        raise InputError(f"held-out contig(s) not found in the genomes: {', '.join(missing[:5])}")
    if not bases["train"]:
        raise InputError("the genomes have no A/C/G/T bases to train on")
    if require_eval and not bases["eval"]:
        raise InputError("nothing is held out for evaluation: give --eval-data, --eval-contigs or --eval-fraction")
    return GenomeSummary(files, contigs, bases["train"], eval_files, bases["eval"])


def revcomp(sequence: str) -> str:
    return sequence.translate(COMPLEMENT)[::-1]


class GenomeWindows(torch.utils.data.IterableDataset):
    """Token windows of genomes, streamed: `{"input_ids": [<cls>, ..., <eos>]}` of at most `window` tokens.

    Each A/C/G/T segment of each contig's `part` ("train" or "eval") is cut left to right into consecutive
    windows. For training (`shuffle=True`), every pass (epoch) starts each segment at a new random offset and
    reads each window from a random strand, seeded by `seed` and the epoch; for evaluation (`shuffle=False`) the
    windows are the same every time (offset 0, forward strand), the first `limit` of them if given. A last
    window shorter than a quarter of `window` is dropped. With several data-loading workers each takes every
    n-th window.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from multimolecule import NucleotideTransformerTokenizer
        >>> fasta = Path(tempfile.mkdtemp()) / "genome.fa"
        >>> _ = fasta.write_text(">chr1\\n" + "ACGTAC" * 40 + "\\n")
        >>> tokenizer = NucleotideTransformerTokenizer.standard()
        >>> windows = GenomeWindows([fasta], tokenizer, 11, "train", HeldOut(fraction=0), shuffle=False)
        >>> [len(w["input_ids"]) for w in windows]  # 40 six-mers: <cls> + 10 six-mers per window
        [11, 11, 11, 11]
    """

    def __init__(
        self,
        files: list[Path],
        tokenizer,
        window: int,
        part: str,
        held_out: HeldOut,
        shuffle: bool = True,
        seed: int = 0,
        limit: int | None = None,
    ):
        self.files, self.tokenizer, self.part, self.held_out = files, tokenizer, part, held_out
        self.shuffle, self.seed, self.limit, self.epoch = shuffle, seed, limit, 0
        self.prefix, self.suffix = special_template(tokenizer)
        self.body = window - len(self.prefix) - len(self.suffix)  # DNA tokens per window
        if self.body < 1:
            raise InputError(f"a window of {window} tokens leaves no room for DNA beside the special tokens")
        self.token_lengths = tokenizer.token_lengths
        self.longest_token = max(self.token_lengths)

    def set_epoch(self, epoch: int) -> None:
        """Called by `Trainer` at each pass: new offsets and strands."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[dict[str, list[int]]]:
        worker = torch.utils.data.get_worker_info()
        workers, rank = (worker.num_workers, worker.id) if worker is not None else (1, 0)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        for count, ids in enumerate(self.windows(generator)):
            if self.limit is not None and count >= self.limit:
                return
            if count % workers == rank:
                yield {"input_ids": self.prefix + ids + self.suffix}
        if self.shuffle and worker is None:
            self.epoch += 1  # without Trainer's set_epoch, each pass still differs

    def windows(self, generator: torch.Generator) -> Iterator[list[int]]:
        for path in self.files:
            for name, sequence in read_contigs(path):
                start, end = self.held_out.span(name, len(sequence), self.part)
                for segment in SEGMENTS.finditer(sequence, start, end):
                    yield from self.segment_windows(segment.group(), generator)

    def segment_windows(self, dna: str, generator: torch.Generator) -> Iterator[list[int]]:
        position = int(torch.randint(min(len(dna), 6 * self.body), (1,), generator=generator)) if self.shuffle else 0
        while position < len(dna):
            ids, covered = self.encode(dna, position)
            if len(ids) < min(self.body, max(1, self.body // 4)):
                return
            if self.shuffle and bool(torch.rand((), generator=generator) < 0.5):
                ids = self.tokenize(revcomp(dna[position : position + covered]))[: self.body]
            yield ids
            position += covered

    def encode(self, dna: str, position: int) -> tuple[list[int], int]:
        """The first `body` tokens of `dna` from `position`, and the bases they cover."""
        size = 8 * self.body
        while True:
            ids = self.tokenize(dna[position : position + size])
            if len(ids) > self.body or position + size >= len(dna):
                ids = ids[: self.body]
                return ids, sum(self.token_lengths[i] for i in ids)
            size *= 2

    def tokenize(self, dna: str) -> list[int]:
        return self.tokenizer(dna, add_special_tokens=False, verbose=False)["input_ids"]
