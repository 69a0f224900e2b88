"""The PyTorch internals that `multimolecule.integrations.pytorch` relies on are still there and mean what it reads
them for.

A failure here names the internal that a PyTorch release changed: adapt that module, nothing else."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from multimolecule.integrations.pytorch import has_forward_hooks, recompile_limit


@pytest.mark.parametrize("register", ["forward", "forward_pre", "global_forward", "global_forward_pre"])
def test_hook_registries_are_unchanged(register):
    layer = nn.Linear(2, 2)
    for name in ("_forward_hooks", "_forward_pre_hooks"):
        assert isinstance(getattr(layer, name, None), dict), (
            f"torch.nn.Module.{name} is gone: has_forward_hooks reads it"
        )
    for name in ("_global_forward_hooks", "_global_forward_pre_hooks"):
        assert isinstance(getattr(nn.modules.module, name, None), dict), (
            f"torch.nn.modules.module.{name} is gone: has_forward_hooks reads it"
        )
    assert not has_forward_hooks(layer)
    if register.startswith("global_"):
        function = getattr(nn.modules.module, f"register_module_{register.removeprefix('global_')}_hook")
    else:
        function = getattr(layer, f"register_{register}_hook")
    handle = function(lambda *args: None)
    try:
        assert has_forward_hooks(layer), f"a hook of register_..._{register}_hook is no longer where torch kept it"
    finally:
        handle.remove()
    assert not has_forward_hooks(layer)


def test_recompile_limit_setting_is_unchanged():
    config = getattr(getattr(torch, "_dynamo", None), "config", None)
    assert config is not None and hasattr(config, "recompile_limit"), (
        "torch._dynamo.config.recompile_limit is gone: recompile_limit sets it"
    )
    before = config.recompile_limit
    with recompile_limit(before + 7):
        assert config.recompile_limit == before + 7
    assert config.recompile_limit == before
