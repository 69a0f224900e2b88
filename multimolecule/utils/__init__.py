"""What every layer may use: errors, option checks, atomic outputs, signal handling, distributed helpers,
progress bars, token-budget batching and lazy package exports (`lazy`), importing nothing else of multimolecule.

The modules the command line uses while it parses its arguments (all but `batching`) import no torch.
"""

from .checks import check_above_zero, check_choice, check_device, check_dtype, check_positive, resolve_dtype
from .errors import (
    CheckpointError,
    CheckpointNotFoundError,
    CheckpointShapeError,
    ConversionError,
    InputError,
    OptionError,
)
from .files import atomic_output, check_apart, check_overwrite, output_lock, read_json_if_present, remove_outputs
from .signals import Terminated, raise_on_sigterm

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "CheckpointShapeError",
    "ConversionError",
    "InputError",
    "OptionError",
    "Terminated",
    "atomic_output",
    "check_above_zero",
    "check_apart",
    "check_choice",
    "check_device",
    "check_dtype",
    "check_overwrite",
    "check_positive",
    "output_lock",
    "raise_on_sigterm",
    "read_json_if_present",
    "remove_outputs",
    "resolve_dtype",
]
