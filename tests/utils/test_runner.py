"""The sharded-job runner: shards and workers, parts (`--shard i/n`), manifests that bind a folder to one job,
stamped shards checked before reuse, atomic writes, damaged files named in one line."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from multimolecule.utils import InputError, OptionError
from multimolecule.utils.runner import (
    MANIFEST,
    ShardedJob,
    difference,
    digest,
    independent_part,
    item_digest,
    parse_part,
    read_jsonl_shard,
    read_jsonl_stamp,
    shard_directory,
    weights_digest,
    write_jsonl_shard,
)


def numbers_job(output, values, resume=True, part=None, settings=None, model="weights", independent=False):
    items = [item_digest(str(i), value) for i, value in enumerate(values)]
    manifest = {"inputs": {"numbers": digest(values)}, "model": model, "dtype": "float32", "settings": settings or {}}
    return ShardedJob(
        output, items, manifest, resume=resume, suffix=".jsonl", part=part, shard_records=4, independent=independent
    )


def run(job, values, computed: list | None = None):
    """Compute this process's unfinished shards (squares), then merge: the merged rows, or None."""
    job.prepare()
    for shard in job.mine():
        if not job.finished(shard):
            write_jsonl_shard(shard.path, shard.digest, [{"square": values[i] ** 2} for i in shard.items])
            if computed is not None:
                computed.append(shard.index)
    return job.merge(lambda shards: [row["square"] for s in shards for row in read_jsonl_shard(s.path)])


def test_shards_cut_items_in_order_and_parts_share_them_out(tmp_path):
    values = list(range(10))
    job = numbers_job(tmp_path / "out.jsonl", values)
    assert [(s.index, list(s.items)) for s in job.shards] == [(0, [0, 1, 2, 3]), (1, [4, 5, 6, 7]), (2, [8, 9])]
    assert [s.path.name for s in job.shards][-1] == "shard-00002-of-00003.jsonl"
    assert job.shards[0].path.parent == shard_directory(tmp_path / "out.jsonl") == tmp_path / "out.jsonl.shards"
    parts = [numbers_job(tmp_path / "out.jsonl", values, part=(i, 2)) for i in (1, 2)]
    assert [[s.index for s in p.mine()] for p in parts] == [[0, 2], [1]]
    assert not numbers_job(None, values, resume=False).keep  # no output, no shards: computed in one go
    with pytest.raises(InputError, match="resume needs an output file"):
        numbers_job(None, values, resume=True)


def test_parts_merge_once_every_shard_is_there(tmp_path):
    values = list(range(10))
    output = tmp_path / "out.jsonl"
    first, second = (numbers_job(output, values, resume=False, part=(i, 2)) for i in (1, 2))
    computed = []
    assert run(first, values, computed) is None and computed == [0, 2]  # part 2's shard is missing: no merge
    assert run(second, values, computed) == [v * v for v in values] and computed == [0, 2, 1]
    assert not shard_directory(output).exists()


def test_resume_reuses_the_same_jobs_shards_only(tmp_path):
    values = list(range(10))
    output = tmp_path / "out.jsonl"
    job = numbers_job(output, values)
    job.prepare()
    shard = job.shards[0]
    write_jsonl_shard(shard.path, shard.digest, [{"square": -1}] * 4)  # a finished shard, recognisable
    computed = []
    assert run(numbers_job(output, values), values, computed)[:4] == [-1] * 4 and computed == [1, 2]

    cases = [
        ({"values": [*values[:9], 99]}, "(differing: the numbers);"),
        ({"model": "other weights"}, "(differing: the model's weights);"),
        ({"settings": {"window": 80}}, "(differing: setting window);"),
        ({"values": values[:9]}, "(differing: the numbers);"),  # fewer items
    ]
    for change, expected in cases:
        job = numbers_job(output, values, settings={"window": 60})
        job.prepare()
        options = {"settings": {"window": 60}, **change}
        other = numbers_job(output, options.pop("values", values), **options)
        with pytest.raises(InputError, match=r"out\.jsonl\.shards holds shards of another job") as error:
            other.prepare()
        assert expected in str(error.value) and "\n" not in str(error.value)
        assert json.loads((job.directory / MANIFEST).read_text()) == job.manifest  # the refusal changed nothing
        assert sorted(p.name for p in job.directory.iterdir())[0] == MANIFEST  # no temporary left beside it


def test_planted_short_and_damaged_shards_are_refused_in_one_line(tmp_path):
    values = list(range(10))
    output = tmp_path / "out.jsonl"
    job = numbers_job(output, values)
    job.prepare()
    shard = job.shards[1]
    plants = {
        '{"llr": 999}\n': "was not written for these inputs",  # a planted shard: no stamp
        json.dumps({"shard": {"inputs": job.shards[0].digest, "rows": 4}}) + "\n" + "{}\n" * 4: "not written for these",
        json.dumps({"shard": {"inputs": shard.digest, "rows": 4}}) + '\n{"square": 16}\n': "holds 1 rows, not 4",
        json.dumps({"shard": {"inputs": shard.digest, "rows": 4}}) + "\n{}\n{}\n{}\n[1]\n": "is damaged",
        "": "was not written for these inputs",  # a 0-byte shard
    }
    for content, message in plants.items():
        shard.path.write_text(content)
        with pytest.raises(InputError, match=message) as error:
            run(numbers_job(output, values), values)
        assert str(error.value).startswith(str(shard.path)) and "\n" not in str(error.value)
    shard.path.unlink()
    assert run(numbers_job(output, values), values) == [v * v for v in values]
    assert read_jsonl_stamp  # the stamp reader is what `embed`-like jobs replace with their own


