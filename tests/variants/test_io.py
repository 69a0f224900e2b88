"""Reading variants and genomes, normalisation, every status, and the TSV and VCF outputs."""

from __future__ import annotations

import gzip
import math

import pysam
import pytest

from multimolecule import api
from multimolecule.seqio import InputError
from multimolecule.variants import Genome, Variant, locate, normalise, read_variants, window_site
from multimolecule.variants.io import write_vcf

from ..helpers import example_genome, write_fasta, write_tsv

GENOME = example_genome()


@pytest.fixture(scope="module")
def fasta(tmp_path_factory):
    return write_fasta(tmp_path_factory.mktemp("genome") / "genome.fa", GENOME)


def vcf_text(rows: list[tuple]) -> str:
    header = "##fileformat=VCFv4.2\n" + "".join(f"##contig=<ID={c},length={len(s)}>\n" for c, s in GENOME.items())
    header += '##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">\n'
    header += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    return header + "".join(f"{c}\t{p}\t{i}\t{r}\t{a}\t.\tPASS\tDP=7\n" for c, p, i, r, a in rows)


# ------------------------------------------------------------------------------------------ normalisation
@pytest.mark.parametrize(
    ("genome", "start", "ref", "alt", "expected"),
    [
        ("GCACACAT", 5, "CA", "CACA", (1, "", "CA")),  # insertion at the end of a CA repeat -> its start
        ("GCACACAT", 4, "ACA", "A", (1, "CA", "")),  # deletion of the last CA of the repeat -> its first CA
        ("GCACACAT", 6, "AT", "T", (6, "A", "")),  # deletion of an A after C: nowhere to move
        ("GAAAAT", 3, "AA", "A", (1, "A", "")),  # deletion in a homopolymer -> its first base
        ("GCACACAT", 1, "CACAC", "CAC", (1, "CA", "")),  # deletion given with the whole repeat
        ("ACGTACGT", 2, "GTA", "GCA", (3, "T", "C")),  # an SNV written with context
        ("ACGTACGT", 2, "GTA", "CAA", (2, "GT", "CA")),  # an MNV: shared suffix trimmed
        ("ACGTACGT", 2, "G", "G", (2, "", "")),  # no change
    ],
)
def test_normalise_left_aligns(genome, start, ref, alt, expected):
    assert normalise(start, ref, alt, genome.__getitem__) == expected


def test_vcf_positions_are_one_based_and_indels_are_left_aligned(tmp_path, fasta):
    sequence = GENOME["chrB"]
    repeat = next(i for i in range(10, 380) if sequence[i] == sequence[i + 1] == sequence[i + 2])  # a run of 3+
    base = sequence[repeat]
    last = repeat
    while sequence[last + 1] == base:
        last += 1
    rows = [
        ("chrB", 51, ".", sequence[50], "A" if sequence[50] != "A" else "C"),  # POS 51 is sequence[50]
        ("chrB", 50, ".", sequence[50], "A" if sequence[50] != "A" else "C"),  # one off: the genome disagrees
        ("chrB", last + 1, ".", sequence[last : last + 2], sequence[last + 1]),  # delete the run's last base
    ]
    if sequence[49] == sequence[50]:
        rows.pop(1)
    path = tmp_path / "v.vcf"
    path.write_text(vcf_text(rows))
    variants = read_variants(path)
    statuses = [locate(v, Genome(fasta))[0] for v in variants]
    assert statuses[0] == "ok" and (len(rows) == 2 or statuses[1] == "ref-mismatch")
    _, change = locate(variants[-1], Genome(fasta))
    assert (change.start, change.ref, change.alt) == (repeat, base, "")  # moved to the run's first base


# ---------------------------------------------------------------------------------------------- inputs
def test_vcf_bgzip_and_bcf_read_the_same_with_multiallelic_records_split(tmp_path):
    rows = [("chrA", 10, "rs1", GENOME["chrA"][9], "A,C,T"), ("chrB", 5, ".", GENOME["chrB"][4:6], "G")]
    plain = tmp_path / "v.vcf"
    plain.write_text(vcf_text(rows))
    pysam.tabix_compress(str(plain), str(tmp_path / "v.vcf.gz"))
    with (
        pysam.VariantFile(str(plain)) as source,
        pysam.VariantFile(str(tmp_path / "v.bcf"), "wb", header=source.header) as out,
    ):
        for record in source:
            out.write(record)
    read = [read_variants(tmp_path / name) for name in ("v.vcf", "v.vcf.gz", "v.bcf")]
    assert read[0] == read[1] == read[2]
    assert [(v.id, v.alt, v.record, v.allele) for v in read[0]] == [
        ("rs1", "A", 0, 0),
        ("rs1", "C", 0, 1),
        ("rs1", "T", 0, 2),
        (f"chrB:5:{GENOME['chrB'][4:6]}:G", "G", 1, 0),
    ]


