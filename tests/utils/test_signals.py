"""SIGTERM as an exception (`multimolecule.utils.signals`), in a child process: inside the block it raises
`Terminated`, a `KeyboardInterrupt` as Ctrl-C's SIGINT raises, so `finally` blocks run; after the block it ends the
process again; a handler someone else installed, and other threads, are left alone."""

from __future__ import annotations

import signal
import subprocess
import sys

from ..helpers import subprocess_env

CHILD = """
import os, signal, sys, threading, time
from multimolecule.utils.signals import raise_on_sigterm

def interrupted(signum):
    cleaned = []
    try:
        with raise_on_sigterm():
            try:
                os.kill(os.getpid(), signum)
                time.sleep(30)
            finally:
                cleaned.append(True)
    except KeyboardInterrupt as error:
        print(signal.Signals(signum).name, type(error).__name__, getattr(error, "signum", None), cleaned, flush=True)

case = sys.argv[1]
if case == "signals":
    interrupted(signal.SIGINT)
    interrupted(signal.SIGTERM)
    print("restored", signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)  # after the block: the process ends at once, as by default
    time.sleep(30)
elif case == "handled":
    received = []
    signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    with raise_on_sigterm():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)
    print("handled", received, flush=True)
else:  # in another thread: signal handlers can only be set in the main thread
    errors = []
    def run():
        try:
            with raise_on_sigterm():
                pass
        except Exception as error:
            errors.append(repr(error))
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    print("thread", errors, signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, flush=True)
"""


def child(case: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CHILD, case],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=120,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as from a shell, whatever pytest set
    )


def test_sigterm_raises_inside_the_block_and_ends_the_process_after_it():
    done = child("signals")
    assert done.stdout.splitlines() == [
        "SIGINT KeyboardInterrupt None [True]",
        f"SIGTERM Terminated {int(signal.SIGTERM)} [True]",
        "restored True",
    ], done.stderr
    assert done.returncode == -signal.SIGTERM


def test_another_handler_and_other_threads_are_left_alone():
    handled, threaded = child("handled"), child("thread")
    assert handled.returncode == 0 and handled.stdout == f"handled [{int(signal.SIGTERM)}]\n", handled.stderr
    assert threaded.returncode == 0 and threaded.stdout == "thread [] True\n", threaded.stderr
