"""The errors of multimolecule that more than one layer raises or catches; each message says what is wrong."""

from __future__ import annotations


class InputError(ValueError):
    """Input the commands cannot use (a missing file, a record that is not DNA...); the message says why."""


class OptionError(InputError):
    """An option value out of range or unknown; the message names the option, the value and what is allowed.

    `option` is the option's name as the message starts with it (the Python name, `batch_size`), so that the
    command line can put its own spelling (`-b/--batch-size`) in its place.
    """

    def __init__(self, message: str, option: str | None = None):
        super().__init__(message)
        self.option = option


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


class CheckpointNotFoundError(CheckpointError, OSError):
    """A name that holds no checkpoint (no `config.json` there, or not at that revision).

    An `OSError`, as transformers raises for a checkpoint it cannot find, so code written for transformers catches it;
    and a `CheckpointError`, as every other loading problem is.

    Example:
        >>> issubclass(CheckpointNotFoundError, OSError), issubclass(CheckpointNotFoundError, CheckpointError)
        (True, True)
    """
