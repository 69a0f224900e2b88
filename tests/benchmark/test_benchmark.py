"""`multimolecule benchmark` on real sequences (scripts/benchmark_data.py: logomaker's CRP binding sites and human
5' splice sites, the E. coli gene windows of scripts/ecoli_tasks.py), in every suite layout: the k-mer baseline
and the probe against numbers computed here, outputs, resuming, shards, and every bad input as one line."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml

from multimolecule.benchmark import baselines, suites
from multimolecule.benchmark.shards import owned, parse_shard

from ..helpers import ROOT, cli_error, one_thread, run_cli, subprocess_env  # noqa: F401  (one_thread: a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")
LIMIT = 240  # rows per motif task, and per E. coli split: each mode of a task runs in seconds


def load_script(name: str):
    sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The small suite in every layout: {layout: folder}."""
    root = tmp_path_factory.mktemp("suite")
    script = load_script("benchmark_data")
    layouts = ("folder", "gue", "nt", "genomic-benchmarks")
    return {layout: script.write(root / layout, layout, LIMIT) for layout in layouts}


def read_csv(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def kmer_reference(folder) -> float:
    """The kmer mode's test MCC, recomputed here from the CSV files with scikit-learn directly."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import matthews_corrcoef
    from sklearn.preprocessing import StandardScaler

    splits = {s: read_csv(folder / f"{s}.csv") for s in ("train", "dev", "test")}
    x = {s: baselines.kmer_frequencies([r["sequence"] for r in rows]) for s, rows in splits.items()}
    y = {s: np.array([int(r["label"]) for r in rows]) for s, rows in splits.items()}
    scaler = StandardScaler(with_mean=False).fit(x["train"])
    best = None
    for strength in baselines.STRENGTHS:
        model = LogisticRegression(C=strength, max_iter=1000).fit(scaler.transform(x["train"]), y["train"])
        dev = matthews_corrcoef(y["dev"], model.predict(scaler.transform(x["dev"])))
        if best is None or dev > best[0]:
            best = (dev, model)
    return matthews_corrcoef(y["test"], best[1].predict(scaler.transform(x["test"])))


def test_kmer_frequencies_count_every_k():
    features = baselines.kmer_frequencies(["ACGTAC"], (1, 2)).toarray()[0]
    assert features[:4].tolist() == pytest.approx([2 / 6, 2 / 6, 1 / 6, 1 / 6])  # A C G T
    dimers = {"AC": 2, "CG": 1, "GT": 1, "TA": 1}
    expected = np.zeros(16)
    for dimer, count in dimers.items():
        expected[4 * "ACGT".index(dimer[0]) + "ACGT".index(dimer[1])] = count / 5
    assert features[4:] == pytest.approx(expected)


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


def test_gue_layout_takes_the_authors_settings_and_published_figures(data, tmp_path):
    from multimolecule.api import benchmark

    tasks = suites.load_suite("gue", str(data["gue"]), tmp_path)
    assert [t.name for t in tasks] == ["splice/reconstructed", "virus/covid", "tf/0"]
    splice = tasks[0].settings
    assert splice["finetune"]["max_length"] == 80 and splice["finetune"]["learning_rate"] == 2e-5
    assert splice["lora"]["learning_rate"] == 1e-4 and splice["lora"]["batch_size"] == 8
    assert tasks[1].metric == "f1" and tasks[1].published == 71.02
    table = benchmark("gue", tmp_path / "out", data=data["gue"], modes=[], tasks=["tf"], seeds="42")
    assert list(table) == ["tf/0"] and list(table["tf/0"]) == ["kmer"]
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "| tf/0 | MCC |" in summary and "| 71.99 |" in summary and "arXiv:2306.15006" in summary


def row_key(row: dict) -> tuple[str, str]:
    return row["sequence"], row["label"].removeprefix("class")  # genomic-benchmarks' classes are folder names


@pytest.mark.parametrize("layout", ["nt", "genomic-benchmarks"])
def test_converted_suites_match_the_folder_suite(data, tmp_path, layout):
    """The nt (through `datasets`) and genomic-benchmarks layouts give the same tasks and rows; the dev split is
    cut from train there, so the k-mer scores differ only by that."""
    tasks = suites.load_suite(layout, str(data[layout]), tmp_path)
    assert sorted(t.name for t in tasks) == ["crp", "ecoli", "splice5"]
    for task in tasks:
        rows = {s: read_csv(task.folder / f"{s}.csv") for s in ("train", "dev", "test")}
        source = {s: read_csv(data["folder"] / task.name / f"{s}.csv") for s in ("train", "dev", "test")}
        assert len(rows["train"]) + len(rows["dev"]) == len(source["train"]) + len(source["dev"])
        assert sorted(map(row_key, rows["test"])) == sorted(map(row_key, source["test"]))
        assert suites.check_task(task)


def test_resume_skips_finished_units_and_merges(data, tmp_path, capsys):
    out = tmp_path / "out"
    folder = tmp_path / "suite"
    shutil.copytree(data["folder"] / "crp", folder / "crp")
    shutil.copytree(data["folder"] / "splice5", folder / "splice5")
    assert (
        run_cli(capsys, "benchmark", folder, "--output-dir", out, "--mode", "probe", "--seeds", "42", "--shard", "1/2")[
            0
        ]
        == 0
    )
    assert {r["task"] for r in read_csv(out / "results.csv")} == {"crp"}
    assert "2 of 4 task x mode x seed units finished" in (out / "summary.md").read_text()
    first = (out / "runs" / "crp" / "kmer" / "seed-42" / "result.json").stat().st_mtime_ns
    code, _, err = run_cli(
        capsys, "benchmark", folder, "--output-dir", out, "--mode", "probe", "--seeds", "42", "--resume"
    )
    assert code == 0, err
    assert (out / "runs" / "crp" / "kmer" / "seed-42" / "result.json").stat().st_mtime_ns == first  # not rerun
    assert {r["task"] for r in read_csv(out / "results.csv")} == {"crp", "splice5"}
    assert "4 of 4" in (out / "summary.md").read_text()


def test_finetune_and_lora_write_the_train_output(data, tmp_path, capsys):
    out, config = tmp_path / "out", tmp_path / "config.yaml"
    config.write_text("max_steps: 2\neval_steps: 2\ntasks:\n  crp:\n    batch_size: 4\n")
    code, _, err = run_cli(capsys, "benchmark", data["folder"], "--output-dir", out, "--task", "crp", "--seeds", "7",
                           "--mode", "finetune", "--mode", "lora", "--config", config, "--device", "cpu")  # fmt: skip
    assert code == 0, err
    for mode in ("finetune", "lora"):
        run = out / "runs" / "crp" / mode / "seed-7"
        metrics = json.loads((run / "metrics.json").read_text())["test"]
        rows = {r["metric"]: float(r["value"]) for r in read_csv(out / "results.csv") if r["mode"] == mode}
        assert rows["mcc"] == pytest.approx(metrics["mcc"]) and (run / "config.json").is_file()
        assert not (run / "checkpoints").exists()
        saved = json.loads((out / "settings.json").read_text())["train_settings"]["crp"][mode]
        assert saved["batch_size"] == 4 and saved["max_steps"] == 2
    assert yaml.safe_load((out / "runs/crp/lora/seed-7/train_config.yaml").read_text())["lora"] is True


def test_shards_split_tasks():
    assert parse_shard("1/3") == (0, 3) and owned(list(range(7)), 2, 3) == [2, 5]


def test_torchrun_ranks_take_their_own_tasks(data, tmp_path):
    folder, out = tmp_path / "suite", tmp_path / "out"
    for task in ("crp", "splice5"):
        shutil.copytree(data["folder"] / task, folder / task)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "multimolecule"]
    command += ["benchmark", str(folder), "--output-dir", str(out), "--mode", "probe", "--seeds", "42", "--quiet"]
    finished = subprocess.run(command, env=subprocess_env(OMP_NUM_THREADS="1"), capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-2000:]
    slots = {}
    for task in ("crp", "splice5"):
        for mode in ("probe", "kmer"):
            unit = json.loads((out / "runs" / task / mode / "seed-42" / "result.json").read_text())
            slots.setdefault(task, set()).add(unit["details"]["slot"])
    assert slots == {"crp": {"1/2"}, "splice5": {"2/2"}}  # one task per rank, each unit once
    assert "4 of 4 task x mode x seed units finished" in (out / "summary.md").read_text()


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


def test_labels_differing_between_splits_are_named(data, tmp_path):
    folder = tmp_path / "t"
    shutil.copytree(data["folder"] / "crp", folder)
    rows = read_csv(folder / "test.csv")
    with open(folder / "test.csv", "w", newline="") as handle:  # the test split loses class 0
        writer = csv.writer(handle)
        writer.writerow(["sequence", "label"])
        writer.writerows((r["sequence"], r["label"]) for r in rows if r["label"] == "1")
    with pytest.raises(suites.InputError, match=r"labels differ between splits \(train 0, 1; dev 0, 1; test 1\)"):
        suites.check_task(suites.BenchmarkTask("t", folder))
