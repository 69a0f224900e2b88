"""What the commands share: the parser class, the shared options, and one-line errors.

Nothing here imports torch or transformers: `--help` and argument errors answer without them. Options are checked
once, by the engines, when a command runs; their `OptionError`s name the Python setting (`batch_size`), which
`option_spelling` turns into the command's own flag (`-b/--batch-size`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..utils import ConversionError, InputError, OptionError

MODEL_HELP = "model directory or Hub id (ours or an original one), or bundled demo: dnabert2-demo (default), nt-demo"


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one `error: ...` line (and exit status 2), like every other error here."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def add_command(commands, name: str, run, **kwargs) -> argparse.ArgumentParser:
    """A subcommand whose `run(args)` runs it; its parser is kept in `args.parser` to name its flags in errors."""
    parser = commands.add_parser(name, **kwargs)
    parser.set_defaults(handler=run, parser=parser)
    return parser


def model_types() -> list[str]:
    """The registered model families (`multimolecule.models.MODELS`) by folder name (the `model_type`, or a short
    name for it: `ntv3`), read from the package folders so that parsing the arguments does not import the models."""
    models = Path(__file__).resolve().parent.parent / "models"
    return sorted(folder.name for folder in models.iterdir() if (folder / "convert_checkpoint.py").is_file())


def add_model(parser: argparse.ArgumentParser, text: str = MODEL_HELP, **kwargs) -> None:
    """`-m/--model`: the model a command runs, trains or converts (every command has it)."""
    parser.add_argument("-m", "--model", help=text, **kwargs)


def add_species(parser: argparse.ArgumentParser, **kwargs) -> None:
    """`--species`: the species a species-conditioned model (a post-trained NTv3) is conditioned on."""
    text = "the species to condition on, one of the model's (a post-trained NTv3)"
    parser.add_argument("--species", help=text, **kwargs)


def add_quiet(parser, default: bool | None = True) -> None:
    """`-q/--quiet` (every command has it): `args.progress` False. `default` None is the settings commands' "not
    given" (the settings file or the setting's default, True, decides)."""
    parser.add_argument(
        "-q", "--quiet", dest="progress", action="store_false", default=default, help="no progress bar or log lines"
    )


class Deprecated(argparse.Action):
    """A hidden old spelling of an option that takes one value: stores into the new option's `dest` and says, in
    one line on stderr, which spelling replaces it."""

    def __init__(self, option_strings, dest, use: str, **kwargs):
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **kwargs)
        self.use = use

    def __call__(self, parser, namespace, values, option_string=None):
        deprecation(f"{parser.prog} {option_string}", self.use)
        setattr(namespace, self.dest, values)


def add_deprecated(parser, *flags: str, use: str, dest: str, **kwargs) -> None:
    """An old spelling (`flags`) of the option `use`, kept working for existing scripts but not shown in help."""
    parser.add_argument(*flags, action=Deprecated, dest=dest, use=use, **kwargs)


def deprecation(old: str, use: str) -> None:
    """The one-line note of a deprecated spelling."""
    print(f"note: {old} is deprecated; use {use}", file=sys.stderr)


def add_overwrite(parser: argparse.ArgumentParser) -> None:
    """The `--overwrite` flag of every command that writes; pass `args.overwrite` on to `utils.atomic_output`."""
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output (default: refuse)")


def add_runtime(parser: argparse.ArgumentParser) -> None:
    """`--device` and `--dtype`, checked by the engine (`utils.check_device`, `utils.check_dtype`)."""
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, mps or auto (default)")
    parser.add_argument("--dtype", default="float32", help="float32 (default, fp32), float16 (fp16) or bfloat16 (bf16)")


def add_batching(parser: argparse.ArgumentParser, unit: str = "sequences") -> None:
    """`--max-tokens` and `-b/--batch-size` of the commands that batch by a token budget."""
    parser.add_argument(
        "--max-tokens", type=int, help="tokens per forward pass, padding included (default 1024 on CPU, 32768 on GPU)"
    )
    parser.add_argument("-b", "--batch-size", type=int, help=f"at most this many {unit} per forward pass")


TYPE_METAVARS = {int: "N", float: "X"}


def add_settings(
    parser: argparse.ArgumentParser,
    settings: dict,
    short_flags: dict[str, str],
    metavars: dict[str, str],
    texts: dict[str, str],
    flags: dict[str, str] | None = None,
) -> None:
    """One option per setting of a settings table (sections of `Setting(default, type, help)`, as
    `training.settings.SETTINGS` and `pretraining.settings.SETTINGS`), one argument group per section, with
    `--config FILE` (a YAML/JSON file of settings, `args.settings_file`) among the "model and output" options.
    `short_flags`, `metavars`, `texts` (the command line's wording, where it says more than the setting's help)
    and `flags` (the long flag, where it is not the setting's name) are by setting name. The settings' defaults
    are kept in `parser.setting_defaults` (the options' own default is None), for `vocabulary.default`."""
    parser.setting_defaults = {name: setting.default for table in settings.values() for name, setting in table.items()}
    for section, table in settings.items():
        group = parser.add_argument_group(section)
        for name, setting in table.items():
            spelling = [short_flags[name]] if name in short_flags else []
            spelling.append((flags or {}).get(name, "--" + name.replace("_", "-")))
            add_setting(group, name, setting, spelling, metavars.get(name), texts.get(name))
        if section == "model and output":
            group.add_argument(
                "--config", dest="settings_file", metavar="FILE", help="YAML/JSON file of settings (any option, with _)"
            )


def add_setting(group, name: str, setting, flags: list[str], metavar: str | None, text: str | None) -> None:
    """The option of one setting, spelt `flags`. Every option defaults to None (not given), so that a settings
    file's value is not overridden; the help shows the setting's own default."""
    text = text or setting.help
    if name == "progress":  # the one setting that is on by default: the flag turns it off
        add_quiet(group, default=None)
    elif setting.type is bool:
        group.add_argument(*flags, dest=name, action="store_true", default=None, help=text)
    elif setting.type is list:
        shown = "" if setting.default is None else f" (default: {' '.join(setting.default)})"
        group.add_argument(*flags, dest=name, nargs="+", metavar="NAME", help=text + shown)
    else:
        shown = "" if setting.default is None else f" (default: {setting.default})"
        metavar = metavar or TYPE_METAVARS.get(setting.type)
        group.add_argument(*flags, dest=name, type=setting.type, metavar=metavar, help=text + shown)


def setting_names(settings: dict) -> list[str]:
    """The names of every setting of a settings table, in order."""
    return [name for table in settings.values() for name in table]


def option_spelling(error: OptionError, parser: argparse.ArgumentParser | None) -> str:
    """The message of `error` with the setting it names spelt as the command's flag (`batch_size` ->
    `-b/--batch-size`), where the command has one."""
    message = str(error)
    shown = [action for action in (parser._actions if parser else []) if action.help is not argparse.SUPPRESS]
    flags = {action.dest: "/".join(action.option_strings) for action in shown}  # not the old spellings
    if error.option and message.startswith(error.option) and flags.get(error.option):
        return flags[error.option] + message[len(error.option) :]
    return message


def one_line(error: BaseException, parser: argparse.ArgumentParser | None = None) -> str:
    """`error` as one line: the message of the errors that explain themselves, else its type and message."""
    if isinstance(error, OptionError):
        return option_spelling(error, parser)
    message = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, (InputError, OSError, ConversionError)):
        return message
    return f"{type(error).__name__}: {message} (rerun with --debug for the traceback)"
