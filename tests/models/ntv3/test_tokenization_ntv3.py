"""The NTv3 tokenizer against the original's ids (../shared/fixtures/ntv3/ntv3_tiny_a/reference.json)."""

from __future__ import annotations

from transformers import AutoTokenizer

from multimolecule import NucleotideTransformerV3Tokenizer, tokenizer_from_pretrained


def test_every_probe_gives_the_original_ids(pre_facts):
    tokenizer = NucleotideTransformerV3Tokenizer.standard()
    probes = pre_facts["tokenizer"]["probes"]
    assert len(probes) == 20
    for probe in probes:
        assert tokenizer(probe["text"])["input_ids"] == probe["input_ids"], probe["text"]


def test_the_reference_batch(pre_facts):
    batch = pre_facts["batch"]
    assert NucleotideTransformerV3Tokenizer.standard()(batch["sequences"])["input_ids"] == batch["input_ids"]


def test_built_from_the_original_files_and_saved(pre, pre_facts, tmp_path):
    tokenizer = tokenizer_from_pretrained(pre)
    assert isinstance(tokenizer, NucleotideTransformerV3Tokenizer)
    assert tokenizer.get_vocab() == NucleotideTransformerV3Tokenizer.standard().get_vocab()
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert type(reloaded) is NucleotideTransformerV3Tokenizer
    for probe in pre_facts["tokenizer"]["probes"]:
        assert reloaded(probe["text"])["input_ids"] == probe["input_ids"]


def test_bases_and_decoding():
    tokenizer = NucleotideTransformerV3Tokenizer.standard()
    assert tokenizer.token_lengths == [1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1]
    assert tokenizer.decode(tokenizer("acgtnAC")["input_ids"]) == "ACGTNAC"
    encoded = tokenizer(["ACGTA", "AC"], padding=True)
    assert encoded["input_ids"][1] == [6, 8, 1, 1, 1] and encoded["attention_mask"][1] == [1, 1, 0, 0, 0]
