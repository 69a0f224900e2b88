"""`Genome`: a FASTA reference, plain, gzip or bgzip, indexed beside it or, in a read-only folder, in the cache."""

from __future__ import annotations

import gzip
import os
import stat

import pysam
import pytest

from multimolecule.variants import Genome
from multimolecule.variants import genome as genome_module

from ..helpers import example_genome, write_fasta

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
