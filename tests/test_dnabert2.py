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
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForPreTraining,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    pipeline,
)

from multimolecule import (
    AutoModelForContactPrediction,
    AutoModelForSequencePrediction,
    AutoModelForTokenPrediction,
    DnaBert2Config,
    DnaBert2ForContactPrediction,
    DnaBert2ForMaskedLM,
    DnaBert2ForPreTraining,
    DnaBert2ForSequencePrediction,
    DnaBert2ForTokenPrediction,
    DnaBert2Model,
    DnaBert2Tokenizer,
)
from multimolecule.conversion import ConversionError
from multimolecule.models.dnabert2.convert_checkpoint import convert_checkpoint, main
from multimolecule.modules import alibi_slopes

from .conftest import SHARED, fixture_dir

HIDDEN_ATOL, LOGITS_ATOL, LOSS_ATOL = 1e-4, 5e-4, 1e-4


@pytest.fixture(scope="module")
def original() -> Path:
    return fixture_dir("dnabert2", "tiny_a")


@pytest.fixture(scope="module")
def reference(original) -> dict[str, torch.Tensor]:
    return load_file(original / "reference.safetensors")


@pytest.fixture(scope="module")
def probes(original) -> dict:
    return json.loads((original / "reference.json").read_text())


@pytest.fixture(scope="module")
def converted(original, tmp_path_factory) -> Path:
    return convert_checkpoint(original, tmp_path_factory.mktemp("dnabert2") / "tiny_a").output_path


@pytest.fixture(scope="module")
def tokenizer(converted) -> DnaBert2Tokenizer:
    return AutoTokenizer.from_pretrained(converted)


def masked_max_diff(actual: torch.Tensor, expected: torch.Tensor, mask: torch.Tensor) -> float:
    return (actual - expected)[mask.bool()].abs().max().item()


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


def test_auto_classes_are_registered(converted):
    expected = {
        AutoModel: DnaBert2Model,
        AutoModelForMaskedLM: DnaBert2ForMaskedLM,
        AutoModelForPreTraining: DnaBert2ForPreTraining,
        AutoModelForSequenceClassification: DnaBert2ForSequencePrediction,
        AutoModelForTokenClassification: DnaBert2ForTokenPrediction,
        AutoModelForSequencePrediction: DnaBert2ForSequencePrediction,
        AutoModelForTokenPrediction: DnaBert2ForTokenPrediction,
        AutoModelForContactPrediction: DnaBert2ForContactPrediction,
    }
    for auto_class, model_class in expected.items():
        assert type(auto_class.from_pretrained(converted)) is model_class
    assert isinstance(AutoConfig.from_pretrained(converted), DnaBert2Config)


def test_registration_tolerates_a_same_named_model():
    from multimolecule.models.registry import get_model, register_model

    register_model(get_model("dnabert2"))  # as if transformers already shipped a "dnabert2": must not raise
    assert type(AutoModel.from_config(DnaBert2Config(num_hidden_layers=1))) is DnaBert2Model


