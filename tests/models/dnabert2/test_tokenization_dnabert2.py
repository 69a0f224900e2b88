"""The DNABERT-2 tokenizer: the original's ids on every probe of the fixture, its special tokens and token lengths."""

from __future__ import annotations

from transformers import AutoConfig

from multimolecule import DnaBert2Config, DnaBert2Tokenizer


def test_tokenizer_gives_original_ids(tokenizer, probes):
    for probe in probes["tokenizer_probes"]:
        text = probe["text"]
        if text != text.upper():  # improved on purpose: lower case reads as upper case
            assert tokenizer(text)["input_ids"] == tokenizer(text.upper())["input_ids"]
            assert 0 not in tokenizer(text)["input_ids"]
        else:
            assert tokenizer(text)["input_ids"] == probe["input_ids"], text


def test_tokenizer_special_tokens_and_config_agree(tokenizer, converted):
    assert isinstance(tokenizer, DnaBert2Tokenizer)
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3, 4]) == ["<unk>", "<cls>", "<eos>", "<pad>", "<mask>"]
    config = AutoConfig.from_pretrained(converted)
    assert config.pad_token_id == tokenizer.pad_token_id == 3
    assert config.mask_token_id == tokenizer.mask_token_id == 4
    assert config.unk_token_id == tokenizer.unk_token_id == 0
    assert (config.bos_token_id, config.eos_token_id) == (tokenizer.cls_token_id, tokenizer.eos_token_id)
    assert config.token_lengths == tokenizer.token_lengths
    assert DnaBert2Config().pad_token_id == 3


def test_tokenizer_rna_decode_offsets(tokenizer):
    assert tokenizer("ACGU")["input_ids"] == tokenizer("ACGT")["input_ids"]
    ids = tokenizer("ACGTAGCATCGGATCTATC")["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "ACGTAGCATCGGATCTATC"
    assert tokenizer.decode(ids) == "<cls>ACGTAGCATCGGATCTATC<eos>"
    encoding = tokenizer("acgTAGCATCGG", return_offsets_mapping=True)
    pieces = ["acgTAGCATCGG"[start:end] for start, end in encoding["offset_mapping"]]
    tokens = tokenizer.convert_ids_to_tokens(encoding["input_ids"])
    assert [piece.upper() for piece in pieces[1:-1]] == tokens[1:-1]
    assert tokenizer("ATCG<mask>TGCA")["input_ids"].count(tokenizer.mask_token_id) == 1


def test_token_lengths_follow_vocabulary(tokenizer):
    lengths = tokenizer.token_lengths
    assert lengths[:5] == [1, 0, 0, 0, 1]  # <unk> covers one base, <cls> <eos> <pad> none, <mask> one
    for token, index in list(tokenizer.get_vocab().items())[:200]:
        if index > 4:
            assert lengths[index] == len(token)
