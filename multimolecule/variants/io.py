"""Variants in and scores out: VCF/BCF (plain or bgzip) or TSV reading, normalisation, TSV and VCF writing.

* **Rows.** Every ALT allele of every input record is one `Variant`, in input order (multi-allelic records are
  split); its `id` is the VCF ID, or `chrom:pos:ref:alt` when the record has none. POS is 1-based, as in VCF.
* **Normalisation** (`locate`): REF is checked against the genome first (a REF that disagrees is never scored:
  status `ref-mismatch`); then the shared suffix and the shared prefix of REF and ALT are trimmed, and an indel is
  left-aligned (shifted left while the base before it equals its last base), so `CAG>CAGAG` in a CA repeat and
  `C>CAG` two bases later are the same insertion. The result is a 0-based start and the bases that change.
* **Statuses**: `ok`; `contig-not-found` (CHROM not in the genome); `out-of-range` (POS before 1 or REF past the
  contig's end); `ref-mismatch`; `unsupported-allele` (symbolic, `*`, `.` or non-ACGT alleles); `too-long` (the
  change is longer than half the window); `n-in-window` (the window holds a base that is not A/C/G/T).
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..utils import InputError, atomic_output

STATUSES = ("ok", "contig-not-found", "out-of-range", "ref-mismatch", "unsupported-allele", "too-long", "n-in-window")
VCF_SUFFIXES = (".vcf", ".vcf.gz", ".vcf.bgz", ".bcf")
INFO_PREFIX = "MM_"


@dataclass(frozen=True)
class Variant:
    """One ALT allele of one input record, as given (POS 1-based); `record` and `allele` place it in the input."""

    id: str
    chrom: str
    pos: int
    ref: str
    alt: str
    record: int = 0
    allele: int = 0


@dataclass(frozen=True)
class Change:
    """A normalised variant: 0-based `start` on `chrom`, the reference bases replaced and the bases put instead
    (either may be empty for an indel, both for ALT == REF)."""

    chrom: str
    start: int
    ref: str
    alt: str


def is_vcf(path: str | os.PathLike) -> bool:
    name = str(path).lower()
    return name.endswith(VCF_SUFFIXES)


def read_variants(path: str | os.PathLike) -> list[Variant]:
    """The variants of a VCF/BCF (by suffix: `.vcf`, `.vcf.gz`, `.bcf`) or a TSV of chrom, pos, ref, alt.

    A TSV may start with a header naming its columns (`chrom`, `pos`, `ref`, `alt` and, optionally, `id`, in any
    order); without one, the columns are chrom, pos, ref, alt. ALT may list several alleles separated by commas.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "variants.tsv"
        >>> _ = path.write_text("chrom\\tpos\\tref\\talt\\nchr1\\t5\\tA\\tC,T\\n")
        >>> [(v.id, v.alt, v.allele) for v in read_variants(path)]
        [('chr1:5:A:C', 'C', 0), ('chr1:5:A:T', 'T', 1)]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"variants file not found: {path}")
    return read_vcf(path) if is_vcf(path) else read_tsv(path)


def split_alleles(record: int, id: str | None, chrom: str, pos: int, ref: str, alts) -> list[Variant]:
    ref = ref.upper()
    return [
        Variant(id or f"{chrom}:{pos}:{ref}:{alt.upper()}", chrom, pos, ref, alt.upper(), record, allele)
        for allele, alt in enumerate(alts or ["."])
    ]


def read_vcf(path: Path) -> list[Variant]:
    import pysam

    from .genome import compression

    if compression(path) == "gzip":  # htslib reads gzip VCFs only in BGZF blocks (bgzip), which seek
        raise InputError(
            f"{path} is compressed with plain gzip, which htslib cannot read: recompress it with bgzip "
            f"(`gunzip -c {path.name} | bgzip > {path.name.removesuffix('.gz').removesuffix('.vcf')}.bgzip.vcf.gz`) "
            "or gunzip it"
        )
    variants = []
    verbosity = pysam.set_verbosity(0)  # htslib's own messages ([E::vcf_parse] ...) would leak to stderr
    try:
        with pysam.VariantFile(str(path)) as vcf:
            for record, row in enumerate(vcf):
                variants += split_alleles(record, row.id, row.chrom, row.pos, row.ref, row.alts)
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read the VCF {path}: {vcf_problem(path) or error}") from error
    finally:
        pysam.set_verbosity(verbosity)
    return variants