def test_a_damaged_manifest_is_named_in_one_line(tmp_path):
    output = tmp_path / "out.jsonl"
    numbers_job(output, [1, 2, 3]).prepare()
    manifest = shard_directory(output) / MANIFEST
    for content in ("", '{"inputs": ', "[1, 2]"):  # 0 bytes (a full disk), cut short, not an object
        manifest.write_text(content)
        with pytest.raises(InputError, match=r"manifest\.json is damaged \(not a job manifest\); remove .*shards"):
            numbers_job(output, [1, 2, 3]).prepare()
    numbers_job(output, [1, 2, 3], resume=False).prepare()  # a run without resume starts afresh
    assert not shard_directory(output).exists()
    numbers_job(output, [1, 2, 3]).prepare()
    assert json.loads(manifest.read_text())["items"] == 3
    manifest.unlink()  # a folder without a manifest is not ours to remove
    with pytest.raises(InputError, match=r"out\.jsonl\.shards is in the way: not a folder of shards"):
        numbers_job(output, [1, 2, 3]).prepare()


def test_weights_digest_is_the_model_files_not_the_loaded_module(tmp_path):
    from multimolecule.models import cached_model

    encoder, _ = cached_model("dnabert2-demo", "cpu", None, "feature-extraction")
    folder = tmp_path / "copy"
    shutil.copytree(encoder.name_or_path, folder)
    assert weights_digest(folder) == weights_digest(encoder.name_or_path)  # the same files, wherever they are
    with open(folder / "model.safetensors", "r+b") as file:  # one byte of the weights changed
        file.seek(-1, 2)
        last = file.read(1)
        file.seek(-1, 2)
        file.write(bytes([last[0] ^ 1]))
    assert weights_digest(folder) != weights_digest(encoder.name_or_path)
    assert weights_digest("no/such-model") == digest("name", "no/such-model")


def test_difference_and_parts_in_words():
    found = {"inputs": {"reference": "a", "variants": "v"}, "model": "m", "dtype": "float32", "settings": {}}
    now = {**found, "inputs": {"reference": "b", "variants": "v"}, "dtype": "bfloat16"}
    assert difference(found, now) == "the reference, the dtype (float32 then, bfloat16 now)"
    assert difference(found, found) == "nothing"
    for text in ("0/2", "3/2", "a/b", "1/", "²/3"):
        with pytest.raises(OptionError, match="shard must be i/n"):
            parse_part(text)
    assert parse_part("1/1") == (1, 1)


def test_a_partial_merge_reports_the_finished_shards_until_the_last_part_merges_all(tmp_path):
    values = list(range(10))
    output = tmp_path / "out.jsonl"
    first, second = (numbers_job(output, values, resume=False, part=(i, 2)) for i in (1, 2))
    for job in (first, second):
        job.prepare()
    write_jsonl_shard(first.mine()[0].path, first.mine()[0].digest, [{"square": 0}] * 4)  # part 1's first shard
    seen = first.merge(lambda shards: "all", partial=lambda shards: [s.index for s in shards])
    assert seen == [0] and first.directory.is_dir()
    assert run(second, values) is None  # part 2 done, part 1's shard 2 still missing: no partial asked for
    assert run(first, values) == [0] * 4 + [v * v for v in values[4:]]  # the planted rows of shard 0, reused
    assert not first.directory.exists() and not output.with_name(output.name + ".shards.lock").exists()


def test_independent_ranks_are_parts_of_their_own(tmp_path, monkeypatch):
    """Under torchrun, an independent rank leaves the launcher (no process group; Trainer sees one process), sees
    its own GPU, and is the part (i - 1) * world + rank + 1 of n * world."""
    launcher = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    for name, value in {**launcher, "CUDA_VISIBLE_DEVICES": "3,5"}.items():
        monkeypatch.setenv(name, value)
    assert independent_part((2, 3)) == (4, 6)
    assert not set(launcher) & set(os.environ) and os.environ["CUDA_VISIBLE_DEVICES"] == "5"
    for name, value in launcher.items():
        monkeypatch.setenv(name, value)
    job = numbers_job(tmp_path / "out.jsonl", list(range(40)), resume=False, independent=True)
    assert (job.rank, job.world, job.part, job.workers) == (0, 1, (2, 2), (1, 2)) and job.keep
    assert [shard.index for shard in job.mine()] == [1, 3, 5, 7, 9]
