"""Run `python -m multimolecule...` for the docs snippets without paying the interpreter start-up each time.

Started once by tests/docs/test_docs.py as `python tests/docs/snippet_server.py serve SOCKET`: it imports torch,
transformers and multimolecule (the code under test, from PYTHONPATH), then for each request forks a child that
takes the client's working directory, environment, standard streams and arguments and runs the module as `python -m`
would (`runpy.run_module(..., run_name="__main__")`). The client (`python -S tests/docs/snippet_server.py run MODULE
ARGS...`, the bash snippets' `multimolecule` and `python -m multimolecule...`) exits with the child's status. The
server imports only, runs no torch operation, so forking it is safe.
"""

from __future__ import annotations

import json
import os
import socket
import sys


def serve(path: str) -> None:
    import runpy

    import multimolecule  # noqa: F401  (the point: import once, fork many times)
    import multimolecule.api  # noqa: F401
    import multimolecule.cli  # noqa: F401

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()
    print("ready", flush=True)
    while True:
        connection, _ = server.accept()
        with connection:
            message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
            request = json.loads(message)
            pid = os.fork()
            if pid == 0:
                server.close()
                status = 1
                try:
                    for target, fd in enumerate(fds):
                        os.dup2(fd, target)
                    os.chdir(request["cwd"])
                    os.environ.clear()
                    os.environ.update(request["env"])
                    sys.argv = [request["module"], *request["args"]]
                    try:
                        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
                        status = 0
                    except SystemExit as exit:
                        status = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
                        if not isinstance(exit.code, int | None):
                            print(exit.code, file=sys.stderr)
                    except BaseException:
                        import traceback

                        traceback.print_exc()
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(status)
            for fd in fds:
                os.close(fd)
            _, wait_status = os.waitpid(pid, 0)
            connection.sendall(str(os.waitstatus_to_exitcode(wait_status)).encode())


def run(module: str, args: list[str]) -> int:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(os.environ["DOCS_SNIPPET_SERVER"])
    request = {"module": module, "args": args, "cwd": os.getcwd(), "env": dict(os.environ)}
    socket.send_fds(client, [json.dumps(request).encode()], [0, 1, 2])
    client.shutdown(socket.SHUT_WR)
    reply = b"".join(iter(lambda: client.recv(64), b""))
    code = int(reply)
    return code if code >= 0 else 128 - code  # killed by a signal: as bash reports it


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        sys.exit(run(sys.argv[2], sys.argv[3:]))