def vcf_problem(path: Path) -> str | None:
    """What is wrong with the first bad record of a text VCF, in words (htslib says only "truncated file")."""
    import gzip

    if str(path).lower().endswith(".bcf"):
        return None
    opener = gzip.open if compression_magic(path) else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            for line, text in enumerate(handle, 1):
                if text.startswith("#") or not text.strip():
                    continue
                fields = text.rstrip("\r\n").split("\t")
                if len(fields) < 5:
                    return f"line {line} has {len(fields)} tab-separated columns, expected at least 8"
                if not is_position(fields[1]):
                    return f"line {line}: POS must be a whole number, got {fields[1]!r}"
    except (OSError, EOFError):
        return None
    return None


def compression_magic(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def is_position(text: str) -> bool:
    """A POS: ASCII digits only (`str.isdigit` also takes `²` and other scripts' digits)."""
    return re.fullmatch("[0-9]+", text.strip()) is not None


def read_tsv(path: Path) -> list[Variant]:
    import gzip

    opener = gzip.open if compression_magic(path) else open
    try:  # utf-8-sig: a byte-order mark before the header is not part of its first name
        with opener(path, "rt", newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle, delimiter="\t") if row and not row[0].startswith("##")]
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read {path} as a tab-separated UTF-8 table: {error}") from error
    if not rows:
        raise InputError(f"{path} holds no variants")
    columns, first = ["chrom", "pos", "ref", "alt"], 1
    if not rows[0][1:2] or not rows[0][1].strip().isdigit():  # a header (digits of any script: a bad POS)
        names = [name.strip().lower().lstrip("#") for name in rows[0]]
        names = ["chrom" if name in ("chr", "chromosome", "contig") else name for name in names]
        missing = [name for name in columns if name not in names]
        if missing:
            raise InputError(f"{path}: the header has no column {', '.join(missing)} (columns: {', '.join(names)})")
        columns, rows, first = names, rows[1:], 2
    variants = []
    for line, row in enumerate(rows, first):
        if len(row) < len(columns):
            raise InputError(f"{path}: line {line} has {len(row)} columns, expected {len(columns)}")
        fields = dict(zip(columns, (value.strip() for value in row)))
        if not is_position(fields["pos"]):
            raise InputError(f"{path}: line {line}: POS must be a whole number, got {fields['pos']!r}")
        alts = fields["alt"].split(",")
        given_id = fields.get("id") if fields.get("id") not in (None, "", ".") else None
        variants += split_alleles(len(variants), given_id, fields["chrom"], int(fields["pos"]), fields["ref"], alts)
    return variants


def normalise(start: int, ref: str, alt: str, base_before) -> tuple[int, str, str]:
    """Trim the shared suffix and prefix of `ref` and `alt`, then left-align an indel: `base_before(i)` is the
    genome's base at 0-based position `i`.

    Example:
        >>> genome = "GCACACAT"
        >>> normalise(5, "CA", "CACA", genome.__getitem__)  # an insertion of CA in a CA repeat, moved to its start
        (1, '', 'CA')
        >>> normalise(3, "ACG", "ATG", genome.__getitem__)
        (4, 'C', 'T')
    """
    while ref and alt and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while ref and alt and ref[0] == alt[0]:
        ref, alt, start = ref[1:], alt[1:], start + 1
    if bool(ref) != bool(alt):  # an insertion or a deletion: shift left while the rotation stays the same
        allele = ref or alt
        while start > 0 and base_before(start - 1) == allele[-1]:
            allele, start = base_before(start - 1) + allele[:-1], start - 1
        ref, alt = (allele, "") if ref else ("", allele)
    return start, ref, alt


def locate(variant: Variant, genome) -> tuple[str, Change | None]:
    """(status, normalised change) of `variant` on `genome`; the change is None unless REF matches the genome."""
    if variant.chrom not in genome:
        return "contig-not-found", None
    if not re.fullmatch("[ACGT]+", variant.ref) or not re.fullmatch("[ACGT]+", variant.alt):
        return "unsupported-allele", None
    start, end = variant.pos - 1, variant.pos - 1 + len(variant.ref)
    if start < 0 or end > genome.length(variant.chrom):
        return "out-of-range", None
    if genome.fetch(variant.chrom, start, end) != variant.ref:
        return "ref-mismatch", None
    start, ref, alt = normalise(start, variant.ref, variant.alt, lambda i: genome.fetch(variant.chrom, i, i + 1))
    return "ok", Change(variant.chrom, start, ref, alt)


