"""Who runs which task: `--shard i/n` (a SLURM array, or any scheduler, one slice per machine) and the ranks of
`torchrun` (one GPU each) share the tasks out, task by task, in the suite's order; everything the benchmark needs
to spread work lives here, so that it can move onto a shared sharded-job runner as a whole.

Under `torchrun`, every rank runs its own tasks as a process of its own: the launcher's variables are read, then
taken out of the environment (so that `Trainer` does not join the ranks into one data-parallel run), and the rank
sees only its own GPU (`CUDA_VISIBLE_DEVICES`). The ranks share nothing but the output directory: each finished
unit is a file there, and whichever process finishes last merges them.
"""

from __future__ import annotations

import os
import re

from ..utils import OptionError
from ..utils.distributed import rank, world_size

LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK")
LAUNCHER_VARIABLES += ("ROLE_WORLD_SIZE", "GROUP_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID")


def parse_shard(shard: str | None) -> tuple[int, int]:
    """`"i/n"`, slice i of n counted from 1 (`1/4` ... `4/4`), as a 0-based (index, count); `(0, 1)` without one.

    Example:
        >>> parse_shard("2/4"), parse_shard(None)
        ((1, 4), (0, 1))
    """
    if shard is None:
        return 0, 1
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(shard))
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise OptionError(f"shard must be i/n with 1 <= i <= n (e.g. 1/4), got {shard!r}", "shard")
    return int(match[1]) - 1, int(match[2])


def own_slot(shard: str | None) -> tuple[int, int]:
    """(this process's slot, number of slots) over `--shard` and the torchrun ranks: slot = shard x ranks + rank.

    Under torchrun, also detaches this process from the launcher (see the module's docstring); call it once,
    before CUDA is first used.
    """
    index, count = parse_shard(shard)
    process, processes = rank(), world_size()
    if processes > 1:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        devices = visible.split(",") if visible else None
        os.environ["CUDA_VISIBLE_DEVICES"] = devices[local % len(devices)] if devices else str(local)
        for name in LAUNCHER_VARIABLES:
            os.environ.pop(name, None)
    return index * processes + process, count * processes


def owned(items: list, slot: int, slots: int) -> list:
    """The items of `slot`: every `slots`-th, starting at `slot`.

    Example:
        >>> owned(list("abcdefg"), 1, 3)
        ['b', 'e']
    """
    return items[slot::slots]
