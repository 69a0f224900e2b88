"""One line instead of transformers' load report for the differences a model class expects.

A class declares what it expects to differ from a masked-LM or pre-training checkpoint with transformers' own
attributes, as regular expressions on the state-dict keys:

- `_keys_to_ignore_on_load_unexpected`: checkpoint tensors it drops (a base model or a prediction head loaded
  from a masked-LM checkpoint has no `lm_head`);
- `_keys_to_ignore_on_load_missing`: tensors it initialises anew (a new prediction head, DNABERT-2's pooler);
- `_load_notes`: optionally, {module name: why}, said after that module.

transformers then leaves those keys out of its report; `ExpectedDifferencesMixin`, mixed into a model family's
`PreTrainedModel`, states them in one warning line (called by `multimolecule.integrations.transformers.LoadingStages`).
Anything else keeps transformers' full report; the tensors initialised anew are still listed in the `missing_keys` of
`output_loading_info=True`.
"""

from __future__ import annotations

import re
from collections import Counter

from transformers.utils import logging

logger = logging.get_logger(__name__)


def matching(keys: set[str], patterns) -> list[str]:
    """The keys that one of the regular expressions `patterns` finds (`re.search`, as transformers does)."""
    regex = re.compile("|".join(f"({pattern})" for pattern in patterns or ())) if patterns else None
    return sorted(key for key in keys if regex is not None and regex.search(key))


def describe(keys: list[str], notes: dict[str, str], reason: str) -> str:
    """Keys grouped by their first module, with the module's note from `notes`, else `reason`.

    Example:
        >>> describe(["pooler.dense.bias", "pooler.dense.weight"], {}, "not in the checkpoint")
        'pooler (2 tensors: not in the checkpoint)'
    """
    counts = Counter(key.split(".")[0] for key in keys)
    return ", ".join(
        f"{module} ({count} tensor{'s' * (count != 1)}: {notes.get(module, reason)})"
        for module, count in counts.items()
    )


class ExpectedDifferencesMixin:
    """States in one line the checkpoint differences the class declares as expected (see the module docstring)."""

    _load_notes: dict[str, str] = {}

    def report_expected_differences(self, loading_info) -> set[str]:
        """Log the expected differences in `loading_info` in one line; return the keys initialised anew."""
        name = type(self).__name__
        dropped = matching(set(loading_info.unexpected_keys), type(self)._keys_to_ignore_on_load_unexpected)
        new = matching(set(loading_info.missing_keys), type(self)._keys_to_ignore_on_load_missing)
        parts = []
        if dropped:
            parts.append(f"dropped {describe(dropped, self._load_notes, f'not part of {name}')}")
        if new:
            parts.append(f"newly initialised {describe(new, self._load_notes, 'not in the checkpoint, to be trained')}")
        if parts:
            source = getattr(self.config, "name_or_path", "") or "the checkpoint"
            logger.warning(f"{name} from {source}, as expected: " + "; ".join(parts))
        return set(new)