def test_tsv_with_and_without_header(tmp_path):
    (tmp_path / "bare.tsv").write_text("chrA\t10\tA\tC,G\n")
    (tmp_path / "named.tsv").write_text("id\tref\talt\tpos\t#chrom\nmine\tA\tC,G\t10\tchrA\n")
    bare, named = read_variants(tmp_path / "bare.tsv"), read_variants(tmp_path / "named.tsv")
    assert [(v.chrom, v.pos, v.ref, v.alt) for v in bare] == [(v.chrom, v.pos, v.ref, v.alt) for v in named]
    assert [v.id for v in named] == ["mine", "mine"] and bare[1].id == "chrA:10:A:G"
    (tmp_path / "bad.tsv").write_text("chrom\tposition\tref\talt\nchrA\t1\tA\tC\n")
    with pytest.raises(InputError, match="no column pos"):
        read_variants(tmp_path / "bad.tsv")


POS = "POS must be a whole number, got "


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.vcf", "chrA\tabc\t.\tA\tC\t.\t.\t.\n", f"bad.vcf: line 8: {POS}'abc'"),
        (
            "plain.vcf.gz",
            "chrA\t10\t.\tA\tC\t.\t.\t.\n",
            "plain gzip, which htslib cannot read: recompress it with bgzip",
        ),
        ("digits.tsv", "chrom\tpos\tref\talt\nchrA\t\u00b2\tA\tC\n", f"digits.tsv: line 2: {POS}'\u00b2'"),
        ("arabic.tsv", "chrA\t\u0661\u0662\tA\tC\n", f"arabic.tsv: line 1: {POS}'\u0661\u0662'"),
        ("latin1.tsv", b"chrom\tpos\tref\talt\nchr\xe9\t1\tA\tC\n", "latin1.tsv as a tab-separated UTF-8 table"),
    ],
)
def test_bad_variant_files_are_one_line(capsys, tmp_path, fasta, name, content, message):
    """Each is one line naming the file (and the line), never a traceback nor htslib's own messages on stderr."""
    from multimolecule.cli import main

    path = tmp_path / name
    if name.endswith(".vcf.gz"):
        path.write_bytes(gzip.compress(vcf_text([]).encode() + content.encode()))
    elif name.endswith(".vcf"):
        path.write_text(vcf_text([]) + content)
    else:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code = main(["score-variants", str(path), "-r", str(fasta), "-o", str(tmp_path / "out.tsv"), "-q"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 1 and len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not (tmp_path / "out.tsv").exists()


def test_a_header_with_a_byte_order_mark(tmp_path):
    (tmp_path / "bom.tsv").write_bytes("\ufeffchrom\tpos\tref\talt\nchrA\t10\tA\tC\n".encode())
    assert [(v.chrom, v.pos) for v in read_variants(tmp_path / "bom.tsv")] == [("chrA", 10)]


def test_contig_names_that_differ_by_chr_get_a_hint(tmp_path, fasta):
    renamed = write_fasta(tmp_path / "renamed.fa", {name.removeprefix("chr"): s for name, s in GENOME.items()})
    a = GENOME["chrA"]
    variants = write_tsv(tmp_path / "v.tsv", [("chrA", 60, a[59], "T" if a[59] != "T" else "G"), ("chrZ", 5, "A", "C")])
    result = api.score_variants(variants, renamed, model="nt-demo", window=40)
    assert result.statuses == ["contig-not-found"] * 2
    assert result.summary() == (
        "2 alleles (2 contig-not-found); the reference names its contigs A; the variants say chrA "
        "(rename one side to match)"
    )
    assert api.score_variants(variants, fasta, model="nt-demo", window=40).notes == []


def test_window_is_centred_and_clipped_at_contig_ends(fasta):
    genome = Genome(fasta)
    for pos in (1, 75, 150):
        variant = Variant("v", "chrA", pos, GENOME["chrA"][pos - 1], "A" if GENOME["chrA"][pos - 1] != "A" else "C")
        _, change = locate(variant, genome)
        status, site = window_site(change, genome, 41)
        start = {1: 0, 75: 74 - 20, 150: 150 - 41}[pos]
        assert status == "ok" and site.text == GENOME["chrA"][start : start + 41] and site.start == pos - 1 - start


# -------------------------------------------------------------------------------------------- statuses
def test_every_status_is_reached_and_never_scored(tmp_path, fasta):
    genome = dict(GENOME, chrN=GENOME["chrA"][:40] + "N" + GENOME["chrA"][41:])
    fasta = write_fasta(tmp_path / "n.fa", genome)
    a = GENOME["chrA"]
    rows = [
        ("chrA", 60, a[59], "T" if a[59] != "T" else "G", "ok"),
        ("chrZ", 10, "A", "C", "contig-not-found"),
        ("chrA", 151, "A", "C", "out-of-range"),
        ("chrA", 60, "A" if a[59] != "A" else "C", "G", "ref-mismatch"),
        ("chrA", 60, a[59], "<DEL>", "unsupported-allele"),
        ("chrA", 60, a[59], "N", "unsupported-allele"),
        ("chrA", 30, a[29:60], a[29], "too-long"),
        ("chrN", 60, a[59], "T" if a[59] != "T" else "G", "n-in-window"),
    ]
    variants = write_tsv(tmp_path / "v.tsv", [row[:4] for row in rows])
    result = api.score_variants(variants, fasta, model="nt-demo", score=["llr", "cosine"], window=40)
    assert result.statuses == [row[4] for row in rows]
    assert all(scores == {} for scores, row in zip(result.scores, rows) if row[4] != "ok")
    assert math.isfinite(result.scores[0]["llr"])


# --------------------------------------------------------------------------------------------- outputs
def test_tsv_output_one_row_per_allele_in_input_order(tmp_path, fasta):
    a = GENOME["chrA"]
    rows = [("chrA", 20, a[19], "A,C,G,T"), ("chrZ", 1, "A", "C"), ("chrA", 21, a[20:22], "CC")]
    output = tmp_path / "out.tsv"
    api.score_variants(write_tsv(tmp_path / "v.tsv", rows), fasta, model="nt-demo", output=output, score=["llr", "pll"])
    lines = [line.split("\t") for line in output.read_text().splitlines()]
    assert lines[0] == ["id", "chrom", "pos", "ref", "alt", "status", "llr", "pll"]
    assert [line[4] for line in lines[1:]] == ["A", "C", "G", "T", "C", "CC"]
    same = [line for line in lines[1:5] if line[4] == a[19]][0]
    assert same[5:] == ["ok", "0", "0"]
    assert lines[5][5:] == ["contig-not-found", "", ""]
    with pytest.raises(InputError, match="output exists"):
        api.score_variants(tmp_path / "v.tsv", fasta, model="nt-demo", output=output)


def test_vcf_output_keeps_the_records_and_declares_info_fields(tmp_path, fasta):
    rows = [("chrA", 10, "rs1", GENOME["chrA"][9], "A,C,T"), ("chrB", 5, ".", "A" * 2, "G")]
    (tmp_path / "v.vcf").write_text(vcf_text(rows))
    output = tmp_path / "out.vcf.gz"
    result = api.score_variants(tmp_path / "v.vcf", fasta, model="nt-demo", output=output, score=["llr", "l2"])
    with pysam.VariantFile(str(output)) as vcf:
        assert {"MM_STATUS", "MM_llr", "MM_l2", "MM_l2_variant", "DP"} <= set(vcf.header.info)
        records = list(vcf)
    assert [r.info["DP"] for r in records] == [7, 7] and records[0].alts == ("A", "C", "T")
    assert records[0].info["MM_STATUS"] == tuple(result.statuses[:3])
    expected = [row.get("llr") for row in result.scores[:3]]
    assert records[0].info["MM_llr"] == pytest.approx(expected, abs=1e-5)
    assert records[1].info["MM_STATUS"] == (result.statuses[3],) and "MM_llr" not in records[1].info
    with pytest.raises(InputError, match="needs a VCF or BCF input"):
        api.score_variants(write_tsv(tmp_path / "v.tsv", [rows[0][:2] + rows[0][3:]]), fasta, output=tmp_path / "x.vcf")


def test_vcf_output_declares_a_name_column_as_text(tmp_path):
    """A column of names (`tracks_top_track` of the `tracks` score) is a `String` INFO field, the others `Float`."""
    (tmp_path / "v.vcf").write_text(vcf_text([("chrA", 10, "rs1", GENOME["chrA"][9], "A,C")]))
    variants = read_variants(tmp_path / "v.vcf")
    scores = [{"delta": 0.5, "track": "ENCSR000AKO"}, {"delta": -0.25, "track": "ENCSR921NMD"}]
    write_vcf(tmp_path / "out.vcf", tmp_path / "v.vcf", variants, ["ok", "ok"], scores, ["delta", "track"], False)
    with pysam.VariantFile(str(tmp_path / "out.vcf")) as vcf:
        assert (vcf.header.info["MM_delta"].type, vcf.header.info["MM_track"].type) == ("Float", "String")
        (record,) = list(vcf)
    assert record.info["MM_track"] == ("ENCSR000AKO", "ENCSR921NMD") and record.info["MM_delta"] == (0.5, -0.25)
