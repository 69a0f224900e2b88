"""The guards every command shares (`cli/common.py`, `cli/__init__.py`): option checks, refusing to overwrite, no
partial output when terminated, writing nothing into its input, parsing without torch, and missing models."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from multimolecule.demo import demo_model_path

from ..helpers import MASKED, cli_error, fixture_dir, one_line_error, random_dna, run_cli, subprocess_env

ENV = subprocess_env()


# ---------------------------------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    "argv, option, value",
    [
        (["fill-mask", MASKED, "-k", "0"], "-k/--top-k", "0"),
        (["fill-mask", MASKED, "-k", "-3"], "-k/--top-k", "-3"),
        (["fill-mask", MASKED, "--device", "cuda"], "--device", "'cuda'"),
        (["fill-mask", MASKED, "--device", "cuda:7"], "--device", "'cuda:7'"),
        (["fill-mask", MASKED, "--device", "gpu"], "--device", "'gpu'"),
        (["fill-mask", MASKED, "--dtype", "fp8"], "--dtype", "'fp8'"),
        (["embed", "--example", "-o", "{tmp}/e.npy", "-b", "0"], "-b/--batch-size", "0"),
        (["embed", "--example", "-o", "{tmp}/e.npy", "-b", "-2"], "-b/--batch-size", "-2"),
        (["embed", "--example", "-o", "{tmp}/e.npy", "--device", "mps"], "--device", "'mps'"),
        (["embed", "--example", "-o", "{tmp}/e.npy", "--dtype", "half"], "--dtype", "'half'"),
        (["embed", "--example", "-o", "{tmp}/e.npy", "--pooling", "max"], "--pooling", "'max'"),
        (["convert", "-m", "{tmp}", "--output-dir", "{tmp}/out", "--model-type", "esm"], "--model-type", "'esm'"),
        (["info", "-m", "nt-demo", "--verbose"], "--verbose", ""),
    ],
)
def test_every_option_is_checked(capsys, tmp_path, argv, option, value):
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    code, out, err = run_cli(capsys, *argv)
    line = one_line_error(code, err)
    assert code == 2 and out == ""
    assert option in line and value in line, line
    if option == "--device":
        assert "available" in line and "cpu" in line  # says what there is
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("command", ["embed", "fill-mask", "score-variants", "mutagenesis", "predict-tracks"])
def test_species_is_checked_in_one_line(capsys, tmp_path, command):
    """`--species` (`add_species`): a species-conditioned model needs one of its own, any other model refuses one."""
    post, pre = fixture_dir("ntv3", "ntv3_post_tiny_a"), fixture_dir("ntv3", "ntv3_tiny_a")
    fasta = tmp_path / "ref.fa"
    fasta.write_text(f">chr1\n{random_dna(120, 7)}\n")
    variants = tmp_path / "v.tsv"
    variants.write_text(f"chr1\t60\t{fasta.read_text().split()[1][59]}\tN\n")
    argv = {
        "embed": ["embed", "--example", "-o", tmp_path / "e.npy"],
        "fill-mask": ["fill-mask", MASKED],
        "score-variants": ["score-variants", variants, "-r", fasta, "-o", tmp_path / "s.tsv"],
        "mutagenesis": ["mutagenesis", f"{fasta}:5-6", "-o", tmp_path / "m.tsv"],
        "predict-tracks": ["predict-tracks", f"{fasta}:1-10", "-o", tmp_path / "t.tsv"],
    }[command]
    if command != "predict-tracks":  # there argparse requires it
        line = cli_error(capsys, *argv, "-m", post, status=2)
        assert line == "error: --species must be given: this model is conditioned on one of human, mouse"
        line = cli_error(capsys, *argv, "-m", pre, "--species", "human", status=2)
        assert line == "error: --species is only for a model conditioned on a species (a post-trained NTv3)"
    line = cli_error(capsys, *argv, "-m", post, "--species", "dog", status=1)
    assert line == "error: unknown species 'dog'; the model knows human, mouse"
    assert sorted(tmp_path.iterdir()) == [fasta, variants]


# ---------------------------------------------------------------------------------------------------- outputs


def test_embed_refuses_to_overwrite(capsys, tmp_path):
    output = tmp_path / "e.safetensors"
    output.write_bytes(b"precious")
    line = cli_error(capsys, "embed", "--example", "-o", str(output), "-q")
    assert "output exists" in line and "--overwrite" in line
    assert output.read_bytes() == b"precious"
    code, out, err = run_cli(capsys, "embed", "--example", "-o", str(output), "-q", "--overwrite")
    assert code == 0, err
    assert f"wrote {output}" in out and output.read_bytes() != b"precious"
    assert sorted(tmp_path.iterdir()) == [output]


def test_a_second_writer_of_one_output_is_refused(capsys, tmp_path):
    """`<output>.lock` names the writer: while its process runs, another command writing there stops with one
    line; a lock left by a process that is gone (SIGKILL) is taken over, and removed at the end."""
    output = tmp_path / "e.safetensors"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "e.safetensors.lock").write_text(f"{holder.pid}\n")
        line = cli_error(capsys, "embed", "--example", "-o", str(output), "-q", "--overwrite")
        assert line == f"error: the output {output} is in use by PID {holder.pid} (its lock: {output}.lock)"
        assert not output.exists()
    finally:
        holder.kill()
        holder.wait()
    code, _, err = run_cli(capsys, "embed", "--example", "-o", str(output), "-q")  # the holder is gone
    assert code == 0, err
    assert sorted(tmp_path.iterdir()) == [output]


@pytest.mark.parametrize("signum", [signal.SIGTERM])  # SIGINT: the writes above and any Ctrl-C
def test_interrupted_embed_command(tmp_path, signum):
    """A real `embed` run, terminated once it has started: status 128 + signal, one line, no file at all."""
    fasta = tmp_path / "in.fa"
    fasta.write_text("".join(f">s{i}\n{'ACGTTGCAAC' * 400}\n" for i in range(400)))
    output = tmp_path / "out" / "e.safetensors"
    process = subprocess.Popen(
        [sys.executable, "-m", "multimolecule", "embed", str(fasta), "-o", str(output), "--per-base"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
        text=True,
    )
    progress = ""
    while "bp" not in progress:  # the progress bar: the model is loaded and running
        character = process.stderr.read(1)
        assert character, f"embed ended before it started: {progress}"
        progress += character
    time.sleep(0.5)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signum
    assert f"error: interrupted ({signal.Signals(signum).name}); unfinished outputs removed" in err.splitlines()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [fasta]


# ---------------------------------------------------------------------------------------------------- convert


def test_convert_refuses_to_write_into_its_input(capsys, tmp_path):
    source = tmp_path / "original"
    source.mkdir()
    for file in fixture_dir("dnabert2", "tiny_a").iterdir():
        if file.is_file():
            (source / file.name).write_bytes(file.read_bytes())
    before = sorted(p.name for p in source.iterdir())
    for output in (source, source / "converted", tmp_path, Path(os.path.relpath(source))):
        line = cli_error(capsys, "convert", "-m", str(source), "--output-dir", str(output), "--overwrite")
        assert "must not be, contain or lie inside the checkpoint" in line
    assert sorted(p.name for p in source.iterdir()) == before
    old = os.umask(0o022)
    try:
        assert run_cli(capsys, "convert", "-m", str(source), "--output-dir", str(tmp_path / "out"))[0] == 0
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "out" / "model.safetensors").stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["original", "out"]


# ---------------------------------------------------------------------------------- outputs apart from inputs


def command_inputs(tmp_path: Path) -> Path:
    """A folder holding a small genome, a variants table and a FASTA of sequences: inputs of every command."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    genome = "".join(random_dna(3000, seed=c) for c in range(1))
    (folder / "genome.fa").write_text(f">chr1\n{genome}\n>chr2\n{random_dna(3000, seed=1)}\n")
    (folder / "variants.tsv").write_text(f"chrom\tpos\tref\talt\nchr1\t100\t{genome[99]}\tN\n")
    return folder


