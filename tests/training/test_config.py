"""Run settings (chanfig): a saved YAML or JSON file over the defaults, keyword overrides over the file, and the
errors of a missing or unreadable file. `TrainConfig` and `PretrainConfig` share `resolve_config`."""

from __future__ import annotations

import json

import pytest

from multimolecule.pretraining.config import resolve_pretrain_config
from multimolecule.training.config import TrainConfig, resolve_config
from multimolecule.utils import InputError


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_saved_config_comes_back_and_overrides_beat_it(tmp_path, suffix: str) -> None:
    config = resolve_config(None, {"epochs": 3, "learning_rate": 2e-4, "pooling": "cls", "lora": True})
    path = tmp_path / f"run{suffix}"
    config.yaml(str(path)) if suffix == ".yaml" else config.json(str(path))  # as train writes train_config.yaml
    loaded = resolve_config(path, {"epochs": 5, "batch_size": None})
    assert loaded.dict() == {**config.dict(), "epochs": 5}
    assert isinstance(loaded, TrainConfig)


def test_a_hand_written_file_takes_hyphens(tmp_path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"batch-size": 4, "max_steps": 7}))
    config = resolve_pretrain_config(tmp_path / "run.json", {"data": "genome.fa"})
    assert (config.batch_size, config.max_steps, config.data) == (4, 7, "genome.fa")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "config file not found"),
        ("epochs: [1\n", "cannot read config file"),
        ("- epochs\n- 3\n", r"must hold settings \(name: value\), not list"),
    ],
)
def test_a_missing_or_broken_file(tmp_path, text: str | None, message: str) -> None:
    path = tmp_path / "run.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError, match=message):
        resolve_config(path)


@pytest.mark.parametrize("dtype", ["float32", "bf16", "auto"])
def test_train_and_pretrain_take_the_same_dtypes(dtype: str) -> None:
    from multimolecule.pretraining.config import check_settings as check_pretrain_settings
    from multimolecule.training.config import check_settings

    check_settings(resolve_config(None, {"dtype": dtype}))
    check_pretrain_settings(
        resolve_pretrain_config(None, {"dtype": dtype, "data": "g.fa", "model": "nt-demo", "output_dir": "o"})
    )
    assert TrainConfig().dtype == resolve_pretrain_config().dtype == "float32"  # the one default


def test_a_resumed_run_reads_the_settings_it_saved(tmp_path) -> None:
    resolve_config(None, {"epochs": 3, "lora": True}).yaml(str(tmp_path / "train_config.yaml"))
    resolve_pretrain_config(None, {"max_steps": 7}).yaml(str(tmp_path / "pretrain_config.yaml"))
    resumed = resolve_config(None, {"output_dir": str(tmp_path), "resume": True, "epochs": 4})
    assert (resumed.epochs, resumed.lora) == (4, True)  # saved, then the overrides
    assert resolve_config(None, {"output_dir": str(tmp_path)}).epochs == TrainConfig().epochs  # not resumed
    pretrain = resolve_pretrain_config(None, {"output_dir": str(tmp_path), "resume": True, "data": ["a.fa", "b"]})
    assert (pretrain.max_steps, pretrain.data) == (7, "a.fa,b")


def test_an_empty_file_sets_nothing(tmp_path) -> None:
    (tmp_path / "run.yaml").write_text("")
    assert resolve_config(tmp_path / "run.yaml", {"epochs": 2}).dict() == resolve_config(None, {"epochs": 2}).dict()
