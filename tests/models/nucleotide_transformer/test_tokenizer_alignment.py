"""The Nucleotide Transformer tokenizer's fast path answers `tokenize()` and the alignment methods as the backend."""

from __future__ import annotations

import pickle

import pytest

from multimolecule import NucleotideTransformerTokenizer

TEXTS = ["ACGTACGTAC", "ATTCCGATTCCGATTCCGAT", "acgtanacg"]


@pytest.fixture(scope="module")
def tokenizer():
    return NucleotideTransformerTokenizer.standard()


@pytest.mark.parametrize("text", TEXTS)
def test_tokenize_and_alignment_match_the_backend(tokenizer, text):
    backend = tokenizer.backend_tokenizer.encode(text)  # `<cls>` first, as the post-processor adds it
    assert tokenizer.tokenize(text) == backend.tokens[1:]
    encoded = tokenizer(text)
    assert encoded["input_ids"] == backend.ids
    assert encoded.tokens() == backend.tokens
    assert encoded.word_ids() == backend.word_ids
    assert encoded.sequence_ids() == backend.sequence_ids
    assert [encoded.char_to_token(index) for index in range(len(text))] == [
        backend.char_to_token(index) for index in range(len(text))
    ]


def test_batched_padded_encodings_and_pickling(tokenizer):
    encoded = tokenizer(TEXTS, padding=True, return_tensors="pt")
    backend = tokenizer.backend_tokenizer
    backend.enable_padding(pad_id=tokenizer.pad_token_id, pad_token=tokenizer.pad_token)
    try:
        expected = backend.encode_batch(TEXTS)
    finally:
        backend.no_padding()
    assert [encoding.ids for encoding in encoded.encodings] == encoded["input_ids"].tolist()
    assert [encoded.tokens(index) for index in range(len(TEXTS))] == [encoding.tokens for encoding in expected]
    assert pickle.loads(pickle.dumps(tokenizer(TEXTS[0]))).tokens() == backend.encode(TEXTS[0]).tokens