OUTPUT_INTO_INPUT = {
    # command: (argv with {in} the input folder, the output that is, contains or lies inside an input)
    "pretrain": (
        ["pretrain", "--data", "{in}/genome.fa", "--model", "nt-demo", "-q", "--overwrite", "--output-dir"],
        "{in}",
    ),
    "pretrain-inside": (["pretrain", "--data", "{in}", "--model", "nt-demo", "-q", "--output-dir"], "{in}/run"),
    "train-tokenizer": (["train-tokenizer", "--data", "{in}/genome.fa", "--overwrite", "--output-dir"], "{in}"),
    "train-tokenizer-is": (
        ["train-tokenizer", "--data", "{in}/genome.fa", "--overwrite", "--output-dir"],
        "{in}/genome.fa",
    ),
    "train": (["train", "--data", "{in}", "--model", "nt-demo", "-q", "--overwrite", "--output-dir"], "{in}/run"),
    "score-variants": (
        ["score-variants", "{in}/variants.tsv", "-r", "{in}/genome.fa", "--overwrite", "-o"],
        "{in}/variants.tsv",
    ),
    "embed": (["embed", "{in}/genome.fa", "-q", "--overwrite", "-o"], "{in}/genome.fa"),
    "mutagenesis": (["mutagenesis", "{in}/genome.fa:1-20", "--overwrite", "-o"], "{in}/genome.fa"),
    "predict": (["predict", "{in}/genome.fa", "-m", "{in}", "--overwrite", "-o"], "{in}/genome.fa"),
    "evaluate": (["evaluate", "--data", "{in}", "-m", "nt-demo", "--overwrite", "-o"], "{in}/metrics.json"),
}


