"""The Nucleotide Transformer against the original implementations' outputs
(../shared/fixtures/nucleotide_transformer/nt_v2_tiny_a, in the PyTorch and the JAX layout; transformers' own ESM
for v1) and the behaviour transformers users expect."""

from __future__ import annotations

import doctest
import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import (
    AutoConfig,
    AutoTokenizer,
)

from multimolecule import (
    NucleotideTransformerConfig,
    NucleotideTransformerForMaskedLM,
    NucleotideTransformerForPreTraining,
    NucleotideTransformerModel,
    NucleotideTransformerTokenizer,
)
from multimolecule.conversion import ConversionError
from multimolecule.models.nucleotide_transformer import (
    configuration_nucleotide_transformer,
    modeling_nucleotide_transformer,
    tokenization_nucleotide_transformer,
)
from multimolecule.models.nucleotide_transformer.convert_checkpoint import convert_checkpoint, main
from multimolecule.models.nucleotide_transformer.tokenization_nucleotide_transformer import (
    read_vocabulary,
    standard_vocabulary,
)

from ...helpers import fixture_dir, masked_max_diff, shared_path

FIXTURE = (
    "nucleotide_transformer",
    "nt_v2_tiny_a",
)  # under ../shared/fixtures: the `original`, `reference` and `tokenizer` fixtures
HIDDEN_ATOL, LOGITS_ATOL = 1e-4, 5e-4
BATCH = [
    "ATTTGCTGCTTAGTGGACGCGAGGATCTATGGCAGCCGTATGCGAGGTAACCTTTCGATC",
    "CGTTTTCCAGTTGGCCTGCCNTCTGTAGTC<mask>ATGGTGTA",
    "AAGTCAAATACTGGGCC",
]


@pytest.fixture(scope="module")
def cases(original) -> list[dict]:
    return json.loads((original / "reference.json").read_text())["tokenizer_cases"]


