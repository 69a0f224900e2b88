"""Reading sequences: FASTA (plain or gzip) or one sequence per line -> cleaned DNA.

- `read_sequences(path)`: {id: raw sequence} from a file (or stdin).
- `clean_sequence`, `as_records`: upper case, U as T, ambiguity codes as N; `InputError` for what is not DNA.
- `revcomp(sequence)`: the reverse complement.

Light to import (no torch), so that the command line can use it while it parses its arguments.
"""

from __future__ import annotations

import gzip
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from .utils import InputError

MASK = "<mask>"
DNA = "ACGT"
IUPAC = set("ACGTUNRYSWKMBDHV")  # accepted in input; ambiguity codes are read as N
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


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
        multimolecule.utils.errors.InputError: s1 contains '[MASK]': the mask token is <mask>
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
