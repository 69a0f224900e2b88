"""Property-based tests (Hypothesis) of both tokenizers and of their per-base outputs, over random DNA with
lower case, U, N, IUPAC codes, whitespace and literal special tokens."""

from __future__ import annotations

import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

import multimolecule  # noqa: F401  registers the tokenizers
from multimolecule.demo import demo_model_path
from multimolecule.modules import expand_to_bases

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SPECIALS = ["<mask>", "<pad>", "<cls>", "<eos>", "<unk>"]
PIECES = st.one_of(
    st.sampled_from(list("ACGTacgtNnUu")),  # the common case, weighted up
    st.sampled_from(list("ACGT")),
    st.sampled_from(list("RYSWKMBDHVryswkmbdhv")),
    st.sampled_from(SPECIALS),
    st.sampled_from([" ", "\n", "\t"]),
    st.text(max_size=2),  # anything at all
)
TEXTS = st.lists(PIECES, max_size=60).map("".join)
DNA_RUNS = st.text(alphabet="ACGT", min_size=0, max_size=200)


@pytest.fixture(scope="module", params=["dnabert2-demo", "nt-demo"])
def tokenizer(request):
    tokenizer = AutoTokenizer.from_pretrained(demo_model_path(request.param))
    tokenizer.lengths = torch.tensor(tokenizer.token_lengths)  # computed once: the property walks the vocabulary
    return tokenizer


# Unicode White_Space, which the tokenizers split on; Python's str.isspace() also counts \x1c-\x1f.
WHITESPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def pieces(tokenizer, text: str) -> list[str]:
    """`text` cut the way the tokenizer reads it: literal special tokens whole, whitespace dropped, characters."""
    specials = sorted(set(tokenizer.all_special_tokens), key=len, reverse=True)
    pattern = "|".join(re.escape(token) for token in specials) + f"|[^{WHITESPACE}]"
    return re.findall(pattern, text, flags=re.S)


def normalised(tokenizer, text: str) -> list[str]:
    """What decoding must give back, piece by piece: special tokens as written, bases upper-cased with U as T,
    characters outside the vocabulary as `<unk>`."""
    alphabet = {token for token in tokenizer.get_vocab() if len(token) == 1}
    result = []
    for piece in pieces(tokenizer, text):
        if len(piece) == 1 and piece in "acgtnuU":
            piece = piece.upper().replace("U", "T")
        result.append(piece if piece in tokenizer.all_special_tokens or piece in alphabet else tokenizer.unk_token)
    return result


def number_of_bases(tokenizer, text: str) -> int:
    """Bases in `text`: one per character outside special tokens, one per `<mask>` or `<unk>`, none for others."""
    one_base = {tokenizer.mask_token, tokenizer.unk_token}
    return sum(1 for piece in pieces(tokenizer, text) if len(piece) == 1 or piece in one_base)


@SETTINGS
@given(text=TEXTS)
def test_decoding_returns_the_normalised_input(tokenizer, text):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == "".join(normalised(tokenizer, text))


@SETTINGS
@given(text=TEXTS)
def test_token_lengths_sum_to_the_bases(tokenizer, text):
    ids = tokenizer(text)["input_ids"]  # <cls> (and <eos>) included: they cover no base
    assert int(tokenizer.lengths[ids].sum()) == number_of_bases(tokenizer, text)


@SETTINGS
@given(texts=st.lists(st.one_of(TEXTS, DNA_RUNS), min_size=1, max_size=6))
def test_batch_encoding_equals_one_at_a_time(tokenizer, texts):
    batch = tokenizer(texts)["input_ids"]
    assert batch == [tokenizer(text)["input_ids"] for text in texts]
    padded = tokenizer(texts, padding=True, return_tensors="pt")
    for row, ids, mask in zip(batch, padded["input_ids"].tolist(), padded["attention_mask"].tolist()):
        assert ids[: len(row)] == row and set(ids[len(row) :]) <= {tokenizer.pad_token_id}
        assert mask == [1] * len(row) + [0] * (len(ids) - len(row))
    assert tokenizer.batch_encode_plus(texts)["input_ids"] == batch


@SETTINGS
@given(text=st.text(max_size=80))
def test_no_text_makes_the_tokenizer_raise(tokenizer, text):
    encoded = tokenizer(text, return_offsets_mapping=True)
    assert len(encoded["input_ids"]) == len(encoded["offset_mapping"])
    tokenizer.decode(encoded["input_ids"])
    tokenizer([text, text.upper()], padding=True, truncation=True, max_length=16)


@settings(SETTINGS, max_examples=60)
@given(texts=st.lists(TEXTS, min_size=1, max_size=5))
def test_per_base_outputs_have_one_row_per_base(tokenizer, texts):
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    lengths = tokenizer.lengths
    ids, mask = encoded["input_ids"], encoded["attention_mask"]
    hidden = torch.randn(*ids.shape, 3)
    states, base_mask = expand_to_bases(hidden, ids, mask, lengths)
    assert base_mask.sum(1).tolist() == [number_of_bases(tokenizer, text) for text in texts]
    for row in range(len(texts)):
        real = mask[row].bool()
        expected = hidden[row][real].repeat_interleave(lengths[ids[row][real]], dim=0)  # each base, its token
        torch.testing.assert_close(states[row, : len(expected)], expected, rtol=0, atol=0)
        assert not states[row, len(expected) :].any()  # zeros past the end


@pytest.mark.parametrize("spelling", ["[MASK]", "<MASK>", "{mask}"])
def test_mask_lookalikes_are_named(tokenizer, spelling):
    from transformers.testing_utils import CaptureLogger

    from multimolecule.models import tokenization_utils as dna

    dna.logger.warning_once.cache_clear()
    with CaptureLogger(dna.logger) as captured:
        ids = tokenizer(f"ACGTAC{spelling}ACGTAC")["input_ids"]
    assert f"{spelling!r} is not the mask token (<mask>)" in captured.out
    assert tokenizer.mask_token_id not in ids
    with CaptureLogger(dna.logger) as captured:
        tokenizer("ACGTAC<mask>ACGTAC")
    assert captured.out == ""
