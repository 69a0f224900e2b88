"""`embed` from Python: streamed output equal to in memory, windows and strides, several processes, resuming."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from multimolecule import NucleotideTransformerV3Model, api
from multimolecule.embedding import SHARD_RECORDS, EmbeddingWriter, WindowEmbedder, shard_directory, window_starts
from multimolecule.utils.runner import digest, item_digest, shard_path

from .helpers import fixture_dir, random_dna, subprocess_env


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
    env = subprocess_env(OMP_NUM_THREADS="1")
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
    first = shard_path(directory, 0, 2, ".safetensors")
    assert sorted(path.name for path in directory.iterdir()) == ["manifest.json", first.name]
    assert not output.exists()

    # Put zeros in the finished shard, stamped as the shard of these records: a resumed job must take it as it
    # is and compute only the other one.
    names, lengths = list(records)[:SHARD_RECORDS], [len(s) for s in records.values()][:SHARD_RECORDS]
    stamp = {"shard_inputs": digest(*(item_digest(n, records[n]) for n in names)), "shard_rows": str(SHARD_RECORDS)}
    with EmbeddingWriter(first, names, lengths, 128, True, stamp, overwrite=True) as zeros:
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


def test_resume_refuses_changed_sequences_model_dtype_and_planted_shards(tmp_path, monkeypatch):
    records = random_records(SHARD_RECORDS + 2, 6)
    output = tmp_path / "out.safetensors"
    directory = shard_directory(output)
    original_run = WindowEmbedder.run

    def interrupted_after_one_shard(self, texts, *args):
        if len(texts) < SHARD_RECORDS:
            raise KeyboardInterrupt
        return original_run(self, texts, *args)

    monkeypatch.setattr(WindowEmbedder, "run", interrupted_after_one_shard)
    with pytest.raises(KeyboardInterrupt):
        api.embed(records, output=output, resume=True)
    monkeypatch.undo()
    first = shard_path(directory, 0, 2, ".safetensors")
    kept = first.read_bytes()
    with safe_open(first, "pt") as file:
        assert file.metadata()["shard_rows"] == str(SHARD_RECORDS)
    changed = {**records, "r3": records["r3"][:-1] + ("A" if records["r3"][-1] != "A" else "C")}  # one base
    cases = [
        ({"inputs": changed}, "(differing: the sequences);"),
        ({"dtype": "bfloat16"}, "(differing: the dtype (float32 then, bfloat16 now));"),
        ({"model": "nt-demo"}, "(differing: the model's weights, settings model, stride);"),
    ]
    for change, expected in cases:
        options = {"inputs": records, "output": output, "resume": True, **change}
        with pytest.raises(api.InputError, match="holds shards of another job") as error:
            api.embed(**options)
        assert expected in str(error.value), str(error.value)
    plant = tmp_path / "planted.safetensors"  # zeros stamped as another shard's records
    names = list(records)[:SHARD_RECORDS]
    stamp = {"shard_inputs": "0" * 64, "shard_rows": str(SHARD_RECORDS)}
    with EmbeddingWriter(plant, names, [len(records[n]) for n in names], 128, False, stamp) as zeros:
        for index in range(SHARD_RECORDS):
            zeros.write(index, torch.zeros(128), None)
    first.write_bytes(plant.read_bytes())
    with pytest.raises(api.InputError, match=f"{first} was not written for these inputs"):
        api.embed(records, output=output, resume=True)
    first.write_bytes(b"")
    with pytest.raises(api.InputError, match=rf"{first} is damaged \("):
        api.embed(records, output=output, resume=True)
    first.write_bytes(kept)
    resumed = api.embed(records, output=output, resume=True)
    assert torch.equal(resumed.embeddings, api.embed(records).embeddings)


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


def test_embed_reverse_complement_is_strand_symmetric():
    sequence = random_dna(700, 3)  # longer than one window of the demo model
    forward = api.embed([sequence], per_base=True, reverse_complement=True)
    backward = api.embed([api.revcomp(sequence)], per_base=True, reverse_complement=True)
    torch.testing.assert_close(forward.embeddings, backward.embeddings, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(forward.per_base[0], backward.per_base[0].flip(0), atol=1e-4, rtol=1e-4)
    plain = api.embed([sequence], per_base=True)
    assert not torch.allclose(plain.embeddings, forward.embeddings)


def test_embed_windows_long_sequences():
    network, tokenizer = api.load_model(None, "cpu", None)
    window = api.trained_window(tokenizer, network.config)
    sequence = random_dna(window * 12, 4)  # many more tokens than one window
    assert len(tokenizer(sequence, add_special_tokens=False)["input_ids"]) > 2 * window
    result = api.embed([sequence, sequence[:50]], per_base=True)
    assert [tuple(x.shape) for x in result.per_base] == [
        (len(sequence), network.config.hidden_size),
        (50, network.config.hidden_size),
    ]
    # a short sequence is one window: per-base vectors are exactly its tokens' vectors
    ids = tokenizer(sequence[:50], return_tensors="pt")
    hidden = network.base_model(**ids).last_hidden_state[0, 1:-1]
    lengths = api.token_lengths(network, tokenizer)[ids["input_ids"][0, 1:-1]]
    torch.testing.assert_close(result.per_base[1], hidden.repeat_interleave(lengths, dim=0), atol=1e-5, rtol=1e-5)
    assert window_starts(10, 4, 2) == [0, 2, 4, 6]


def test_species_conditions_a_post_trained_model():
    """`species` embeds with a post-trained NTv3 as the model called with that species' id: per base, the original's
    final embedding of the fixture's batch (`<species>.embedding`); per sequence, its mean over the bases."""
    post = fixture_dir("ntv3", "ntv3_post_tiny_a")
    reference = load_file(post / "reference.safetensors")
    sequences = json.loads((post / "reference.json").read_text())["batch"]["sequences"]
    model = NucleotideTransformerV3Model.from_pretrained(post).eval()
    results = {}
    for species, species_id in (("human", 6), ("mouse", 7)):
        result = api.embed(sequences, model=str(post), species=species, per_base=True)
        expected = reference[f"{species}.embedding"]  # (2, 64, 32)
        with torch.no_grad():
            direct = model(reference["input_ids"], species_ids=species_id).last_hidden_state
        assert (torch.stack(result.per_base) - expected).abs().max() < 1e-4
        assert (torch.stack(result.per_base) - direct).abs().max() < 1e-5
        assert (result.embeddings - expected.mean(1)).abs().max() < 1e-4
        assert result.metadata["species"] == species
        results[species] = result.embeddings
    assert (results["human"] - results["mouse"]).abs().max() > 1e-2  # the species changes the numbers
