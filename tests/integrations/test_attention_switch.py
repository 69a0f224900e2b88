"""The transformers internal behind `RuntimeAttentionSwitch` is still asked by `set_attn_implementation`
(`tests/modules/test_attention_dispatch.py` checks that the switch takes effect)."""

from __future__ import annotations

import inspect

from transformers import PreTrainedModel


def test_the_attention_switch_check_is_unchanged():
    check = getattr(PreTrainedModel, "_can_set_attn_implementation", None)
    assert check is not None, (
        "transformers.PreTrainedModel._can_set_attn_implementation is gone: RuntimeAttentionSwitch overrides it"
    )
    assert "self._can_set_attn_implementation()" in inspect.getsource(PreTrainedModel.set_attn_implementation), (
        "transformers' set_attn_implementation no longer calls _can_set_attn_implementation: RuntimeAttentionSwitch "
        "is not asked, and set_attn_implementation may only warn"
    )
