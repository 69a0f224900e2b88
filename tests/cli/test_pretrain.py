"""`multimolecule pretrain` and `train-tokenizer`: parsing imports no torch, and `pretrain`'s options are its
settings table, with the table's defaults in `--help`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from multimolecule.cli import build_parser
from multimolecule.pretraining import PretrainConfig
from multimolecule.pretraining.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.parametrize("arguments", [["pretrain", "--help"], ["train-tokenizer", "--help"], ["pretrain", "-b"]])
def test_parsing_imports_neither_torch_nor_transformers(tmp_path, arguments):
    command = [sys.executable, "-X", "importtime", "-m", "multimolecule", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=60)
    modules = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert result.returncode == (2 if arguments[-1] == "-b" else 0), result.stderr[-2000:]
    assert "multimolecule.cli.pretrain" in modules
    assert not {"torch", "transformers", "chanfig", "multimolecule.models"} & modules


def test_every_setting_is_an_option_with_its_default():
    parser = build_parser()
    args = parser.parse_args(["pretrain", "--data", "g.fa", "--mask-probability", "0.2", "-q", "--resume"])
    assert (args.data, args.mask_probability, args.progress, args.resume) == ("g.fa", 0.2, False, True)
    assert args.batch_size is None and args.settings_file is None  # not given: the settings file or the default decides
    names = {name for section in SETTINGS.values() for name in section}
    assert names == set(PretrainConfig().keys()) and names <= set(vars(args))
    pretrain = next(a for a in parser._subparsers._group_actions[0].choices.values() if a.prog.endswith("pretrain"))
    text = " ".join(pretrain.format_help().split())
    assert "--learning-rate X peak learning rate (DNABERT-2's card) (default: 0.0005)" in text
    assert "--max-steps N optimiser steps (default: 10000)" in text
