"""DNABERT-2 against the original implementation's outputs (../shared/fixtures/dnabert2/tiny_a) and the
behaviour transformers users expect."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import (
    AutoConfig,
)

from multimolecule import (
    DnaBert2Config,
    DnaBert2ForMaskedLM,
    DnaBert2ForPreTraining,
    DnaBert2Model,
    DnaBert2Tokenizer,
)
from multimolecule.conversion import ConversionError
from multimolecule.models.dnabert2.convert_checkpoint import convert_checkpoint
from multimolecule.modules import alibi_slopes

from ...helpers import fixture_dir, masked_max_diff, shared_path

FIXTURE = ("dnabert2", "tiny_a")  # under ../shared/fixtures, for the `original` and `reference` fixtures
HIDDEN_ATOL, LOGITS_ATOL, LOSS_ATOL = 1e-4, 5e-4, 1e-4


@pytest.fixture(scope="module")
def probes(original) -> dict:
    return json.loads((original / "reference.json").read_text())


@pytest.fixture(scope="module")
def converted(original, tmp_path_factory) -> Path:
    return convert_checkpoint(original, tmp_path_factory.mktemp("dnabert2") / "tiny_a").output_path


# Tokenizer


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


def test_tokenizer_batch_encode_plus_pads_right(tokenizer):
    batch = tokenizer.batch_encode_plus(
        ["ACGT", "ACGTAGCATCGG"], padding="max_length", max_length=8, return_tensors="pt"
    )
    assert batch["input_ids"].shape == (2, 8)
    assert batch["input_ids"][0, -1].item() == tokenizer.pad_token_id
    assert batch["attention_mask"][0].tolist() == [1, 1, 1, 1, 1, 0, 0, 0]


def test_token_lengths_follow_vocabulary(tokenizer):
    lengths = tokenizer.token_lengths
    assert lengths[:5] == [1, 0, 0, 0, 1]  # <unk> covers one base, <cls> <eos> <pad> none, <mask> one
    for token, index in list(tokenizer.get_vocab().items())[:200]:
        if index > 4:
            assert lengths[index] == len(token)


# Config, registration, conversion


def test_config_defaults_are_117m():
    model = DnaBert2ForPreTraining(DnaBert2Config())
    assert model.num_parameters() == 117_074_176  # the original, tied decoder counted once
    assert DnaBert2Config().position_embedding_type == "alibi"


def test_converter_output(converted):
    config = json.loads((converted / "config.json").read_text())
    assert config["model_type"] == "dnabert2" and config["position_embedding_type"] == "alibi"
    keys = set(load_file(converted / "model.safetensors"))
    assert "model.encoder.layer.0.attention.self.query.weight" in keys
    assert "model.encoder.layer.1.mlp.up_proj.weight" in keys
    assert not any("Wqkv" in key or "LayerNorm" in key for key in keys)


@pytest.fixture
def broken_copy(original, tmp_path) -> Path:
    copy = tmp_path / "original"
    shutil.copytree(original, copy)
    return copy


def test_converter_rejects_missing_tokenizer(broken_copy, tmp_path):
    (broken_copy / "tokenizer.json").unlink()
    with pytest.raises(ConversionError, match="tokenizer.json"):
        convert_checkpoint(broken_copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_converter_rejects_truncated_weights(broken_copy, tmp_path):
    weights = broken_copy / "pytorch_model.bin"
    weights.write_bytes(weights.read_bytes()[:10_000])
    with pytest.raises(ConversionError, match="truncated or corrupt"):
        convert_checkpoint(broken_copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_converter_lists_unknown_and_missing_tensors(broken_copy, tmp_path):
    state_dict = torch.load(broken_copy / "pytorch_model.bin", weights_only=True)
    state_dict["bert.extra.weight"] = torch.zeros(1)
    del state_dict["bert.encoder.layer.1.mlp.wo.bias"]
    (broken_copy / "pytorch_model.bin").unlink()
    save_file(
        {k: v.contiguous() for k, v in state_dict.items() if k != "cls.predictions.decoder.weight"},
        broken_copy / "model.safetensors",
    )
    with pytest.raises(ConversionError, match="bert.extra.weight"):
        convert_checkpoint(broken_copy, tmp_path / "out")
    del state_dict["bert.extra.weight"]
    save_file(
        {k: v.contiguous() for k, v in state_dict.items() if k != "cls.predictions.decoder.weight"},
        broken_copy / "model.safetensors",
    )
    with pytest.raises(ConversionError, match=r"unfilled: model\.encoder\.layer\.1\.mlp\.down_proj\.bias"):
        convert_checkpoint(broken_copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_converter_rejects_another_model(tmp_path):
    other = fixture_dir("nucleotide_transformer", "nt_v2_tiny_a")
    with pytest.raises(ConversionError):
        convert_checkpoint(other, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# Parity with the original


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("with_mask", [True, False])
def test_parity_padded_batch(converted, reference, attn_implementation, with_mask):
    model = DnaBert2ForMaskedLM.from_pretrained(converted, attn_implementation=attn_implementation).eval()
    mask = reference["attention_mask"]
    with torch.no_grad():
        output = model(
            reference["input_ids"],
            attention_mask=mask if with_mask else None,
            token_type_ids=reference["token_type_ids"],
            output_hidden_states=True,
        )
    assert len(output.hidden_states) == model.config.num_hidden_layers + 1
    assert masked_max_diff(output.hidden_states[0], reference["embedding_output"], mask) < HIDDEN_ATOL
    for index in range(model.config.num_hidden_layers):
        assert masked_max_diff(output.hidden_states[index + 1], reference[f"layer_{index}_output"], mask) < HIDDEN_ATOL
    assert masked_max_diff(output.hidden_states[-1], reference["last_hidden_state"], mask) < HIDDEN_ATOL
    assert masked_max_diff(output.logits, reference["mlm_logits"], mask) < LOGITS_ATOL


def test_parity_alibi(converted, reference):
    model = DnaBert2Model.from_pretrained(converted).eval()
    slopes = torch.tensor(alibi_slopes(model.config.num_attention_heads))
    assert torch.allclose(slopes, reference["alibi_slopes"])
    length = reference["input_ids"].shape[1]
    bias = model.encoder.alibi(length, torch.device("cpu"))
    assert torch.allclose(bias, reference["alibi_bias"], atol=1e-6)
    assert alibi_slopes(12)[8] == pytest.approx(0.70710677)


def test_parity_pooler(converted, reference):
    model = DnaBert2Model.from_pretrained(converted).eval()
    model.pooler.dense.weight.data.copy_(reference["pooler.dense.weight"])
    model.pooler.dense.bias.data.copy_(reference["pooler.dense.bias"])
    with torch.no_grad():
        pooled = model(reference["input_ids"], attention_mask=reference["attention_mask"]).pooler_output
    assert (pooled - reference["pooled_output"]).abs().max().item() < HIDDEN_ATOL


def test_parity_mlm_loss(converted, reference):
    model = DnaBert2ForMaskedLM.from_pretrained(converted).eval()
    with torch.no_grad():
        output = model(
            reference["input_ids"], attention_mask=reference["attention_mask"], labels=reference["mlm_labels"]
        )
    assert abs(output.loss.item() - reference["mlm_loss"].item()) < LOSS_ATOL
    rows = output.logits.view(-1, output.logits.shape[-1])[reference["mlm_masked_flat_index"]]
    assert (rows - reference["mlm_logits_with_labels_masked_rows"]).abs().max().item() < LOGITS_ATOL


# Model behaviour


def test_any_length_and_shift_invariance(converted):
    model = DnaBert2Model.from_pretrained(converted).eval()
    ids = torch.randint(5, 4096, (1, 1500))
    with torch.no_grad():
        long = model(ids).last_hidden_state
        left_padded = model(
            torch.cat([torch.full((1, 7), 3), ids], dim=1),
            attention_mask=torch.cat([torch.zeros(1, 7), torch.ones(1, 1500)], 1),
        ).last_hidden_state
    assert long.shape == (1, 1500, 64)
    assert (left_padded[:, 7:] - long).abs().max().item() < 1e-4


def test_return_dict_false_gives_tuple(converted, reference):
    model = DnaBert2Model.from_pretrained(converted).eval()
    with torch.no_grad():
        output = model(reference["input_ids"], return_dict=False)
    assert isinstance(output, tuple) and output[0].shape == (3, 17, 64)


# The model card


def python_blocks(card: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", card.read_text(), flags=re.S)


def test_model_card_runs_as_written(converted):
    card = shared_path("model-cards", "dnabert2.md")
    blocks = python_blocks(card)
    assert len(blocks) == 5  # fill-mask, features, sequence, token, contact
    for block in blocks:
        namespace: dict = {}
        exec(block.replace("multimolecule/dnabert2", str(converted)), namespace)
        assert "output" in namespace
        output = namespace["output"]
        if "label" in namespace:
            assert torch.isfinite(output.loss)
        if isinstance(output, list):
            assert all(" " not in prediction["sequence"] for prediction in output)
