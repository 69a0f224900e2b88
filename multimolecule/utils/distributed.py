"""Several processes (`torchrun`, `accelerate launch`): who this process is, and keeping the processes in step.

torch is imported inside the functions: outside a distributed run nothing here needs it, and the command line
imports this module while it parses its arguments.
"""

from __future__ import annotations

import atexit
import os

OWN_PROCESS_GROUP: list[bool] = []  # not empty while a process group opened by `distributed_context` is open


def rank() -> int:
    """This process's rank under torchrun (0 in a single process)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """The number of processes under torchrun (1 in a single process)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True in rank 0 (or a single process): the one that reports and writes shared outputs."""
    return rank() == 0


def distributed_context() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's (or accelerate's) environment; (0, 1, 0) otherwise.

    With several processes, opens a gloo process group (only to coordinate the ranks: models run on their own
    devices) unless one is open; `end_distributed` closes it.
    """
    world = world_size()
    if world <= 1:
        return 0, 1, 0
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
        OWN_PROCESS_GROUP.append(True)
    return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0"))


def synchronize() -> None:
    """Wait for every process of a distributed run (nothing to wait for in a single process)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def broadcast_error(message: str | None) -> str | None:
    """Rank 0's error message (or None) on every rank, which also keeps the ranks in step."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return message
    shared = [message]
    dist.broadcast_object_list(shared, src=0)
    return shared[0]


def end_distributed() -> None:
    """A last barrier; closes the process group if `distributed_context` opened it."""
    synchronize()
    if OWN_PROCESS_GROUP:
        import torch.distributed as dist

        dist.destroy_process_group()
        OWN_PROCESS_GROUP.clear()


def close_process_group_at_exit() -> None:
    """Destroy the process group (started by `TrainingArguments`) when the interpreter exits, while it is alive.

    A gloo group left to the interpreter's own teardown can abort the process (SIGABRT, "terminate called without
    an active exception") after a run that finished well. Registered once per process, however many runs it makes.
    """
    atexit.unregister(destroy_process_group)
    atexit.register(destroy_process_group)


def destroy_process_group() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
