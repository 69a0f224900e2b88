"""`multimolecule info` on the demo models."""

from __future__ import annotations

import re

import pytest

from multimolecule import api

from ..helpers import DEMOS, run_cli


@pytest.mark.parametrize("model", DEMOS)
def test_info_demo(capsys, model):
    code, out, _ = run_cli(capsys, "info", "-m", model)
    assert code == 0
    assert re.search(r"parameters\s+[\d,]+", out) and re.search(r"trained_length\s+\d+", out)
    details = api.info(model)
    assert details["format"] == "multimolecule" and details["trained_length"] == 128
    assert 0 <= details["baseline_accuracy"] <= 1 and 0 <= details["held_out_accuracy"] <= 1
