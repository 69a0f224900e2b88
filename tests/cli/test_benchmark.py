"""`multimolecule benchmark` on the command line (the engine: tests/benchmark/): a suite run with progress on the
terminal and the table printed, and every bad input as one line before any training."""

from __future__ import annotations

import json
import shutil

import pytest

from ..helpers import cli_error, kmer_reference, one_thread, read_csv, run_cli  # noqa: F401  (one_thread: a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def data(benchmark_suite):
    return benchmark_suite


def test_folder_suite_probe_and_kmer(data, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = run_cli(
        capsys, "benchmark", data["folder"], "--output-dir", out, "--mode", "probe", "--seeds", "42,1"
    )
    assert code == 0, err
    rows = read_csv(out / "results.csv")
    assert list(rows[0]) == ["task", "mode", "seed", "metric", "value"]
    units = {(r["task"], r["mode"], r["seed"]) for r in rows}
    assert units == {(t, m, s) for t in ("crp", "ecoli", "splice5") for m in ("probe", "kmer") for s in ("42", "1")}
    mcc = {(r["task"], r["mode"]): float(r["value"]) for r in rows if r["metric"] == "mcc"}
    for task in ("crp", "ecoli", "splice5"):
        assert mcc[task, "kmer"] == pytest.approx(kmer_reference(data["folder"] / task), abs=1e-6)
    assert mcc["crp", "kmer"] > 0.3 and mcc["ecoli", "kmer"] > 0.3  # real signal, well above chance (0)
    assert all(-1 <= value <= 1 for value in mcc.values())
    summary = (out / "summary.md").read_text()
    assert "12 of 12 task x mode x seed units finished" in summary
    assert f"| crp | MCC | {100 * mcc['crp', 'probe']:.2f} ± 0.00 (n=2)" in summary
    assert (out / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "settings.json").read_text())["modes"] == ["probe", "kmer"]
    assert "crp kmer seed 42: mcc" in err  # progress over the tasks on the terminal
    assert "crp: probe" in stdout


def bad(tmp_path, data, case):
    """A suite folder with one defect, and the expected message."""
    folder = tmp_path / "suite"
    shutil.copytree(data["folder"] / "crp", folder / "crp")
    if case == "missing split":
        (folder / "crp" / "dev.csv").unlink()
        return [folder], "task crp: no dev split in"
    if case == "labels differ":
        with open(folder / "crp" / "test.csv", "a") as handle:
            handle.write("ACGTACGTACGTACGTACGTACGTAC,2\n")
        return [folder], "task crp: "
    if case == "empty folder":
        shutil.rmtree(folder / "crp")
        return [folder], "no tasks in"
    if case == "unknown suite":
        return ["no-such-suite"], "unknown suite 'no-such-suite'"
    if case == "unknown task":
        return [folder, "--task", "H3"], "unknown task 'H3'; this suite has: crp"
    if case == "gue without data":
        return ["gue"], "the gue suite needs --data DIR"
    return [folder, "--seeds", "1,x"], "--seeds must be integers"


@pytest.mark.parametrize(
    "case",
    ["missing split", "labels differ", "empty folder", "unknown suite", "unknown task", "gue without data", "seeds"],
)
def test_bad_input_is_one_line_before_any_training(data, tmp_path, capsys, case):
    argv, message = bad(tmp_path, data, case)
    line = cli_error(capsys, "benchmark", *argv, "--output-dir", tmp_path / "out", "--mode", "probe")
    assert message in line, line
    assert not (tmp_path / "out" / "runs").exists()