def test_converter_output(converted):
    assert sorted(p.name for p in converted.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    config = json.loads((converted / "config.json").read_text())
    assert config["model_type"] == "dnabert2" and config["position_embedding_type"] == "alibi"
    keys = set(load_file(converted / "model.safetensors"))
    assert "model.encoder.layer.0.attention.self.query.weight" in keys
    assert "model.encoder.layer.1.mlp.up_proj.weight" in keys
    assert not any("Wqkv" in key or "LayerNorm" in key for key in keys)


def test_converter_command_line(original, tmp_path, capsys):
    main(["--checkpoint-path", str(original), "--output-path", str(tmp_path / "out")])
    assert (tmp_path / "out" / "model.safetensors").is_file()
    with pytest.raises(SystemExit) as error:
        main(["--checkpoint-path", str(tmp_path / "nowhere"), "--output-path", str(tmp_path / "bad")])
    assert error.value.code == 1 and "not a directory" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


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


def test_save_pretrained_round_trip(converted, tmp_path, reference):
    model = DnaBert2ForMaskedLM.from_pretrained(converted).eval()
    model.save_pretrained(tmp_path / "saved")
    assert (tmp_path / "saved" / "model.safetensors").is_file()
    reloaded = AutoModelForMaskedLM.from_pretrained(tmp_path / "saved").eval()
    with torch.no_grad():
        assert torch.equal(model(reference["input_ids"]).logits, reloaded(reference["input_ids"]).logits)


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


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_parity_each_sequence_alone(converted, reference, attn_implementation):
    model = DnaBert2Model.from_pretrained(converted, attn_implementation=attn_implementation).eval()
    for row, length in enumerate(reference["attention_mask"].sum(1).tolist()):
        with torch.no_grad():
            output = model(reference["input_ids"][row : row + 1, :length])
        expected = reference["last_hidden_state"][row : row + 1, :length]
        assert (output.last_hidden_state - expected).abs().max().item() < HIDDEN_ATOL


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


def test_attentions_with_sdpa_fall_back_to_eager(converted, reference):
    model = DnaBert2Model.from_pretrained(converted, attn_implementation="sdpa").eval()
    with torch.no_grad():
        output = model(reference["input_ids"], output_attentions=True)
    assert len(output.attentions) == 2 and output.attentions[0].shape == (3, 4, 17, 17)
    probabilities = output.attentions[0][1, :, 0]  # second sequence, first query
    assert torch.allclose(probabilities.sum(-1), torch.ones(4))
    assert probabilities[:, 8:].abs().max() == 0  # padded keys get no weight


def test_return_dict_false_gives_tuple(converted, reference):
    model = DnaBert2Model.from_pretrained(converted).eval()
    with torch.no_grad():
        output = model(reference["input_ids"], return_dict=False)
    assert isinstance(output, tuple) and output[0].shape == (3, 17, 64)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_runs(converted, reference, dtype):
    model = DnaBert2ForMaskedLM.from_pretrained(converted, dtype=dtype).eval()
    with torch.no_grad():
        logits = model(reference["input_ids"]).logits
    assert logits.dtype == dtype and torch.isfinite(logits).all()
    mask = reference["attention_mask"].bool()
    scale = reference["mlm_logits"][mask].abs().max().item()
    assert masked_max_diff(logits.float(), reference["mlm_logits"], mask) < 0.1 * scale  # half-precision rounding


def test_gradient_checkpointing_gives_same_gradients(converted, reference):
    def gradients(checkpointing: bool) -> torch.Tensor:
        model = DnaBert2ForMaskedLM.from_pretrained(converted)
        model.config.hidden_dropout = 0.0
        if checkpointing:
            model.gradient_checkpointing_enable()
        model.train()
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        model(reference["input_ids"], labels=reference["mlm_labels"]).loss.backward()
        return model.model.encoder.layer[0].attention.self.query.weight.grad

    assert model_uses_checkpointing(converted)
    assert torch.allclose(gradients(True), gradients(False), atol=1e-6)


def model_uses_checkpointing(converted) -> bool:
    model = DnaBert2ForMaskedLM.from_pretrained(converted)
    model.gradient_checkpointing_enable()
    return all(layer.gradient_checkpointing for layer in model.model.encoder.layer)


def test_peft_friendly_module_names(converted):
    modules = dict(DnaBert2Model.from_pretrained(converted).named_modules())
    for name in (
        "encoder.layer.0.attention.self.query",
        "encoder.layer.0.attention.self.key",
        "encoder.layer.0.attention.self.value",
        "encoder.layer.0.attention.output.dense",
        "encoder.layer.0.mlp.up_proj",
        "encoder.layer.0.mlp.down_proj",
    ):
        assert isinstance(modules[name], torch.nn.Linear), name


# Heads at base resolution


def test_sequence_head_pooling(converted, tokenizer):
    batch = tokenizer(["ACGTAGCATCGG", "TTGACAGC"], padding=True, return_tensors="pt")
    for pooling in ("cls", "mean"):
        model = DnaBert2ForSequencePrediction.from_pretrained(converted, head_pooling=pooling, num_labels=3).eval()
        with torch.no_grad():
            batched = model(**batch, labels=torch.tensor([0, 2])).logits
            alone = model(**tokenizer(["TTGACAGC"], return_tensors="pt")).logits
        assert batched.shape == (2, 3)
        assert torch.allclose(batched[1], alone[0], atol=1e-5)  # padding does not leak into the pooled vector


def test_sequence_head_problem_types(converted, tokenizer):
    batch = tokenizer(["ACGTAGCATCGG", "TTGACAGC"], padding=True, return_tensors="pt")
    regression = DnaBert2ForSequencePrediction.from_pretrained(converted, num_labels=1)
    output = regression(**batch, labels=torch.tensor([0.5, -1.0]))
    expected = torch.nn.functional.mse_loss(output.logits.squeeze(-1), torch.tensor([0.5, -1.0]))
    assert regression.config.problem_type == "regression" and torch.allclose(output.loss, expected)
    multi = DnaBert2ForSequencePrediction.from_pretrained(converted, num_labels=4)
    labels = torch.tensor([[1.0, 0, 1, 0], [0, 0, 0, 1]])
    output = multi(**batch, labels=labels)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(output.logits, labels)
    assert multi.config.problem_type == "multi_label_classification" and torch.allclose(output.loss, expected)


def test_token_head_has_one_output_per_base(converted, tokenizer):
    model = DnaBert2ForTokenPrediction.from_pretrained(converted).eval()
    texts = ["ACGTAGCATCGGATCTATCTATCGACACTTGG", "TTGACAGCTAGCTCAG"]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    assert batch["input_ids"].shape[1] < len(texts[0])  # fewer tokens than bases
    labels = torch.full((2, len(texts[0])), -100)
    labels[0] = torch.randint(2, (len(texts[0]),))
    labels[1, : len(texts[1])] = torch.randint(2, (len(texts[1]),))
    with torch.no_grad():
        output = model(**batch, labels=labels)
    assert output.logits.shape == (2, len(texts[0]), 2)
    assert output.base_mask.sum(1).tolist() == [len(texts[0]), len(texts[1])]
    # Each base takes the output of the token covering it: the bases of one token share their logits.
    ids = batch["input_ids"][0].tolist()
    first_token_length = len(tokenizer.convert_ids_to_tokens(ids[1]))
    logits = output.logits[0]
    assert all(torch.equal(logits[0], logits[i]) for i in range(first_token_length))
    assert not torch.equal(logits[0], logits[first_token_length])
    # Padding changes nothing.
    with torch.no_grad():
        alone = model(**tokenizer(texts[1], return_tensors="pt")).logits
    assert torch.allclose(alone[0], output.logits[1, : len(texts[1])], atol=1e-5)


def test_token_head_rejects_labels_of_wrong_length(converted, tokenizer):
    model = DnaBert2ForTokenPrediction.from_pretrained(converted)
    with pytest.raises(ValueError, match="16 bases"):
        model(**tokenizer("ATCGATCGATCGATCG", return_tensors="pt"), labels=torch.zeros(15, dtype=torch.long))


def test_token_head_needs_token_lengths():
    model = DnaBert2ForTokenPrediction(DnaBert2Config(num_hidden_layers=1))
    with pytest.raises(ValueError, match="token_lengths"):
        model(torch.tensor([[1, 5, 2]]))


def test_contact_head(converted, tokenizer):
    model = DnaBert2ForContactPrediction.from_pretrained(converted, num_labels=1).eval()
    text = "ATCGATCGATCGATCGAA"
    labels = torch.rand(len(text), len(text))
    output = model(**tokenizer(text, return_tensors="pt"), labels=labels)
    assert output.logits.shape == (1, len(text), len(text), 1)
    assert torch.allclose(output.logits, output.logits.transpose(1, 2))
    assert torch.allclose(output.loss, torch.nn.functional.mse_loss(output.logits[0, ..., 0], labels))


# Pipelines and the model card


def test_fill_mask_pipeline(converted):
    predictions = pipeline("fill-mask", model=str(converted))("ATCG<mask>TGCA")
    assert len(predictions) == 5
    for prediction in predictions:
        assert re.fullmatch("ATCG[ACGT]+TGCA", prediction["sequence"]), prediction["sequence"]
        assert prediction["sequence"] == "ATCG" + prediction["token_str"] + "TGCA"
    assert predictions[0]["score"] >= predictions[-1]["score"]


def test_feature_extraction_pipeline(converted, tokenizer):
    features = pipeline("feature-extraction", model=str(converted))("ATCGATCGATCG", return_tensors=True)
    assert features.shape == (1, len(tokenizer("ATCGATCGATCG")["input_ids"]), 64)


def python_blocks(card: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", card.read_text(), flags=re.S)


def test_model_card_runs_as_written(converted):
    card = SHARED / "model-cards" / "dnabert2.md"
    if not card.is_file():
        pytest.skip("model card not found")
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
