"""`Genome`: a FASTA reference, plain, gzip or bgzip, indexed beside it or, in a read-only folder, in the cache; an
index that is stale is rebuilt, never used."""

from __future__ import annotations

import gzip
import os
import stat

import pysam
import pytest

from multimolecule.variants import Genome
from multimolecule.variants import genome as genome_module

from ..helpers import example_genome, random_dna, write_fasta

GENOME = example_genome()


@pytest.mark.parametrize("kind", ["plain", "gzip", "bgzip"])
def test_genome_plain_gzip_bgzip_in_a_read_only_folder(tmp_path, monkeypatch, kind):
    """The index (and for gzip the decompressed copy) go to the cache when the genome's folder is read-only (as
    the folder's permissions say, or, for a user who may write anywhere, as `writable` is told to say)."""
    monkeypatch.setenv("MULTIMOLECULE_CACHE", str(tmp_path / "cache"))
    if os.access(tmp_path, os.W_OK) and os.geteuid() == 0:
        monkeypatch.setattr(genome_module, "writable", lambda folder: False)
    folder = tmp_path / "ro"
    folder.mkdir()
    plain = write_fasta(folder / "g.fa", GENOME)
    path = plain
    if kind == "gzip":
        path = folder / "g.fa.gz"
        path.write_bytes(gzip.compress(plain.read_bytes()))
    elif kind == "bgzip":
        path = folder / "g.fa.bgz"
        pysam.tabix_compress(str(plain), str(path))
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        genome = Genome(path)
        assert genome.contigs == list(GENOME)
        assert genome.fetch("chrD", 2990, 3000) == GENOME["chrD"][2990:]
        assert sorted(p.suffix for p in (tmp_path / "cache" / "genomes").iterdir())
        assert not any(p.name.endswith((".fai", ".gzi")) for p in folder.iterdir())
    finally:
        folder.chmod(stat.S_IRWXU)


FIRST = {"chr1": random_dna(500, seed=1), "chr2": random_dna(300, seed=2)}
SECOND = {"chr1": random_dna(700, seed=3), "chr2": random_dna(200, seed=4)}


def rewrite(path, records, width, kind, keep_time=None):
    """Write `records` to `path` (plain or bgzip); `keep_time`: give the FASTA that modification time."""
    plain = path.with_suffix(".plain") if kind == "bgzip" else path
    write_fasta(plain, records, width)
    if kind == "bgzip":
        pysam.tabix_compress(str(plain), str(path), force=True)
        plain.unlink()
    if keep_time is not None:
        os.utime(path, ns=(keep_time, keep_time))


def bases(genome: Genome) -> dict[str, str]:
    return {name: genome.fetch(name, 0, genome.length(name)) for name in genome.contigs}


@pytest.mark.parametrize("kind", ["plain", "bgzip"])
def test_an_index_older_than_its_rewritten_fasta_is_rebuilt(tmp_path, kind):
    path = tmp_path / ("genome.fa" if kind == "plain" else "genome.fa.gz")
    rewrite(path, FIRST, 60, kind)
    assert bases(Genome(path)) == FIRST
    index = path.with_name(path.name + ".fai")
    rewrite(path, SECOND, 50, kind)
    for built in path.parent.glob(f"{path.name}.*"):  # the index was built a second before the FASTA was rewritten
        earlier = path.stat().st_mtime_ns - 1_000_000_000
        os.utime(built, ns=(earlier, earlier))
    assert bases(Genome(path)) == SECOND
    assert index.stat().st_mtime_ns >= path.stat().st_mtime_ns  # rebuilt in place


def test_an_index_that_does_not_fit_the_fasta_is_rebuilt_whatever_its_time(tmp_path):
    path = tmp_path / "genome.fa"
    rewrite(path, FIRST, 60, "plain")
    Genome(path)
    index = path.with_name("genome.fa.fai")
    rewrite(path, SECOND, 50, "plain", keep_time=index.stat().st_mtime_ns - 1_000_000_000)  # looks older
    assert bases(Genome(path)) == SECOND


def test_a_stale_index_in_a_read_only_folder_is_rebuilt_in_the_cache(tmp_path, monkeypatch):
    path = tmp_path / "genome.fa"
    rewrite(path, FIRST, 60, "plain")
    Genome(path)
    index = path.with_name("genome.fa.fai")
    stale = index.read_bytes()
    rewrite(path, SECOND, 50, "plain")
    earlier = path.stat().st_mtime_ns - 1_000_000_000
    os.utime(index, ns=(earlier, earlier))
    monkeypatch.setenv("MULTIMOLECULE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(genome_module, "writable", lambda folder: folder != tmp_path)  # the genome's folder
    assert bases(Genome(path)) == SECOND
    assert index.read_bytes() == stale  # left as it was; the fresh one is in the cache
    assert [p.suffix for p in (tmp_path / "cache" / "genomes").iterdir()] == [".fai"]


def test_a_fasta_htslib_cannot_index_is_one_line_and_htslib_is_quiet(tmp_path, capfd):
    """htslib's own `[E::fai_build_core]` lines never reach the terminal; the error says what to fix."""
    from multimolecule.cli import main

    (tmp_path / "ragged.fa").write_text(">chr1\nACGTACGT\nACG\nACGTACGT\n")
    (tmp_path / "v.tsv").write_text("chrom\tpos\tref\talt\nchr1\t2\tC\tA\n")
    code = main(
        ["score-variants", str(tmp_path / "v.tsv"), "-r", str(tmp_path / "ragged.fa"), "-o", str(tmp_path / "o.tsv")]
    )
    err = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert code == 1 and len(err) == 1, err
    assert "contig chr1: line 3 is shorter than the lines before it and not the last; htslib needs one length" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ragged.fa", "v.tsv"]
