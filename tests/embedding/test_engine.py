"""`embed`'s job (`multimolecule.embedding.engine`): several processes under torchrun equal one, shards kept and
resumed, another job's shards refused; a shard's stamp read, shards merged in order."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from multimolecule import NucleotideTransformerV3Model, api
from multimolecule.embedding import SHARD_RECORDS, EmbeddingWriter, WindowEmbedder, shard_directory
from multimolecule.embedding.engine import merge_shards, read_stamp
from multimolecule.utils.runner import Shard, digest, item_digest, shard_path

from ..helpers import fixture_dir, random_records, read_safetensors, subprocess_env


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
    (meta_one, tensors_one), (meta_two, tensors_two) = read_safetensors(one), read_safetensors(two)
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


def test_shards_are_read_by_their_stamp_and_merged_in_order(tmp_path):
    vectors = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    lengths = [2, 3, 1, 4, 2]
    per_base = [torch.full((length, 4), float(i)) for i, length in enumerate(lengths)]
    shards = []
    for index, items in enumerate((range(0, 3), range(3, 5))):
        path = tmp_path / f"shard{index}.safetensors"
        stamp = {"shard_inputs": f"digest{index}", "shard_rows": str(len(items))}
        with EmbeddingWriter(path, [f"r{i}" for i in items], [lengths[i] for i in items], 4, True, stamp) as writer:
            for row, i in enumerate(items):
                writer.write(row, vectors[i], per_base[i])
        shards.append(Shard(index, items, path, f"digest{index}"))
        assert read_stamp(path) == (f"digest{index}", len(items))
    short = tmp_path / "short.safetensors"  # stamped for more rows than it holds: not a finished shard
    with EmbeddingWriter(short, ["r0"], [2], 4, False, {"shard_inputs": "digest", "shard_rows": "3"}) as writer:
        writer.write(0, vectors[0], None)
    assert read_stamp(short) == ("digest", -1)
    output = tmp_path / "merged.safetensors"
    with EmbeddingWriter(output, [f"r{i}" for i in range(5)], lengths, 4, True, {}) as writer:
        merge_shards(shards, writer)
    metadata, tensors = read_safetensors(output)
    assert json.loads(metadata["ids"]) == [f"r{i}" for i in range(5)] and torch.equal(tensors["embeddings"], vectors)
    assert all(torch.equal(tensors[f"per_base.{i}"], per_base[i]) for i in range(5))


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
