"""Outputs written atomically: a file or directory appears complete, or not at all.

- `atomic_output(path, overwrite=..., directory=...)`: write through a temporary beside `path`, renamed into place
  on success and removed on any error, Ctrl-C (SIGINT) or SIGTERM; honours the umask.
  an existing output directory keeps the entries the block did not write (a user's other files survive).
- `check_overwrite(path, overwrite)`: refuse to replace an existing output unless asked to.
- `check_apart(output, inputs)`: refuse an output that is, contains or lies inside one of the inputs.
- `output_lock(path)`: hold `<path>.lock` while writing `path`; a second writer gets "in use by PID N".
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError
from .signals import raise_on_sigterm


def check_overwrite(path: str | os.PathLike, overwrite: bool) -> None:
    """Raise `InputError` if `path` exists and `overwrite` is False.

    Example:
        >>> check_overwrite(".", overwrite=False)
        Traceback (most recent call last):
        ...
        multimolecule.utils.errors.InputError: output exists: . (pass --overwrite, or overwrite=True, to replace it)
    """
    if not overwrite and os.path.lexists(path):
        raise InputError(f"output exists: {path} (pass --overwrite, or overwrite=True, to replace it)")


def check_apart(output: str | os.PathLike, inputs, kind: str = "input") -> None:
    """Raise `InputError` if `output` is, contains or lies inside one of `inputs` (paths; those that do not exist,
    such as model names, and None are skipped), before any work: replacing the output must never touch an input.

    Example:
        >>> check_apart("runs/out", ["genome.fa", "runs/out/genome.fa"])  # doctest: +SKIP
        Traceback (most recent call last):
        ...
        multimolecule.utils.errors.InputError: the output runs/out must not be, contain or lie inside the input ...
    """
    target = Path(output).expanduser().resolve()
    for item in inputs:
        if item is None or not str(item) or not os.path.exists(Path(item).expanduser()):
            continue
        source = Path(item).expanduser().resolve()
        if target == source or source in target.parents or target in source.parents:
            raise InputError(f"the output {output} must not be, contain or lie inside the {kind} {item}")


def current_umask() -> int:
    """The process's file-mode creation mask (read without changing it where the system allows)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def honour_umask(path: Path) -> None:
    """Give `path` (and, for a directory, everything in it) the permissions of a new file under the umask: some
    writers (`tempfile`, safetensors) create files 0600 whatever the umask."""
    umask = current_umask()
    for root, folders, files in os.walk(path) if path.is_dir() else [(path.parent, [], [path.name])]:
        for name in folders:
            os.chmod(os.path.join(root, name), 0o777 & ~umask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~umask)
    if path.is_dir():
        os.chmod(path, 0o777 & ~umask)


@contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write to; it becomes `path` only when the block succeeds.

    - Refuses (`InputError`) if `path` exists, unless `overwrite`; then the old output is replaced only once the
      new one is complete (a rename, so readers see the old or the new output, never a mix). An existing
      directory is not replaced as a whole: each entry of the new one replaces its namesake (`config.json`, which
      makes a folder a model, removed first and moved in last), and the entries it does not write stay.
    - The temporary (`.NAME.XXXX.tmp`, a file, or with `directory=True` an empty directory) is removed on any
      error, on Ctrl-C (SIGINT) and on SIGTERM (which raises `Terminated`, a `KeyboardInterrupt`, in the block).
    - Permissions follow the umask, as for any new file (0644 files / 0755 directories with umask 022); missing
      parent directories are created.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with atomic_output(folder / "out.txt") as temporary:
        ...     _ = temporary.write_text("done")
        >>> sorted(p.name for p in folder.iterdir()), (folder / "out.txt").read_text()
        (['out.txt'], 'done')
        >>> with atomic_output(folder / "out.txt") as temporary:
        ...     pass
        Traceback (most recent call last):
        ...
        multimolecule.utils.errors.InputError: output exists: ... (pass --overwrite, or overwrite=True, to replace it)
    """
    path = Path(path)
    check_overwrite(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    with raise_on_sigterm():
        if directory:
            temporary = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        else:
            handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(handle)
            temporary = Path(name)
        try:
            yield temporary
            check_overwrite(path, overwrite)  # something else may have written it meanwhile
            honour_umask(temporary)
            if directory and path.is_dir() and not path.is_symlink():
                merge_into(temporary, path)
            else:
                os.replace(temporary, path)
        finally:
            if temporary.is_dir() and not temporary.is_symlink():
                shutil.rmtree(temporary, ignore_errors=True)
            elif os.path.lexists(temporary):
                temporary.unlink()


def remove_outputs(folder: Path, patterns) -> None:
    """Remove the entries of `folder` that match `patterns` (glob patterns: a command's own outputs, in order) and
    nothing else, so that `--overwrite` leaves a user's other files in the folder.

    Example:
        >>> folder = Path(tempfile.mkdtemp())
        >>> for name in ("summary.md", "notes.txt"):
        ...     _ = (folder / name).write_text(name)
        >>> (folder / "runs").mkdir()
        >>> remove_outputs(folder, ("summary.*", "runs"))
        >>> sorted(p.name for p in folder.iterdir())
        ['notes.txt']
    """
    for pattern in patterns:
        for path in folder.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)


def merge_into(staging: Path, path: Path) -> None:
    """Move each entry of `staging` over its namesake in the directory `path`, leaving `path`'s other entries;
    `config.json` (what makes a folder load as a model) is removed first and moved in last."""
    (path / "config.json").unlink(missing_ok=True)
    for entry in sorted(staging.iterdir(), key=lambda p: p.name == "config.json"):
        target = path / entry.name
        old = None
        if target.is_dir() and not target.is_symlink():
            old = path / f".{entry.name}.{os.getpid()}.old"  # a directory cannot be renamed over another one
            target.rename(old)
        os.replace(entry, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


@contextmanager
def output_lock(path: str | os.PathLike | None) -> Iterator[None]:
    """Hold `<path>.lock` (the process id inside) while a command writes `path`, so that a second command writing
    the same output (two `--resume` runs, say) stops at once with `InputError` "in use by PID N" instead of both
    writing it. A lock whose process no longer runs (killed with SIGKILL) is taken over. None: no lock.

    Example:
        >>> import tempfile
        >>> output = Path(tempfile.mkdtemp()) / "scores.tsv"
        >>> with output_lock(output):
        ...     with output_lock(output):
        ...         pass
        Traceback (most recent call last):
        ...
        multimolecule.utils.errors.InputError: the output .../scores.tsv is in use by PID ... (its lock: ...)
    """
    if path is None:
        yield
        return
    lock = Path(f"{os.fspath(path).rstrip(os.sep)}.lock")
    created = [folder for folder in [lock.parent, *lock.parent.parents] if not folder.exists()]
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        while True:
            try:
                handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                break
            except FileExistsError:
                holder = lock_holder(lock)
                if holder is not None:
                    raise InputError(f"the output {path} is in use by PID {holder} (its lock: {lock})") from None
                lock.unlink(missing_ok=True)  # left by a process that no longer runs
        with os.fdopen(handle, "w") as file:
            file.write(f"{os.getpid()}\n")
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)
    finally:
        for folder in created:  # nearest first; only those this lock made and nothing else filled
            try:
                folder.rmdir()
            except OSError:
                break


def lock_holder(lock: Path) -> int | None:
    """The id of the running process that holds `lock`, or None (no lock, a damaged one, a process gone)."""
    try:
        pid = int(lock.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError) as error:
        return pid if isinstance(error, PermissionError) else None  # PermissionError: running, another user's
    return pid


def read_json_if_present(path: str | os.PathLike) -> dict:
    """The parsed JSON object at `path`, or `{}` if it is missing, unreadable or not an object."""
    path = Path(path)
    try:
        content = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return content if isinstance(content, dict) else {}