@pytest.fixture(scope="module")
def conversions(original, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("nt")
    return {
        "pytorch": convert_checkpoint(original, root / "pytorch"),
        "jax": convert_checkpoint(original / "jax_model", root / "jax"),
    }


@pytest.fixture(scope="module")
def converted(conversions) -> Path:
    return conversions["pytorch"].output_path


# Tokenizer


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
    import random

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


def test_tokenizer_batch_encode_plus_pads_right(tokenizer):
    batch = tokenizer.batch_encode_plus(["ACGT", "ACGTACGTAC"], padding="max_length", max_length=8, return_tensors="pt")
    assert batch["input_ids"].tolist()[0] == [3, 4102, 4104, 4105, 4103, 1, 1, 1]  # no <eos>, <pad> on the right
    assert batch["attention_mask"][0].tolist() == [1, 1, 1, 1, 1, 0, 0, 0]


# Config, registration, conversion


def test_config_defaults_are_v2_100m():
    config = NucleotideTransformerConfig()
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (512, 22, 16)
    assert (config.intermediate_size, config.vocab_size, config.layer_norm_eps) == (2048, 4107, 1e-12)
    assert (config.position_embedding_type, config.hidden_act, config.use_glu, config.tie_word_embeddings) == (
        "rotary", "silu", True, False
    )  # fmt: skip
    with torch.device("meta"):
        model = NucleotideTransformerForPreTraining(config)
    # The original's 97,889,132 less its unused position table (2050 x 512) and contact head (353).
    assert model.num_parameters() == 97_889_132 - 2050 * 512 - 353


def test_docstring_examples_run():
    for module in (
        configuration_nucleotide_transformer,
        modeling_nucleotide_transformer,
        tokenization_nucleotide_transformer,
    ):
        result = doctest.testmod(module, extraglobs={"torch": torch})
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_converter_output(conversions, converted):
    config = json.loads((converted / "config.json").read_text())
    assert config["model_type"] == "nucleotide_transformer" and config["position_embedding_type"] == "rotary"
    keys = set(load_file(converted / "model.safetensors"))
    for key in (
        "model.embeddings.word_embeddings.weight",
        "model.encoder.layer.0.attention.layer_norm.weight",
        "model.encoder.layer.0.attention.self.query.weight",
        "model.encoder.layer.1.attention.output.dense.bias",
        "model.encoder.layer.1.mlp.up_proj.weight",
        "model.encoder.layer.1.mlp.down_proj.weight",
        "model.encoder.layer_norm.weight",
        "lm_head.transform.dense.weight",
        "lm_head.decoder.weight",
        "lm_head.bias",
    ):
        assert key in keys
    assert not any("position" in key or "LayerNorm" in key or "contact" in key for key in keys)
    assert conversions["pytorch"].layout == "pytorch" and conversions["jax"].layout == "jax"
    assert conversions["pytorch"].dropped == [
        "esm.contact_head.regression.bias",
        "esm.contact_head.regression.weight",
        "esm.embeddings.position_embeddings.weight",
        "esm.encoder.layer.0.attention.self.rotary_embeddings.inv_freq",
        "esm.encoder.layer.1.attention.self.rotary_embeddings.inv_freq",
    ]
    assert AutoConfig.from_pretrained(conversions["jax"].output_path).layer_norm_eps == 1e-5
    assert "unused tensors dropped: esm.contact_head" in str(conversions["pytorch"])


def test_converter_command_line_and_layout_choice(original, tmp_path, capsys):
    main(["--checkpoint-path", str(original), "--output-path", str(tmp_path / "out")])
    assert "pytorch checkpoint" in capsys.readouterr().out  # both layouts present: the PyTorch files win
    jax_only = tmp_path / "repo"
    shutil.copytree(original / "jax_model", jax_only / "jax_model")
    main(["--checkpoint-path", str(jax_only), "--output-path", str(tmp_path / "out_jax")])
    assert "jax checkpoint" in capsys.readouterr().out
    with pytest.raises(SystemExit) as error:
        main(["--checkpoint-path", str(tmp_path / "nowhere"), "--output-path", str(tmp_path / "bad")])
    assert error.value.code == 1 and "not a directory" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


@pytest.fixture
def broken_copy(original, tmp_path) -> Path:
    copy = tmp_path / "original"
    shutil.copytree(original, copy)
    return copy


def test_converter_rejects_another_model(tmp_path):
    with pytest.raises(ConversionError, match="not a Nucleotide Transformer"):
        convert_checkpoint(fixture_dir("dnabert2", "tiny_a"), tmp_path / "out")
    with pytest.raises(ConversionError, match="neither config.json"):
        convert_checkpoint(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_converter_rejects_missing_files(broken_copy, tmp_path):
    (broken_copy / "vocab.txt").unlink()
    with pytest.raises(ConversionError, match="missing file: .*vocab.txt"):
        convert_checkpoint(broken_copy, tmp_path / "out")
    (broken_copy / "jax_model" / "pytree_ckpt.joblib").unlink()
    with pytest.raises(ConversionError, match="missing file: .*pytree_ckpt.joblib"):
        convert_checkpoint(broken_copy / "jax_model", tmp_path / "out")
    (broken_copy / "model.safetensors").unlink()
    (broken_copy / "pytorch_model.bin").unlink()
    shutil.copy(fixture_dir("nucleotide_transformer", "nt_v2_tiny_a") / "vocab.txt", broken_copy)
    with pytest.raises(ConversionError, match="no weights"):
        convert_checkpoint(broken_copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["model.safetensors", "pytorch_model.bin", "jax_model/pytree_ckpt.joblib"])
def test_converter_rejects_truncated_weights(broken_copy, tmp_path, name):
    weights = broken_copy / name
    weights.write_bytes(weights.read_bytes()[:10_000])
    if name == "pytorch_model.bin":
        (broken_copy / "model.safetensors").unlink()
    with pytest.raises(ConversionError, match="truncated or corrupt"):
        convert_checkpoint(broken_copy / "jax_model" if "jax" in name else broken_copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_converter_lists_unknown_and_missing_tensors(broken_copy, tmp_path):
    state_dict = load_file(broken_copy / "model.safetensors")
    state_dict["esm.extra.weight"] = torch.zeros(1)
    del state_dict["esm.encoder.layer.1.attention.LayerNorm.bias"]
    save_file(state_dict, broken_copy / "model.safetensors")
    with pytest.raises(ConversionError, match=r"does not know: esm\.extra\.weight"):
        convert_checkpoint(broken_copy, tmp_path / "out")
    del state_dict["esm.extra.weight"]
    save_file(state_dict, broken_copy / "model.safetensors")
    with pytest.raises(ConversionError, match=r"unfilled: model\.encoder\.layer\.1\.attention\.layer_norm\.bias"):
        convert_checkpoint(broken_copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# Parity with the originals


@pytest.mark.parametrize(
    "layout, hidden_atol, logits_atol", [("pytorch", HIDDEN_ATOL, LOGITS_ATOL), ("jax", 6e-5, 2e-4)]
)
@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("with_mask", [True, False])
def test_parity_v2(conversions, reference, layout, hidden_atol, logits_atol, attn_implementation, with_mask):
    # JAX keeps LayerNorm eps 1e-5 where the reference (the PyTorch port) uses 1e-12: ~4e-5 / ~1.3e-4 expected.
    path = conversions[layout].output_path
    model = NucleotideTransformerForMaskedLM.from_pretrained(path, attn_implementation=attn_implementation).eval()
    mask = reference["attention_mask"]
    with torch.no_grad():
        output = model(reference["input_ids"], attention_mask=mask if with_mask else None, output_hidden_states=True)
    num_layers = model.config.num_hidden_layers
    assert len(output.hidden_states) == num_layers + 1
    for index in range(num_layers + 1):
        assert masked_max_diff(output.hidden_states[index], reference[f"hidden_states.{index}"], mask) < hidden_atol
    assert masked_max_diff(output.hidden_states[-1], reference["last_hidden_state"], mask) < hidden_atol
    assert masked_max_diff(output.logits, reference["logits"], mask) < logits_atol


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("with_mask", [True, False])
def test_parity_v1(v1, attn_implementation, with_mask):
    path, batch, expected = v1["report"].output_path, v1["batch"], v1["expected"]
    model = NucleotideTransformerForMaskedLM.from_pretrained(path, attn_implementation=attn_implementation).eval()
    assert model.config.position_embedding_type == "absolute" and not model.config.use_glu
    mask = batch["attention_mask"]
    with torch.no_grad():
        output = model(batch["input_ids"], attention_mask=mask if with_mask else None, output_hidden_states=True)
    assert len(output.hidden_states) == len(expected.hidden_states) == 3
    for actual, wanted in zip(output.hidden_states, expected.hidden_states):
        assert masked_max_diff(actual, wanted, mask) < HIDDEN_ATOL
    assert masked_max_diff(output.logits, expected.logits, mask) < LOGITS_ATOL
    assert v1["report"].dropped == ["esm.contact_head.regression.bias", "esm.contact_head.regression.weight"]
    assert AutoTokenizer.from_pretrained(path).model_max_length == 64  # 66 positions, counted from pad_token_id + 1


def test_hidden_states_follow_the_original_convention(converted, reference):
    model = NucleotideTransformerModel.from_pretrained(converted).eval()
    mask = reference["attention_mask"]
    with torch.no_grad():
        output = model(reference["input_ids"], attention_mask=mask, output_hidden_states=True)
    assert torch.equal(output.hidden_states[-1], output.last_hidden_state)  # after the final LayerNorm
    assert masked_max_diff(output.hidden_states[1], reference["layer_outputs.0"], mask) < HIDDEN_ATOL
    assert masked_max_diff(output.hidden_states[-1], reference["layer_outputs.1"], mask) > 0.1  # not the raw output


def test_mlm_loss_ignores_minus_100(converted, reference):
    model = NucleotideTransformerForMaskedLM.from_pretrained(converted).eval()
    labels = torch.full_like(reference["input_ids"], -100)
    labels[0, 3], labels[1, 5], labels[2, 1] = 369, 4102, 6
    with torch.no_grad():
        output = model(reference["input_ids"], attention_mask=reference["attention_mask"], labels=labels)
    rows = reference["logits"][[0, 1, 2], [3, 5, 1]]
    expected = torch.nn.functional.cross_entropy(rows, torch.tensor([369, 4102, 6]))
    assert abs(output.loss.item() - expected.item()) < 1e-4


# Model behaviour


def test_encoder_attention_mask_is_accepted_and_checked(converted, reference):
    model = NucleotideTransformerModel.from_pretrained(converted).eval()
    mask = reference["attention_mask"].bool()
    with torch.no_grad():
        output = model(reference["input_ids"], attention_mask=mask, encoder_attention_mask=mask)
    assert masked_max_diff(output.last_hidden_state, reference["last_hidden_state"], mask) < HIDDEN_ATOL
    with pytest.raises(ValueError, match="no cross-attention"):
        model(reference["input_ids"], attention_mask=mask, encoder_attention_mask=torch.ones_like(mask))


def test_rotary_tables_stay_fp32_in_half_precision(converted):
    model = NucleotideTransformerForMaskedLM.from_pretrained(converted, dtype=torch.float16).eval()
    cos, sin = model.model.encoder.rotary(torch.arange(4)[None])
    assert cos.dtype == sin.dtype == torch.float32


# The model card


def test_converted_model_card_runs(converted):
    (block,) = re.findall(r"```python\n(.*?)```", (converted / "README.md").read_text(), flags=re.S)
    namespace: dict = {}
    exec(block.replace("THIS_DIRECTORY", str(converted)), namespace)
    assert namespace["embeddings"].shape == (2, 9, 64)  # <cls>, five 6-mers, three bases


@pytest.mark.filterwarnings("ignore:__array_wrap__:DeprecationWarning")  # the card multiplies a tensor by an array
def test_original_model_card_runs_as_written(converted, capsys):
    card = shared_path("model-cards", "nucleotide-transformer-v2-100m-multi-species.md")
    (block,) = re.findall(r"```python\n(.*?)```", card.read_text(), flags=re.S)
    assert "trust_remote_code=True" in block
    namespace: dict = {}
    exec(block.replace("InstaDeepAI/nucleotide-transformer-v2-100m-multi-species", str(converted)), namespace)
    assert isinstance(namespace["model"], NucleotideTransformerForMaskedLM)
    assert namespace["embeddings"].shape == (2, 1000, 64)
    assert namespace["mean_sequence_embeddings"].shape == (2, 64)
    assert "Embeddings shape: (2, 1000, 64)" in capsys.readouterr().out
