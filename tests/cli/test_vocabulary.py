"""One option vocabulary (`multimolecule.cli.vocabulary`): across every command's parser an option means the same,
in the same unit, with the same default; every command has `-q` and `-m`; `-o` is a file and `--output-dir` a
folder; `--config` a settings file; docs/cli.md's table is the parsers'; the old spellings still work, hidden."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from multimolecule.cli import build_parser, pretrain
from multimolecule.cli.vocabulary import BY_COMMAND, SHARED, commands, default, options, table

from ..helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
PARSER = build_parser()
PARSERS = commands(PARSER)
OPTIONS = options(PARSER)
WITHOUT_A_MODEL = {"train-tokenizer"}  # trains a tokenizer: no model to name


def signature(action: argparse.Action) -> tuple:
    """What must be the same wherever an option appears: its spellings, where it stores, how, and what it takes."""
    kind = str if action.type is None else action.type  # a setting's str option and a plain option alike
    return tuple(sorted(action.option_strings)), action.dest, type(action).__name__, kind, action.nargs, action.choices


def test_an_option_means_the_same_in_every_command():
    shared = {option: actions for option, actions in OPTIONS.items() if len(actions) > 1}
    assert set(shared) == set(SHARED), "every option of several commands is in vocabulary.SHARED, and only those"
    assert set(BY_COMMAND) <= set(SHARED)
    for option, actions in shared.items():
        signatures = {command: signature(action) for command, action in actions.items()}
        assert len(set(signatures.values())) == 1, (option, signatures)
        if option not in BY_COMMAND:
            defaults = {command: default(PARSERS[command], action) for command, action in actions.items()}
            assert len({repr(value) for value in defaults.values()}) == 1, (option, defaults)


def test_the_option_names_mean_one_thing():
    assert {command: default(PARSERS[command], OPTIONS["--dtype"][command]) for command in OPTIONS["--dtype"]} == {
        command: "float32" for command in OPTIONS["--dtype"]
    }
    assert "--window" not in OPTIONS["--window"].keys() - {"score-variants", "mutagenesis"}
    assert all("bases" in action.help for action in OPTIONS["--window"].values())
    assert "tokens" in OPTIONS["--window-tokens"]["embed"].help and "tokens" in OPTIONS["--stride-tokens"]["embed"].help
    for option, actions in OPTIONS.items():
        for command, action in actions.items():
            assert ("-o" in action.option_strings) == (option == "--output"), (command, option)
            assert action.metavar != "DIR" or option != "--output", command
            if option == "--config":
                assert action.dest == "settings_file" and "settings" in action.help
    assert set(OPTIONS["--output-dir"]) == {"convert", "train", "pretrain", "train-tokenizer", "benchmark"}


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_every_command_has_quiet_and_model(command):
    assert OPTIONS["--quiet"][command].option_strings == ["-q", "--quiet"]
    quiet = OPTIONS["--quiet"][command]
    assert (quiet.dest, type(quiet), default(PARSERS[command], quiet)) == (
        "progress",
        argparse._StoreFalseAction,
        False,
    )
    if command not in WITHOUT_A_MODEL:
        assert OPTIONS["--model"][command].option_strings == ["-m", "--model"]
    assert not any(action.dest == "model" for action in PARSERS[command]._actions if not action.option_strings)


def test_the_docs_table_is_the_parsers():
    page = (ROOT / "docs" / "cli.md").read_text()
    assert table(PARSER) in page, "regenerate docs/cli.md's options table: see multimolecule/cli/vocabulary.py"
    rows = [line for line in table(PARSER).splitlines()[2:]]
    assert len(rows) == len(OPTIONS) and all(re.match(r"\| `-", row) for row in rows)


@pytest.mark.parametrize(
    "old, new",
    [
        (
            ["embed", "-o", "e.npy", "--window", "64", "--stride", "32"],
            ["embed", "-o", "e.npy", "--window-tokens", "64", "--stride-tokens", "32"],
        ),
        (["train", "-o", "out"], ["train", "--output-dir", "out"]),
        (
            ["pretrain", "-o", "out", "--settings", "run.yaml"],
            ["pretrain", "--output-dir", "out", "--config", "run.yaml"],
        ),
        (
            ["train-tokenizer", "--data", "g.fa", "-o", "bpe"],
            ["train-tokenizer", "--data", "g.fa", "--output-dir", "bpe"],
        ),
        (
            ["train-tokenizer", "--data", "g.fa", "--output", "bpe"],
            ["train-tokenizer", "--data", "g.fa", "--output-dir", "bpe"],
        ),
    ],
)
def test_old_spellings_still_work_hidden(capsys, old, new):
    assert vars(build_parser().parse_args(old)) | {"parser": None} == vars(build_parser().parse_args(new)) | {
        "parser": None
    }
    notes = capsys.readouterr().err.splitlines()
    assert notes and all(
        re.fullmatch(r"note: multimolecule \S+ \S+ is deprecated; use --\S+.*", note) for note in notes
    )
    help_text = PARSERS[old[0]].format_help()
    assert not {flag for flag in old if flag.startswith("-") and flag not in new} & set(
        re.findall(r"-[-\w]+", help_text)
    )


def test_old_positional_spellings_still_work(capsys, tmp_path):
    code, out, err = run_cli(capsys, "info", "nt-demo")
    assert code == 0 and "nucleotide_transformer" in out
    assert err == "note: multimolecule info MODEL is deprecated; use multimolecule info -m MODEL\n"
    assert run_cli(capsys, "info", "-m", "nt-demo")[1] == out
    code, _, err = run_cli(capsys, "convert", str(tmp_path / "missing"), str(tmp_path / "out"), "--model", "dnabert2")
    notes, error = err.splitlines()[:-1], err.splitlines()[-1]
    assert code == 1 and "not found" in error and len(notes) == 2 and "--model-type TYPE" in notes[1]
    assert pretrain.architecture("dnabert2") and pretrain.architecture(str(tmp_path))  # the old `pretrain --config`
    assert not pretrain.architecture(str(tmp_path / "run.yaml")) and not pretrain.architecture(None)


@pytest.mark.parametrize(
    "command, setting, spelling",
    [
        ("embed", "window", "--window-tokens"),
        ("train", "output_dir", "--output-dir"),
        ("pretrain", "config", "--architecture"),
    ],
)
def test_errors_name_the_new_spelling(command, setting, spelling):
    from multimolecule.cli.common import option_spelling
    from multimolecule.utils import OptionError

    message = option_spelling(OptionError(f"{setting} must be something, got 0", setting), PARSERS[command])
    assert message == f"{spelling} must be something, got 0"
