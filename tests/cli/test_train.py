"""`multimolecule train`: each option reaches `api.train` as its setting (the ones not given as None, for the
settings file or the default to decide), and the metrics it prints (the training itself: training/test_engine.py)."""

from __future__ import annotations

from multimolecule import api
from multimolecule.cli.common import setting_names
from multimolecule.training.settings import SETTINGS

from ..helpers import run_cli


def test_options_reach_train_as_settings_and_the_metrics_are_printed(capsys, tmp_path, monkeypatch):
    calls = []

    def train(data, output_dir, config=None, **settings):
        calls.append((data, output_dir, config, settings))
        return {"dev": {"mcc": 0.5, "accuracy": 0.75}, "test": {"mcc": 0.25, "accuracy": 0.0625}}

    monkeypatch.setattr(api, "train", train)
    monkeypatch.chdir(tmp_path)
    argv = ["--data", "gue", "--output-dir", "out", "--config", "run.yaml", "-m", "nt-demo", "-b", "4", "--lora"]
    argv += ["--lora-target-modules", "query", "value", "--epochs", "2.5", "--max-steps", "-1", "-q"]
    code, out, err = run_cli(capsys, "train", *argv)
    assert (code, err) == (0, "")
    ((data, output_dir, config, settings),) = calls
    assert (data, output_dir, config) == ("gue", "out", "run.yaml")
    given = {"model": "nt-demo", "batch_size": 4, "lora": True, "lora_target_modules": ["query", "value"]}
    given |= {"epochs": 2.5, "max_steps": -1, "progress": False}
    names = [name for name in setting_names(SETTINGS) if name not in ("data", "output_dir")]
    assert settings == {name: given.get(name) for name in names}
    assert out == "dev: mcc 0.5000  accuracy 0.7500\ntest: mcc 0.2500  accuracy 0.0625\n"
