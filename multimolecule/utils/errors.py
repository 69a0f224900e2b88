"""The errors of multimolecule that more than one layer raises or catches; each message says what is wrong."""

from __future__ import annotations


class ConversionError(ValueError):
    """A checkpoint that cannot be converted; the message says why."""


class CheckpointError(ConversionError):
    """A checkpoint that cannot be loaded as it is; the message names the problem."""


class CheckpointShapeError(CheckpointError, RuntimeError):
    """Checkpoint tensors whose shapes differ from the model's (a `num_labels` or size mismatch).

    A `RuntimeError`, as transformers raises for a size mismatch, so code written for transformers catches it; and
    a `CheckpointError`, as every other loading problem is.

    Example:
        >>> issubclass(CheckpointShapeError, RuntimeError), issubclass(CheckpointShapeError, CheckpointError)
        (True, True)
    """
