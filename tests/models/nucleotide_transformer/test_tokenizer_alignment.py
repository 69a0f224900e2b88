"""The Nucleotide Transformer tokenizer's fast path answers `tokenize()` and the alignment methods as the backend."""

from __future__ import annotations

import pickle

import pytest
import torch

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


def test_trainer_takes_the_tokenizer_output_as_a_batch(tokenizer, tmp_path):
    """`Trainer` rebuilds a batch with `type(batch)({...})`: the fast path's output must survive that."""
    from transformers import Trainer, TrainingArguments

    from multimolecule import AutoModelForTokenPrediction
    from multimolecule.demo import demo_model_path

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
