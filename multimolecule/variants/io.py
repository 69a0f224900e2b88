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

    variants = []
    try:
        with pysam.VariantFile(str(path)) as vcf:
            for record, row in enumerate(vcf):
                variants += split_alleles(record, row.id, row.chrom, row.pos, row.ref, row.alts)
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read the VCF {path}: {error}") from error
    return variants


def read_tsv(path: Path) -> list[Variant]:
    import gzip

    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt", newline="") as handle:
        rows = [row for row in csv.reader(handle, delimiter="\t") if row and not row[0].startswith("##")]
    if not rows:
        raise InputError(f"{path} holds no variants")
    columns = ["chrom", "pos", "ref", "alt"]
    if not rows[0][1:2] or not rows[0][1].strip().isdigit():  # a header
        names = [name.strip().lower().lstrip("#") for name in rows[0]]
        names = ["chrom" if name in ("chr", "chromosome", "contig") else name for name in names]
        missing = [name for name in columns if name not in names]
        if missing:
            raise InputError(f"{path}: the header has no column {', '.join(missing)} (columns: {', '.join(names)})")
        columns, rows = names, rows[1:]
    variants = []
    for line, row in enumerate(rows, 2 if columns != ["chrom", "pos", "ref", "alt"] else 1):
        if len(row) < len(columns):
            raise InputError(f"{path}: line {line} has {len(row)} columns, expected {len(columns)}")
        fields = dict(zip(columns, (value.strip() for value in row)))
        if not fields["pos"].isdigit():
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


# ------------------------------------------------------------------------------------------------- outputs
def format_score(value: float | None) -> str:
    if value is None:
        return ""
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
            header.add_meta(
                "INFO", items=[("ID", f"{INFO_PREFIX}{column}"), ("Number", "A"), ("Type", "Float"),
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
