"""`multimolecule embed -o FILE` when the disk fills up: one error line, nothing left behind."""

import errno
import gc
import os
import sys

import numpy as np
import pytest

from multimolecule.cli import main


@pytest.mark.parametrize("suffix", [".npz", ".npy", ".safetensors"])
def test_a_full_disk_is_one_error_line(capsys, tmp_path, monkeypatch, suffix):
    unraisable = []  # what the interpreter reports as "Exception ignored in ...", with a traceback
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np.lib.format, "write_array", full_disk)  # .npz members
    monkeypatch.setattr(np, "save", full_disk)  # .npy
    monkeypatch.setattr(os, "fsync", full_disk)  # every format flushes its file to disk last
    code = main(["embed", "--example", "-o", str(tmp_path / f"out{suffix}"), "-q"])
    gc.collect()  # an unclosed archive would write to its closed file now
    err = capsys.readouterr().err
    assert code == 1
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: [Errno {errno.ENOSPC}] {os.strerror(errno.ENOSPC)}"
    ]
    assert "Traceback" not in err and not unraisable
    assert list(tmp_path.iterdir()) == []
