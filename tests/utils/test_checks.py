"""Option checks (`multimolecule.utils.checks`): the values each check accepts and those it refuses, in one line
that names the option and the value."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from multimolecule.utils import OptionError, checks
from multimolecule.utils.checks import (
    check_above_zero,
    check_choice,
    check_device,
    check_dtype,
    check_positive,
    resolve_dtype,
)

CHOICES = ("mean", "cls")


def call(check, name: str | None, value):
    """`check(name, value)` (with `CHOICES` for `check_choice`), or `check(value)` for `resolve_dtype`."""
    if check is resolve_dtype:
        return check(value)
    return check(name, value, CHOICES) if check is check_choice else check(name, value)


@pytest.mark.parametrize(
    "check, name, value, expected",
    [
        (check_positive, "--top-k", 1, 1),
        (check_positive, "--top-k", 10**12, 10**12),
        (check_positive, "--top-k", None, None),
        (partial(check_positive, allow_zero=True), "--seed", 0, 0),
        (check_above_zero, "--lr", 1e-9, 1e-9),
        (check_above_zero, "--lr", 3, 3),
        (check_above_zero, "--lr", None, None),
        (check_choice, "--pooling", "cls", "cls"),
        (check_choice, "--pooling", None, None),
        (check_dtype, "--dtype", "fp32", "float32"),
        (check_dtype, "--dtype", "float16", "float16"),
        (check_dtype, "--dtype", "fp16", "float16"),
        (check_dtype, "--dtype", "bf16", "bfloat16"),
        (check_dtype, "--dtype", "torch.bfloat16", "bfloat16"),
        (check_dtype, "--dtype", torch.float16, "float16"),
        (check_dtype, "--dtype", None, None),
        (resolve_dtype, None, torch.bfloat16, torch.bfloat16),
        (resolve_dtype, None, "fp16", torch.float16),
        (resolve_dtype, None, None, torch.float32),
    ],
)
def test_accepted_values(check, name, value, expected):
    assert call(check, name, value) == expected


@pytest.mark.parametrize(
    "check, name, value, message",
    [
        (check_positive, "--top-k", 0, "--top-k must be an integer of at least 1, got 0"),
        (check_positive, "--top-k", -2, "--top-k must be an integer of at least 1, got -2"),
        (check_positive, "--top-k", True, "--top-k must be an integer of at least 1, got True"),
        (check_positive, "--top-k", 2.0, "--top-k must be an integer of at least 1, got 2.0"),
        (check_positive, "--top-k", "3", "--top-k must be an integer of at least 1, got '3'"),
        (partial(check_positive, allow_zero=True), "--seed", -1, "--seed must be an integer of at least 0, got -1"),
        (check_above_zero, "--lr", 0, "--lr must be a finite number above 0, got 0"),
        (check_above_zero, "--lr", -0.5, "--lr must be a finite number above 0, got -0.5"),
        (check_above_zero, "--lr", float("inf"), "--lr must be a finite number above 0, got inf"),
        (check_above_zero, "--lr", float("nan"), "--lr must be a finite number above 0, got nan"),
        (check_above_zero, "--lr", True, "--lr must be a finite number above 0, got True"),
        (check_choice, "--pooling", "CLS", "--pooling must be one of mean, cls; got 'CLS'"),
        (check_dtype, "--dtype", "half", "--dtype must be one of float32, float16, bfloat16; got 'half'"),
        (check_dtype, "--dtype", "float64", "--dtype must be one of float32, float16, bfloat16; got"),
        (resolve_dtype, None, torch.float64, "dtype must be one of float32, float16, bfloat16; got 'torch.float64'"),
    ],
)
def test_refused_values(check, name, value, message):
    with pytest.raises(OptionError) as error:
        call(check, name, value)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    assert message.startswith(error.value.option)  # the name the command line replaces with its own spelling


@pytest.mark.parametrize(
    "available, value, expected",
    [
        (["cpu"], None, "cpu"),
        (["cpu"], "auto", "cpu"),
        (["cpu", "cuda:0", "cuda:1"], "auto", "cuda:0"),
        (["cpu", "cuda:0", "cuda:1"], "cuda", "cuda"),
        (["cpu", "cuda:0", "cuda:1"], "cuda:1", "cuda:1"),
        (["cpu", "mps"], "mps", "mps"),
        (["cpu"], "cpu", "cpu"),
    ],
)
def test_devices_that_are_here_are_accepted(monkeypatch, available, value, expected):
    monkeypatch.setattr(checks, "available_devices", lambda: available)
    assert check_device("--device", value) == torch.device(expected)


@pytest.mark.parametrize(
    "available, value, message",
    [
        (["cpu"], "cuda", "--device 'cuda' is not available on this machine; available: cpu"),
        (["cpu", "cuda:0"], "cuda:1", "--device 'cuda:1' is not available on this machine; available: cpu, cuda:0"),
        (["cpu", "cuda:0"], "mps", "--device 'mps' is not available on this machine; available: cpu, cuda:0"),
        (["cpu"], "gpu", "--device 'gpu' is not a device name (use auto, cpu, cuda, cuda:N, mps); available here: cpu"),
    ],
)
def test_devices_that_are_not_here_are_refused(monkeypatch, available, value, message):
    monkeypatch.setattr(checks, "available_devices", lambda: available)
    with pytest.raises(OptionError) as error:
        check_device("--device", value)
    assert str(error.value) == message and error.value.option == "--device"
