"""The bottom layer: errors, option checks, atomic outputs, signal handling, distributed helpers, progress bars.

Nothing here imports another part of multimolecule, and nothing imports torch at import time (the command line
uses these while it parses its arguments).
"""

from .checks import check_above_zero, check_choice, check_device, check_dtype, check_positive, resolve_dtype
from .errors import InputError, OptionError
from .files import atomic_output, check_overwrite, read_json_if_present
from .signals import Terminated, raise_on_sigterm

__all__ = [
    "InputError",
    "OptionError",
    "Terminated",
    "atomic_output",
    "check_above_zero",
    "check_choice",
    "check_device",
    "check_dtype",
    "check_overwrite",
    "check_positive",
    "raise_on_sigterm",
    "read_json_if_present",
    "resolve_dtype",
]
