"""FlexAttention against eager, token-budget batching, streamed and multi-process embedding."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from multimolecule import (
    DnaBert2Config,
    DnaBert2Model,
    NucleotideTransformerConfig,
    NucleotideTransformerModel,
    api,
)
from multimolecule.batching import map_batches, token_budget_batches
from multimolecule.embedding import SHARD_RECORDS, EmbeddingWriter, WindowEmbedder, shard_directory, shard_path
from multimolecule.modules.flex_attention import token_bucket

ROOT = Path(__file__).resolve().parents[1]
TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}


def ragged(lengths: list[int], pad_id: int):
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.full((len(lengths), max(lengths)), pad_id)
    attention_mask = torch.zeros_like(input_ids)
    for row, length in enumerate(lengths):
        input_ids[row, :length] = torch.randint(5, 4000, (length,), generator=generator)
        attention_mask[row, :length] = 1
    return input_ids, attention_mask


@pytest.mark.parametrize(
    "model_class, config_class",
    [(DnaBert2Model, DnaBert2Config), (NucleotideTransformerModel, NucleotideTransformerConfig)],
)
def test_flex_attention_equals_eager_and_compiles_once_per_bucket(model_class, config_class):
    from torch._dynamo.utils import counters

    config = config_class(**TINY, hidden_dropout=0.0)
    torch.manual_seed(0)
    eager = model_class._from_config(config, attn_implementation="eager").eval()
    flex = model_class._from_config(config, attn_implementation="flex_attention").eval()
    flex.load_state_dict(eager.state_dict())
    pad_id = config.pad_token_id
    # 140 and 180 real tokens: the same 256-token bucket, so the second batch reuses the first one's kernel
    batches = [ragged([70, 3, 45, 22], pad_id), ragged([60, 60, 59, 1], pad_id)]
    assert token_bucket(140) == token_bucket(180) == 256
    graphs = []
    with torch.no_grad():
        for input_ids, attention_mask in batches:
            expected = eager(input_ids, attention_mask=attention_mask).last_hidden_state
            actual = flex(input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.bool()
            assert (actual - expected)[mask].abs().max() < 1e-5
            assert actual[~mask].abs().max() == 0  # padding comes back as zeros
            graphs.append(counters["stats"]["unique_graphs"])
    assert graphs[1] == graphs[0]  # no compilation for the second batch of the bucket


def test_token_budget_batches_bound_memory_and_keep_order():
    rng = random.Random(0)
    lengths = [rng.randint(1, 300) for _ in range(200)]
    batches = token_budget_batches(lengths, max_tokens=1000)
    assert sorted(index for batch in batches for index in batch) == list(range(200))
    assert all(len(batch) * max(lengths[i] for i in batch) <= 1000 for batch in batches)
    firsts = [lengths[batch[0]] for batch in batches]
    assert firsts == sorted(firsts, reverse=True)  # longest first
    assert len(batches) < 200 * 150 / 1000 * 1.5  # batches are filled, not one item each
    assert token_budget_batches([5000, 3], max_tokens=100) == [[0], [1]]  # too long for the budget: alone
    items = [f"item{i}" for i in range(200)]
    assert map_batches(lambda batch: [item.upper() for item in batch], items, lengths, 1000) == [
        item.upper() for item in items
    ]
    with pytest.raises(ValueError, match="max_tokens"):
        token_budget_batches(lengths, 0)


def random_records(count: int, seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    return {f"r{i}": "".join(rng.choices("ACGT", k=rng.randint(20, 700))) for i in range(count)}


def read_all(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    with safe_open(path, "pt") as file:
        return file.metadata(), {key: file.get_tensor(key) for key in file.keys()}


def test_streamed_output_equals_memory_and_budget_does_not_change_results(tmp_path):
    records = random_records(5, 1)
    in_memory = api.embed(records, per_base=True, max_tokens=2048)
    small_budget = api.embed(records, per_base=True, max_tokens=128)  # one window per batch
    streamed = api.embed(records, output=tmp_path / "out.safetensors", per_base=True)
    torch.testing.assert_close(small_budget.embeddings, in_memory.embeddings, atol=1e-5, rtol=1e-5)
    assert torch.equal(streamed.embeddings, in_memory.embeddings)
    for index in range(len(records)):
        assert torch.equal(streamed.per_base[index], in_memory.per_base[index])  # read back from the file
    for suffix in (".npz", ".npy"):  # per-sequence only, in the other formats
        written = api.embed(records, output=tmp_path / f"out{suffix}", max_tokens=2048)
        plain = api.embed(records, max_tokens=2048)
        assert torch.equal(written.embeddings, plain.embeddings)
    metadata, tensors = read_all(tmp_path / "out.safetensors")
    assert metadata["stride_tokens"] == str(int(metadata["window_tokens"]) // 2 - 1)  # per-base: half the body
    assert sorted(tensors) == ["embeddings", *sorted(f"per_base.{i}" for i in range(5))]


def test_window_and_stride():
    sequence = random_records(1, 2)["r0"] * 3
    pooled = api.embed([sequence], window=32)
    assert pooled.metadata["stride_tokens"] == "30"  # per-sequence output: windows do not overlap
    overlapping = api.embed([sequence], window=32, stride=10)
    assert not torch.allclose(pooled.embeddings, overlapping.embeddings)
    with pytest.raises(api.InputError, match="stride"):
        api.embed([sequence], window=32, stride=31)


def run_embed(*arguments: str, processes: int = 1) -> subprocess.CompletedProcess:
    launcher = ["-m", "torch.distributed.run", "--nproc-per-node", str(processes)] if processes > 1 else []
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    command = [sys.executable, *launcher, "-m", "multimolecule", "embed", *arguments, "-q"]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)


def test_two_processes_equal_one_and_resume_skips_finished_shards(tmp_path):
    records = random_records(SHARD_RECORDS + 6, 3)  # two shards, one per process
    fasta = tmp_path / "input.fa"
    fasta.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in records.items()))
    one, two = tmp_path / "one.safetensors", tmp_path / "two.safetensors"
    single = run_embed(str(fasta), "-o", str(one), "--per-base")
    double = run_embed(str(fasta), "-o", str(two), "--per-base", processes=2)
    assert single.returncode == 0, single.stderr
    assert double.returncode == 0, double.stderr
    assert not shard_directory(two).exists()  # merged, then removed
    (meta_one, tensors_one), (meta_two, tensors_two) = read_all(one), read_all(two)
    assert meta_one == meta_two and tensors_one.keys() == tensors_two.keys()
    for key in tensors_one:
        torch.testing.assert_close(tensors_two[key], tensors_one[key], atol=1e-6, rtol=1e-6)


def test_resume_skips_finished_shards(tmp_path, monkeypatch):
    records = random_records(SHARD_RECORDS + 2, 4)
    output = tmp_path / "resumed.safetensors"
    directory = shard_directory(output)
    original_run = WindowEmbedder.run

    def interrupted_after_one_shard(self, texts, *args):
        if len(texts) < SHARD_RECORDS:  # the second shard
            raise KeyboardInterrupt
        return original_run(self, texts, *args)

    monkeypatch.setattr(WindowEmbedder, "run", interrupted_after_one_shard)
    with pytest.raises(KeyboardInterrupt):
        api.embed(records, output=output, per_base=True, resume=True)
    monkeypatch.undo()
    assert sorted(path.name for path in directory.iterdir()) == ["manifest.json", shard_path(directory, 0, 2).name]
    assert not output.exists()

    # Put zeros in the finished shard: a resumed job must take it as it is and compute only the other one.
    names, lengths = list(records)[:SHARD_RECORDS], [len(s) for s in records.values()][:SHARD_RECORDS]
    with EmbeddingWriter(shard_path(directory, 0, 2), names, lengths, 128, True, {}, overwrite=True) as zeros:
        for index, length in enumerate(lengths):
            zeros.write(index, torch.zeros(128), torch.zeros(length, 128))
    resumed = api.embed(records, output=output, per_base=True, resume=True)
    expected = api.embed(records, per_base=True)
    assert resumed.embeddings[:SHARD_RECORDS].abs().max() == 0 and resumed.per_base[0].abs().max() == 0
    assert torch.equal(resumed.embeddings[SHARD_RECORDS:], expected.embeddings[SHARD_RECORDS:])
    assert torch.equal(resumed.per_base[SHARD_RECORDS + 1], expected.per_base[SHARD_RECORDS + 1])
    assert not directory.exists()
    with pytest.raises(api.InputError, match="resume needs an output"):
        api.embed(records, resume=True)


def test_two_processes_refusing_a_resume_both_fail_with_the_reason(tmp_path):
    """Rank 0 finds shards of another job: every rank stops with that error, none waits for the others."""
    records = random_records(SHARD_RECORDS + 6, 5)
    fasta = tmp_path / "input.fa"
    fasta.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in records.items()))
    output = tmp_path / "out.safetensors"
    directory = shard_directory(output)
    directory.mkdir()
    (directory / "manifest.json").write_text('{"another": "job"}')
    result = run_embed(str(fasta), "-o", str(output), "--resume", processes=2)
    assert result.returncode != 0
    assert result.stderr.count("holds shards of another job") >= 2, result.stderr  # both ranks say why
    assert not output.exists()
