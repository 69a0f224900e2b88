"""`atomic_output`: a file or directory appears whole or not at all (failure, SIGINT, SIGTERM), with the umask's
permissions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from multimolecule.utils import atomic_output

from ..helpers import subprocess_env


def test_outputs_honour_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        with atomic_output(tmp_path / "file.bin") as temporary:
            temporary.write_bytes(b"x")
        with atomic_output(tmp_path / "folder", directory=True) as temporary:
            (temporary / "inner.txt").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "file.bin").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "folder" / "inner.txt").stat().st_mode & 0o777 == 0o640


def test_failed_write_leaves_nothing_and_keeps_the_old_output(tmp_path):
    target = tmp_path / "folder"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target, overwrite=True, directory=True) as temporary:
        (temporary / "new.txt").write_text("half")
        raise RuntimeError("disk full")
    assert [p.name for p in tmp_path.iterdir()] == ["folder"] and (target / "old.txt").read_text() == "old"
    (target / "new.txt").write_text("older")
    (target / "config.json").write_text("{}")
    with atomic_output(target, overwrite=True, directory=True) as temporary:
        (temporary / "new.txt").write_text("new")
    # an existing directory keeps what the block did not write: only namesakes are replaced (config.json, which
    # would make it load as the old model, is removed)
    assert sorted(p.name for p in target.iterdir()) == ["new.txt", "old.txt"]
    assert (target / "new.txt").read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["folder"]


WRITER = """
import sys, time
from pathlib import Path
from multimolecule.utils import atomic_output
folder = Path(sys.argv[1])
with atomic_output(folder / "out.safetensors") as file, atomic_output(folder / "converted", directory=True) as staging:
    with open(file, "wb") as one, open(staging / "model.safetensors", "wb") as other:
        for handle in (one, other):
            handle.write(b"x" * 1_000_000)
            handle.flush()
        print("writing", flush=True)
        while True:
            one.write(b"x" * 1000)
            time.sleep(0.01)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_writes_leave_no_partial_or_temporary_file(tmp_path, signum):
    """A file and a directory being written when the signal comes: both temporaries are removed."""
    # As from a shell: SIGINT at its default, whatever an earlier test left in this process (a child that starts
    # with SIGINT ignored keeps ignoring it, and Ctrl-C never reaches the writer).
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        env=subprocess_env(),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout.readline() == b"writing\n"
    assert len(list(tmp_path.iterdir())) == 2  # the two temporaries, being written
    process.send_signal(signum)
    process.wait(timeout=60)
    assert process.returncode != 0
    assert not list(tmp_path.iterdir())
