"""Option checks: one-line `OptionError`s naming the option, the value and what is allowed.

Light to import: torch is imported only by the device and dtype checks, when they run, so that the command line
can check its arguments while `--help` stays free of torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import OptionError

if TYPE_CHECKING:
    import torch

DTYPES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16"}
DTYPES |= {"bfloat16": "bfloat16", "bf16": "bfloat16"}


def check_positive(name: str, value: int | None, allow_zero: bool = False) -> int | None:
    """`value` if it is an integer of at least 1 (0 too with `allow_zero`), or None; else an `OptionError`.

    Example:
        >>> check_positive("--top-k", 3)
        3
        >>> check_positive("--top-k", 0)
        Traceback (most recent call last):
        ...
        multimolecule.utils.errors.OptionError: --top-k must be an integer of at least 1, got 0
    """
    smallest = 0 if allow_zero else 1
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < smallest):
        raise OptionError(f"{name} must be an integer of at least {smallest}, got {value!r}", name)
    return value


def check_above_zero(name: str, value: float | None) -> float | None:
    """`value` if it is a finite number above 0 (or None); else an `OptionError`.

    Example:
        >>> check_above_zero("epochs", 0)
        Traceback (most recent call last):
        ...
        multimolecule.utils.errors.OptionError: epochs must be a finite number above 0, got 0
    """
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf")
    ):
        raise OptionError(f"{name} must be a finite number above 0, got {value!r}", name)
    return value


def check_choice(name: str, value: str | None, choices: Sequence[str]) -> str | None:
    """`value` if it is one of `choices` (or None); else an `OptionError` listing them.

    Example:
        >>> check_choice("--pooling", "max", ("mean", "cls"))
        Traceback (most recent call last):
        ...
        multimolecule.utils.errors.OptionError: --pooling must be one of mean, cls; got 'max'
    """
    if value is not None and value not in choices:
        raise OptionError(f"{name} must be one of {', '.join(choices)}; got {value!r}", name)
    return value


def check_dtype(name: str, value: str | None) -> str | None:
    """The canonical name (`float32`, `float16` or `bfloat16`) of a dtype name or alias (`fp16`, `bf16`...).

    Example:
        >>> check_dtype("--dtype", "bf16")
        'bfloat16'
        >>> check_dtype("--dtype", "fp8")
        Traceback (most recent call last):
        ...
        multimolecule.utils.errors.OptionError: --dtype must be one of float32, float16, bfloat16; got 'fp8'
    """
    if value is None:
        return None
    if str(value).removeprefix("torch.") not in DTYPES:
        raise OptionError(f"{name} must be one of float32, float16, bfloat16; got {value!r}", name)
    return DTYPES[str(value).removeprefix("torch.")]


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    """A dtype name or alias (`float16`, `fp16`, `bf16`...) or a `torch.dtype`; None means float32.

    Example:
        >>> resolve_dtype("bf16"), resolve_dtype(None)
        (torch.bfloat16, torch.float32)
    """
    import torch  # here, not at the top: the command line checks its options without torch

    return getattr(torch, check_dtype("dtype", str(dtype) if dtype is not None else "float32"))


def available_devices() -> list[str]:
    """The devices torch can use here: `cpu`, then `cuda:0`..., `mps`, `xpu:0`... (imports torch)."""
    import torch  # here, not at the top: the command line checks its options without torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    if hasattr(torch, "xpu") and torch.xpu.is_available():
        devices += [f"xpu:{i}" for i in range(torch.xpu.device_count())]
    return devices


def check_device(name: str, value: str | None) -> torch.device:
    """The `torch.device` for `value` (`auto` or None: the first accelerator present, else the CPU), checked to be
    present here; else an `OptionError` naming the option, the value and the devices that are available.

    Example:
        >>> check_device("--device", "cpu")
        device(type='cpu')
        >>> check_device("--device", "gpu")
        Traceback (most recent call last):
        ...
        multimolecule.utils.errors.OptionError: --device 'gpu' is not a device name (use auto, cpu, ...
    """
    import torch  # here, not at the top: the command line checks its options without torch

    available = available_devices()
    if value in (None, "auto"):
        return torch.device(available[1] if len(available) > 1 else "cpu")
    try:
        device = torch.device(value)
    except (RuntimeError, TypeError) as error:
        raise OptionError(
            f"{name} {value!r} is not a device name (use auto, cpu, cuda, cuda:N, mps); available here: "
            + ", ".join(available),
            name,
        ) from error
    wanted = str(device) if device.index is not None else device.type
    if device.type != "cpu" and not any(d == wanted or d.split(":")[0] == wanted for d in available):
        raise OptionError(f"{name} {value!r} is not available on this machine; available: {', '.join(available)}", name)
    return device
