"""The Nucleotide Transformer tokenizer: the original's ids on every case of the fixture, its vocabulary, decoding,
offsets, and the fast path against the tokenizers backend (ids, `tokenize()`, the alignment methods, pickling, a
`Trainer` batch)."""

from __future__ import annotations

import pickle
import random
import re

import pytest
import torch

from multimolecule import NucleotideTransformerConfig, NucleotideTransformerTokenizer
from multimolecule.models.nucleotide_transformer.tokenization_nucleotide_transformer import (
    read_vocabulary,
    standard_vocabulary,
)

BATCH = [
    "ATTTGCTGCTTAGTGGACGCGAGGATCTATGGCAGCCGTATGCGAGGTAACCTTTCGATC",
    "CGTTTTCCAGTTGGCCTGCCNTCTGTAGTC<mask>ATGGTGTA",
    "AAGTCAAATACTGGGCC",
]


def test_tokenizer_gives_original_ids(tokenizer, cases):
    for case in cases:
        text = case["sequence"]
        if re.search("[a-z]", re.sub(r"<\w+>", "", text)):  # improved on purpose: lower case reads as upper case
            assert tokenizer(text)["input_ids"] == tokenizer(text.upper())["input_ids"]
        else:
            assert tokenizer(text)["input_ids"] == case["input_ids"], text
            assert tokenizer.convert_ids_to_tokens(case["input_ids"]) == case["tokens"]
    assert tokenizer("acgtacgtacgt")["input_ids"] == tokenizer("ACGTACGTACGT")["input_ids"] == [3, 728, 3379]


def test_tokenizer_reproduces_the_reference_batch(tokenizer, reference):
    batch = tokenizer(BATCH, padding=True, return_tensors="pt")
    assert torch.equal(batch["input_ids"], reference["input_ids"])
    assert torch.equal(batch["attention_mask"], reference["attention_mask"])


def test_tokenizer_vocabulary(tokenizer, original):
    assert read_vocabulary(original / "vocab.txt") == standard_vocabulary()
    assert NucleotideTransformerTokenizer.standard().get_vocab() == tokenizer.get_vocab()
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3, 4, 5, 6, 369, 4101, 4106]) == [
        "<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>", "AAAAAA", "ATTCCG", "GGGGGG", "N"
    ]  # fmt: skip
    assert tokenizer.model_max_length == 1000
    assert (tokenizer.pad_token_id, tokenizer.mask_token_id, tokenizer.cls_token_id) == (1, 2, 3)
    lengths = tokenizer.token_lengths
    assert lengths[:7] == [1, 0, 1, 0, 0, 0, 6] and lengths[-5:] == [1] * 5
    assert tokenizer("ACGT")["input_ids"] == [3, 4102, 4104, 4105, 4103]  # <cls> and one id per base, no <eos>
    assert lengths == NucleotideTransformerConfig().token_lengths


def test_tokenizer_decode_offsets_unknown(tokenizer):
    ids = tokenizer("ACGTACGTANNACGTAC")["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "ACGTACGTANNACGTAC"
    assert tokenizer.decode(ids) == "<cls>ACGTACGTANNACGTAC"
    assert tokenizer("ACGU")["input_ids"] == tokenizer("ACGT")["input_ids"]
    text = "acgTACgRAACGTACN"
    encoding = tokenizer(text, return_offsets_mapping=True)
    tokens = tokenizer.convert_ids_to_tokens(encoding["input_ids"])
    assert tokens == ["<cls>", "ACGTAC", "G", "<unk>", "AACGTA", "C", "N"]  # the frame restarts after R
    pieces = [text[start:end].upper() for start, end in encoding["offset_mapping"]]
    assert pieces[1:] == ["ACGTAC", "G", "R", "AACGTA", "C", "N"]


def test_tokenizer_fast_path_equals_backend(tokenizer):
    # Plain DNA takes a Python/numpy path; it must give exactly what the tokenizers backend gives.
    backend = tokenizer.backend_tokenizer
    rng = random.Random(0)
    for alphabet in ("ACGT", "ACGTacgtu", "ACGTacgtNnUuRYK -\t.X"):
        texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 60))) for _ in range(300)]
        assert tokenizer(texts)["input_ids"] == [encoding.ids for encoding in backend.encode_batch(texts)]
        without_cls = tokenizer(texts, add_special_tokens=False)["input_ids"]
        assert without_cls == [backend.encode(text, add_special_tokens=False).ids for text in texts]
    batch = tokenizer(["ACGTACGTA", "ACG"], padding=True, return_tensors="pt")
    assert batch["input_ids"].tolist() == [[3, 728, 4105, 4103, 4102], [3, 4102, 4104, 4105, 1]]
    assert batch["attention_mask"].tolist() == [[1] * 5, [1, 1, 1, 1, 0]]
    assert tokenizer("ACGTACGTA", truncation=True, max_length=3)["input_ids"] == [3, 728, 4105]


# ------------------------------------------------------- the fast path's `tokenize()` and alignment methods

TEXTS = ["ACGTACGTAC", "ATTCCGATTCCGATTCCGAT", "acgtanacg"]


@pytest.fixture(scope="module")
def standard_tokenizer():
    """The standard tokenizer (no ../shared needed)."""
    return NucleotideTransformerTokenizer.standard()


@pytest.mark.parametrize("text", TEXTS)
def test_tokenize_and_alignment_match_the_backend(standard_tokenizer, text):
    tokenizer = standard_tokenizer
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


def test_batched_padded_encodings_and_pickling(standard_tokenizer):
    tokenizer = standard_tokenizer
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


def test_trainer_takes_the_tokenizer_output_as_a_batch(standard_tokenizer, tmp_path):
    """`Trainer` rebuilds a batch with `type(batch)({...})`: the fast path's output must survive that."""
    from transformers import Trainer, TrainingArguments

    from multimolecule import AutoModelForTokenPrediction
    from multimolecule.demo import demo_model_path

    tokenizer = standard_tokenizer
    encoded = tokenizer(TEXTS, padding=True, return_tensors="pt")
    rebuilt = type(encoded)({key: value for key, value in encoded.items()})
    assert rebuilt.keys() == encoded.keys() and all(rebuilt[k].equal(encoded[k]) for k in encoded)
    model = AutoModelForTokenPrediction.from_pretrained(demo_model_path("nt-demo"), num_labels=2)

    def collate(texts):
        batch = tokenizer(texts, padding=True, return_tensors="pt")
        batch["labels"] = torch.zeros(len(texts), max(map(len, texts)), dtype=torch.long)
        return batch

    arguments = TrainingArguments(tmp_path, max_steps=2, per_device_train_batch_size=3, report_to=[],
                                  use_cpu=True, save_strategy="no", remove_unused_columns=False)  # fmt: skip
    result = Trainer(model=model, args=arguments, train_dataset=TEXTS * 2, data_collator=collate).train()
    assert result.global_step == 2 and torch.isfinite(torch.tensor(result.training_loss))
