"""`multimolecule predict-tracks` with the post-trained NTv3 fixture: the table it writes and its one-line refusals
(the tracks' values: variants/test_tracks.py)."""

from __future__ import annotations

from ..helpers import cli_error, fixture_dir, random_dna, run_cli


def test_command_writes_a_table_and_refuses_in_one_line(capsys, tmp_path):
    post = fixture_dir("ntv3", "ntv3_post_tiny_a")
    fasta = tmp_path / "ref.fa"
    fasta.write_text(f">chr1\n{random_dna(300, 6)}\n")
    code, out, _ = run_cli(
        capsys, "predict-tracks", f"{fasta}:1-30", "-m", post, "--species", "mouse", "-o", tmp_path / "t.tsv"
    )
    assert code == 0 and "30 bases x 2 mouse tracks" in out
    lines = (tmp_path / "t.tsv").read_text().splitlines()
    assert lines[0] == "record\tposition\tENCSR000CCL\tENCSR000CNA" and len(lines) == 31
    # --tracks: those named, comma-separated, in that order
    argv = ["predict-tracks", f"{fasta}:1-30", "-m", post, "--species", "mouse", "--tracks", "ENCSR000CNA,ENCSR000CCL"]
    code, out, _ = run_cli(capsys, *argv, "-o", tmp_path / "chosen.tsv")
    chosen = (tmp_path / "chosen.tsv").read_text().splitlines()
    assert code == 0 and chosen[0] == "record\tposition\tENCSR000CNA\tENCSR000CCL"
    swapped = ["\t".join([*row.split("\t")[:2], *row.split("\t")[:1:-1]]) for row in lines[1:]]
    assert chosen[1:] == swapped
    assert "unknown species 'dog'" in cli_error(
        capsys, "predict-tracks", f"{fasta}:1-30", "-m", post, "--species", "dog", "-o", tmp_path / "u.tsv"
    )
    pre = fixture_dir("ntv3", "ntv3_tiny_a")
    assert "track" in cli_error(
        capsys, "predict-tracks", f"{fasta}:1-30", "-m", pre, "--species", "human", "-o", tmp_path / "v.tsv"
    )
