"""Who this process is among several (`multimolecule.utils.distributed`), and the process group it opens or
leaves alone. Two real processes run in `embed`'s tests (`embedding/test_engine.py`)."""

from __future__ import annotations

import pytest
import torch.distributed as dist

from multimolecule.utils import distributed


def test_rank_and_world_come_from_torchruns_environment(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert (distributed.rank(), distributed.world_size(), distributed.is_main_process()) == (0, 1, True)
    assert distributed.distributed_context() == (0, 1, 0) and not dist.is_initialized()  # one process: no group
    assert distributed.broadcast_error("why") == "why"
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert (distributed.rank(), distributed.world_size(), distributed.is_main_process()) == (3, 4, False)


@pytest.fixture
def open_group():
    """A one-process gloo group opened by someone else (as `TrainingArguments` opens one)."""
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def test_a_group_opened_by_someone_else_is_used_and_left_open(monkeypatch, open_group):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.distributed_context() == (0, 1, 1)  # the open group's rank and size
    assert not distributed.OWN_PROCESS_GROUP
    assert distributed.broadcast_error("rank 0 failed") == "rank 0 failed"
    assert distributed.broadcast_error(None) is None
    distributed.end_distributed()
    assert dist.is_initialized()  # not ours to close
