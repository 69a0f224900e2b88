"""The progress bar (tqdm on stderr): bases advance it, never past the total, and sequences show in its postfix."""

from __future__ import annotations

from multimolecule.utils.progress import Progress, progress_bar


def test_progress_counts_bases_and_sequences(capsys) -> None:
    bar = progress_bar(1000, enabled=True)
    progress = Progress(bar, records=2)
    progress.tick(600)
    progress.finished()
    progress.tick(600.5)  # a padded batch counts more bases than are left
    progress.finished()
    assert (bar.n, progress.done) == (1000, 2)
    bar.close()
    shown = capsys.readouterr().err
    assert "1.00k/1.00k" in shown and "2/2 sequences" in shown
    assert capsys.readouterr().out == ""


def test_a_disabled_bar_writes_nothing(capsys) -> None:
    bar = progress_bar(10, enabled=False)
    Progress(bar, records=1).tick(10)
    bar.close()
    assert capsys.readouterr().err == ""
