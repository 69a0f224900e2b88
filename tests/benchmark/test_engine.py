"""`multimolecule.benchmark.engine` on real sequences (scripts/benchmark_data.py, `benchmark_suite` in
conftest.py): the units as one sharded job (`utils.runner`): parts and torchrun ranks take their own tasks,
resuming skips every finished task x mode x seed (LoRA units too) and merges, and `finetune`/`lora` write the
`train` output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml

from multimolecule.api import benchmark
from multimolecule.utils import InputError
from multimolecule.utils.runner import ShardedJob, parse_part

from ..helpers import one_thread, read_csv, subprocess_env  # noqa: F401  (one_thread: a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def data(benchmark_suite):
    return benchmark_suite


def suite_of(data, tmp_path, *tasks: str):
    folder = tmp_path / "suite"
    for task in tasks:
        shutil.copytree(data["folder"] / task, folder / task)
    return folder


def test_resume_skips_finished_units_and_merges(data, tmp_path):
    out, folder = tmp_path / "out", suite_of(data, tmp_path, "crp", "splice5")
    benchmark(folder, out, modes="probe", seeds="42", shard="1/2")
    assert {r["task"] for r in read_csv(out / "results.csv")} == {"crp"}
    assert "2 of 4 task x mode x seed units finished" in (out / "summary.md").read_text()
    assert (out / "results.csv.shards" / "manifest.json").is_file()  # the other part's task is still to come
    first = (out / "runs" / "crp" / "kmer" / "seed-42" / "result.json").stat().st_mtime_ns
    benchmark(folder, out, modes="probe", seeds="42", resume=True)
    assert (out / "runs" / "crp" / "kmer" / "seed-42" / "result.json").stat().st_mtime_ns == first  # not rerun
    assert {r["task"] for r in read_csv(out / "results.csv")} == {"crp", "splice5"}
    assert "4 of 4" in (out / "summary.md").read_text()
    assert not (out / "results.csv.shards").exists()  # merged: the shards are gone


def test_finetune_and_lora_write_the_train_output(data, tmp_path):
    out, config = tmp_path / "out", tmp_path / "config.yaml"
    config.write_text("max_steps: 2\neval_steps: 2\ntasks:\n  crp:\n    batch_size: 4\n")
    modes = ["finetune", "lora"]
    benchmark(data["folder"], out, tasks=["crp"], seeds="7", modes=modes, config=config, device="cpu")
    for mode in modes:
        run = out / "runs" / "crp" / mode / "seed-7"
        metrics = json.loads((run / "metrics.json").read_text())["test"]
        rows = {r["metric"]: float(r["value"]) for r in read_csv(out / "results.csv") if r["mode"] == mode}
        assert rows["mcc"] == pytest.approx(metrics["mcc"]) and (run / "config.json").is_file()
        assert not (run / "checkpoints").exists()
        saved = json.loads((out / "settings.json").read_text())["train_settings"]["crp"][mode]
        assert saved["batch_size"] == 4 and saved["max_steps"] == 2
    assert yaml.safe_load((out / "runs/crp/lora/seed-7/train_config.yaml").read_text())["lora"] is True


def test_lora_units_resume(data, tmp_path):
    """A finished LoRA unit is skipped on resume; a half-written one (interrupted before its result) is run again,
    to the same numbers; a unit written for other settings is refused in one line."""
    out, config, folder = tmp_path / "out", tmp_path / "config.yaml", suite_of(data, tmp_path, "crp")
    config.write_text("max_steps: 2\neval_steps: 2\nbatch_size: 4\n")
    options = {"modes": "lora", "seeds": "7,8", "config": config, "device": "cpu"}
    first = benchmark(folder, out, **options)
    done, half = out / "runs/crp/lora/seed-7", out / "runs/crp/lora/seed-8"
    kept = {name: (done / name).stat().st_mtime_ns for name in ("result.json", "metrics.json")}
    before = json.loads((half / "result.json").read_text())["metrics"]
    (half / "result.json").unlink()  # interrupted after training, before the unit was recorded
    (half / "metrics.json").unlink()
    again = benchmark(folder, out, resume=True, **options)
    assert {name: (done / name).stat().st_mtime_ns for name in kept} == kept  # the finished unit: not rerun
    assert json.loads((half / "metrics.json").read_text())["test"]["mcc"] == pytest.approx(before["mcc"])
    assert json.loads((half / "result.json").read_text())["metrics"] == pytest.approx(before)
    assert again["crp"]["lora"]["mean"] == pytest.approx(first["crp"]["lora"]["mean"])
    assert "4 of 4 task x mode x seed units finished" in (out / "summary.md").read_text()
    config.write_text("max_steps: 3\neval_steps: 3\nbatch_size: 4\n")  # other settings: the units are another job's
    with pytest.raises(Exception, match=r"seed-7/result.json was not written for these inputs; remove it"):
        benchmark(folder, out, resume=True, **options)


def test_shards_split_tasks(tmp_path):
    """A task's units (modes x seeds) are one shard of the job: part i of n takes every n-th task."""
    assert parse_part("1/3") == (1, 3)
    units = [f"task-{t}/mode/seed-{s}" for t in range(7) for s in (1, 2)]
    job = ShardedJob(tmp_path / "results.csv", units, {}, part=(3, 3), shard_records=2, independent=True)
    assert [shard.index for shard in job.mine()] == [2, 5]
    assert [list(shard.items) for shard in job.mine()] == [[4, 5], [10, 11]]


def test_torchrun_ranks_take_their_own_tasks(data, tmp_path):
    folder, out = suite_of(data, tmp_path, "crp", "splice5"), tmp_path / "out"
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
    assert not (out / "results.csv.shards").exists()  # the last rank to finish merged


def test_overwrite_removes_only_the_benchmarks_own_outputs(tmp_path):
    """`--overwrite` empties what a benchmark wrote (settings, units, tables, shards) and leaves a user's file."""
    from multimolecule.benchmark.engine import prepare_output

    output = tmp_path / "out"
    (output / "runs" / "crp" / "kmer" / "seed-42").mkdir(parents=True)
    (output / "results.csv.shards").mkdir()
    for name in ("settings.json", "results.csv", "summary.md", "summary.png", "notes.txt"):
        (output / name).write_text("{}")
    with pytest.raises(InputError, match="is not empty; pass --resume to continue it or --overwrite"):
        prepare_output(output, {}, resume=False, overwrite=False, shared=False)
    prepare_output(output, {}, resume=False, overwrite=True, shared=False)
    assert [path.name for path in output.iterdir()] == ["notes.txt"]