@pytest.mark.parametrize("command", list(OUTPUT_INTO_INPUT))
def test_no_output_is_contains_or_lies_inside_an_input(capsys, tmp_path, command):
    """One line, before any work, and the inputs untouched, `--overwrite` or not (convert: see below)."""
    folder = command_inputs(tmp_path)
    before = {p: p.read_bytes() for p in folder.iterdir()}
    argv, output = OUTPUT_INTO_INPUT[command]
    line = cli_error(capsys, *[arg.format(**{"in": folder}) for arg in argv], output.format(**{"in": folder}))
    assert "must not be, contain or lie inside the input" in line, line
    assert {p: p.read_bytes() for p in folder.iterdir()} == before


def test_overwrite_replaces_only_the_commands_own_outputs(capsys, tmp_path):
    """`pretrain`, `train-tokenizer` and `convert` into a folder holding a user's files: `--overwrite` replaces
    what the command wrote before and leaves the rest."""
    folder = command_inputs(tmp_path)
    fast = ["--max-steps", "2", "--eval-steps", "2", "--batch-size", "2", "--eval-windows", "2", "--max-length", "24"]
    commands = {
        "pretrain": [
            "pretrain",
            "--data",
            str(folder / "genome.fa"),
            "--model",
            "nt-demo",
            "-q",
            *fast,
            "--output-dir",
        ],
        "train-tokenizer": [
            "train-tokenizer",
            "--data",
            str(folder / "genome.fa"),
            "--vocab-size",
            "16",
            "--output-dir",
        ],
        "convert": ["convert", "-m", str(fixture_dir("dnabert2", "tiny_a")), "--output-dir"],
    }
    for name, argv in commands.items():
        output = tmp_path / name
        output.mkdir()
        (output / "notes.txt").write_text("mine")
        (output / "data").mkdir()
        (output / "data" / "reads.fa").write_text(">r\nACGT\n")
        assert run_cli(capsys, *argv, str(output))[0] == 1  # not empty: refused
        code, _, err = run_cli(capsys, *argv, str(output), "--overwrite")
        assert code == 0, err
        written = {p.name: p.stat().st_mtime_ns for p in output.iterdir()}
        code, _, err = run_cli(capsys, *argv, str(output), "--overwrite")  # again, over its own outputs
        assert code == 0, err
        assert (output / "notes.txt").read_text() == "mine" and (output / "data" / "reads.fa").is_file(), name
        assert {p.name for p in output.iterdir()} == set(written), name
        assert (output / "config.json" if name != "train-tokenizer" else output / "tokenizer.json").is_file()


# ---------------------------------------------------------------------------------------------------- imports


def imported_modules(argv: list[str], tmp_path: Path) -> tuple[int, set[str]]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=60
    )
    modules = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    return result.returncode, modules


CONSOLE_SCRIPT = """import re, sys
from multimolecule.cli import main
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit(main())
"""


@pytest.mark.parametrize(
    "arguments, status",
    [
        (["--help"], 0),
        (["--version"], 0),
        (["embed", "--help"], 0),
        (["benchmark", "--help"], 0),
        (["fill-mask", "-k"], 2),
        (["nonsense"], 2),
    ],
)
def test_parsing_imports_neither_torch_nor_transformers(tmp_path, arguments, status):
    script = tmp_path / "multimolecule"  # what pip writes for the console script
    script.write_text(CONSOLE_SCRIPT)
    for entry in (["-m", "multimolecule"], [str(script)]):
        code, modules = imported_modules([*entry, *arguments], tmp_path)
        assert code == status
        assert "multimolecule.cli" in modules
        assert not {"torch", "transformers", "numpy", "multimolecule.models"} & modules


def test_import_registers_the_models(tmp_path):
    code = "import multimolecule; from transformers import AutoConfig; print(type(AutoConfig.for_model('dnabert2')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, cwd=tmp_path)
    assert "DnaBert2Config" in result.stdout, result.stderr


# ------------------------------------------------------------------------------------------------ input edges


def test_missing_tokenizer_and_local_looking_paths(capsys, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    demo = demo_model_path("nt-demo")
    for name in ("config.json", "model.safetensors"):
        (model / name).write_bytes((demo / name).read_bytes())
    line = cli_error(capsys, "fill-mask", MASKED, "-m", str(model))
    assert f"no tokenizer in {model}" in line
    for path in ("./converted/dnabert2", "../converted/dnabert2", "models/converted/dnabert2", "~/nothing/here"):
        line = cli_error(capsys, "fill-mask", MASKED, "-m", path)
        assert f"model not found: {path} (no such directory" in line  # not sent to the Hub


def test_hub_looking_name_that_is_nowhere_fails_at_once(capsys, monkeypatch, tmp_path):
    """`converted/dnabert2` typed from the wrong directory: not a directory, not cached, and the Hub (unreachable
    here, or reachable and without such a model) is asked once, without transformers' retries."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "fill-mask", MASKED, "-m", "converted/dnabert2")
    assert "model not found: converted/dnabert2 is not a local directory" in one_line_error(code, err)
    assert "Retrying" not in err