def naming_hints(variants: list[Variant], statuses: list[str], genome) -> list[str]:
    """A hint when CHROM names and the reference's contig names differ only by a `chr` prefix (`1` vs `chr1`).

    Example:
        >>> from .genome import Sequences
        >>> naming_hints([Variant("a", "1", 5, "A", "C")], ["contig-not-found"], Sequences({"chr1": "ACGTA"}))
        ['the reference names its contigs chr1; the variants say 1 (rename one side to match)']
    """
    missing = list(dict.fromkeys(v.chrom for v, status in zip(variants, statuses) if status == "contig-not-found"))
    renamed = [name for name in missing if f"chr{name}" in genome or (name[:3].lower() == "chr" and name[3:] in genome)]
    if not renamed:
        return []
    theirs = [f"chr{name}" if f"chr{name}" in genome else name[3:] for name in renamed]
    listed = [", ".join(names[:3]) + (", ..." if len(names) > 3 else "") for names in (theirs, renamed)]
    return [f"the reference names its contigs {listed[0]}; the variants say {listed[1]} (rename one side to match)"]


# ------------------------------------------------------------------------------------------------- outputs
def format_score(value: float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):  # a name (the track of `tracks_top_track`)
        return value
    return "nan" if math.isnan(value) else f"{value:.6g}"


def check_output(output: str | os.PathLike, variants_path: str | os.PathLike | None) -> str:
    """`"tsv"` or `"vcf"` for an output name; a VCF output needs a VCF input (its records are copied)."""
    if is_vcf(output):
        if variants_path is None or not is_vcf(variants_path):
            raise InputError(f"a VCF output ({output}) needs a VCF or BCF input to copy its records from")
        return "vcf"
    if not str(output).lower().endswith((".tsv", ".tsv.gz", ".txt")):
        raise InputError(f"scores are written as .tsv or .vcf/.vcf.gz/.bcf, not {Path(output).name}")
    return "tsv"


def write_tsv(path, variants: list[Variant], statuses: list[str], scores: list[dict], columns: list[str], overwrite):
    """One row per variant: id, chrom, pos, ref, alt, status, then `columns` (empty where not scored)."""
    import gzip

    with atomic_output(path, overwrite=overwrite) as temporary:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(temporary, "wt", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(["id", "chrom", "pos", "ref", "alt", "status", *columns])
            for variant, status, row in zip(variants, statuses, scores):
                values = [format_score(row.get(column)) for column in columns]
                writer.writerow([variant.id, variant.chrom, variant.pos, variant.ref, variant.alt, status, *values])


def write_vcf(path, source, variants: list[Variant], statuses: list[str], scores: list[dict], columns, overwrite):
    """The records of `source` with `MM_STATUS` and one `MM_<score>` INFO field (Number=A) per score column."""
    import pysam

    by_record: dict[int, list[int]] = {}
    for index, variant in enumerate(variants):
        by_record.setdefault(variant.record, []).append(index)
    mode = "wb" if str(path).lower().endswith(".bcf") else "wz" if str(path).lower().endswith("gz") else "w"
    with atomic_output(path, overwrite=overwrite) as temporary, pysam.VariantFile(str(source)) as vcf:
        header = vcf.header.copy()
        header.add_meta(
            "INFO", items=[("ID", f"{INFO_PREFIX}STATUS"), ("Number", "A"), ("Type", "String"),
                           ("Description", "multimolecule score-variants status of each ALT allele (ok or a reason)")]
        )  # fmt: skip
        for column in columns:
            kind = "String" if any(isinstance(row.get(column), str) for row in scores) else "Float"
            header.add_meta(
                "INFO", items=[("ID", f"{INFO_PREFIX}{column}"), ("Number", "A"), ("Type", kind),
                               ("Description", f"multimolecule score-variants {column} of each ALT allele")]
            )  # fmt: skip
        with pysam.VariantFile(str(temporary), mode, header=header) as out:
            for number, record in enumerate(vcf):
                record.translate(header)
                indices = by_record.get(number, [])
                if record.alts:
                    record.info[f"{INFO_PREFIX}STATUS"] = tuple(statuses[i] for i in indices)
                    for column in columns:
                        values = tuple(scores[i].get(column) for i in indices)
                        if any(value is not None for value in values):
                            record.info[f"{INFO_PREFIX}{column}"] = values
                out.write(record)
