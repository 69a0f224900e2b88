"""Every use of a private PyTorch API but oneDNN's kernel (`onednn.py`), in one place.

Each use says which public API is missing. `tests/integrations/test_pytorch.py` checks that every name used here
still exists and means what it is relied on for, so that a PyTorch release that changes one fails there, with a
message naming it, instead of somewhere in a model.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch
from torch import nn


def has_forward_hooks(module: nn.Module) -> bool:
    """Whether calling `module` runs forward (pre-)hooks besides its `forward`: its own or global ones.

    Missing public API: `nn.Module` registers hooks publicly (`register_forward_hook`, ...) but cannot say
    whether it has any; they are kept in the private `_forward_hooks` and `_forward_pre_hooks`, and the global ones
    in `torch.nn.modules.module._global_forward_hooks` and `_global_forward_pre_hooks`.

    Example:
        >>> layer = nn.Linear(2, 2)
        >>> has_forward_hooks(layer)
        False
        >>> handle = layer.register_forward_hook(lambda module, args, output: None)
        >>> has_forward_hooks(layer)
        True
    """
    return bool(
        module._forward_hooks
        or module._forward_pre_hooks
        or nn.modules.module._global_forward_hooks
        or nn.modules.module._global_forward_pre_hooks
    )


def recompile_limit(limit: int) -> AbstractContextManager:
    """Within it, a `torch.compile`d function compiles up to `limit` variants (one per input shape) before it
    falls back to eager code.

    Missing public API: the limit is a setting of the private `torch._dynamo.config` only (`torch.compiler.config`
    does not have it).

    Example:
        >>> with recompile_limit(64):
        ...     torch._dynamo.config.recompile_limit
        64
    """
    return torch._dynamo.config.patch(recompile_limit=limit)
