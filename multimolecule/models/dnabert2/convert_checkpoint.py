"""Convert a DNABERT-2 checkpoint as `zhihan1996/DNABERT-2-117M` or `zhihan1996/DNABERT-S` publishes it into the
multimolecule layout.

    python -m multimolecule.models.dnabert2.convert_checkpoint --checkpoint-path SRC --output-path DST

SRC holds `config.json`, `pytorch_model.bin` or `model.safetensors`, and `tokenizer.json`. DST receives
`config.json`, `model.safetensors`, the tokenizer files and a `README.md`.

DNABERT-S is DNABERT-2 continued with species-aware contrastive training, saved as a bare `BertModel`: the
DNABERT-2 keys without `bert.`, a pooler that was never trained, no masked-LM head, `model_type: "bert"` and
`pad_token_id: 0` (the tokenizer pads with 3; the config's value only set the embedding's `padding_idx`). It
converts to the encoder (`DnaBert2Model`, pooler kept), whose `embed` default is DNABERT-S's embedding: the mean
over every real token, `<cls>` and `<eos>` included.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch

from ..conversion_utils import (
    ConversionError,
    ConversionReport,
    converter_main,
    load_state_dict,
    read_json,
    read_json_if_present,
    rename,
    require_known,
    save_converted,
)
from ..loading_utils import Checkpoint, OriginalLayout
from .configuration_dnabert2 import DnaBert2Config
from .modeling_dnabert2 import DnaBert2ForPreTraining, DnaBert2Model
from .tokenization_dnabert2 import DnaBert2Tokenizer

# Original key (regular expression) -> our key. Used by the converter and, while loading an original directory, by
# `from_pretrained` (see multimolecule/loading.py): this is the one place that knows the original names.
RENAMES = [
    (r"bert\.embeddings\.LayerNorm\.", "model.embeddings.layer_norm."),
    (r"bert\.embeddings\.", "model.embeddings."),
    (
        r"bert\.encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.",
        r"model.encoder.layer.\1.attention.output.layer_norm.",
    ),
    (r"bert\.encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"model.encoder.layer.\1.attention.output.dense."),
    (r"bert\.encoder\.layer\.(\d+)\.mlp\.gated_layers\.", r"model.encoder.layer.\1.mlp.gated_layers."),
    (r"bert\.encoder\.layer\.(\d+)\.mlp\.wo\.", r"model.encoder.layer.\1.mlp.wo."),
    (r"bert\.encoder\.layer\.(\d+)\.mlp\.layernorm\.", r"model.encoder.layer.\1.mlp.layer_norm."),
    (r"cls\.predictions\.transform\.LayerNorm\.", "lm_head.transform.layer_norm."),
    (r"cls\.predictions\.transform\.dense\.", "lm_head.transform.dense."),
    (r"cls\.predictions\.decoder\.bias$", "lm_head.bias"),
    (r"cls\.predictions\.decoder\.weight$", "lm_head.decoder.weight"),  # tied: checked by save_converted
    (r"bert\.encoder\.layer\.(\d+)\.attention\.self\.Wqkv\.", r"model.encoder.layer.\1.attention.self.Wqkv."),
]
# Fused tensors (after renaming) -> the tensors they hold, stacked along dim 0: Wqkv rows are Q | K | V.
SPLITS = {"attention.self.Wqkv": ("attention.self.query", "attention.self.key", "attention.self.value")}


# DNABERT-S: the BertModel's own keys are DNABERT-2's without `bert.`; its pooler is ours.
DNABERT_S_RENAMES = [(r"pooler\.dense\.", "model.pooler.dense.")]


def is_original_config(config: dict) -> bool:
    """Whether a parsed `config.json` is an original of the DNABERT-2 architecture (DNABERT-2 or DNABERT-S): a BERT
    with ALiBi (`alibi_starting_size`, or the `bert_layers` remote code in `auto_map`)."""
    return config.get("model_type") in (None, "bert") and (
        "alibi_starting_size" in config or "bert_layers" in str(config.get("auto_map", ""))
    )


def is_dnabert_s_config(config: dict) -> bool:
    """Whether a parsed `config.json` is DNABERT-S's: the DNABERT-2 architecture saved as a bare `BertModel`."""
    return is_original_config(config) and config.get("architectures") == ["BertModel"]


def is_dnabert2_config(config: dict) -> bool:
    """Whether a parsed `config.json` is DNABERT-2's remote-code `BertForMaskedLM` (not DNABERT-S)."""
    return is_original_config(config) and not is_dnabert_s_config(config)


def rename_dnabert_s(name: str) -> str | None:
    """A DNABERT-S tensor name -> ours (the DNABERT-2 table under the `bert.` prefix, and the pooler); None if
    unknown.

    Example:
        >>> rename_dnabert_s("encoder.layer.0.mlp.wo.bias"), rename_dnabert_s("pooler.dense.weight")
        ('model.encoder.layer.0.mlp.wo.bias', 'model.pooler.dense.weight')
        >>> rename_dnabert_s("cls.predictions.bias") is None
        True
    """
    return rename(name, DNABERT_S_RENAMES) or rename(f"bert.{name}", RENAMES)


def detect(path: Path) -> bool:
    """Whether `path` holds an original DNABERT-2 or DNABERT-S checkpoint, by its `config.json` (the converter then
    checks the weights and `tokenizer.json`).

    Example:
        >>> detect(Path("no/such/directory"))
        False
    """
    return is_original_config(read_json_if_present(path / "config.json"))


def convert_config(original: dict, token_bases: list[str] | None = None) -> DnaBert2Config:
    """The original `config.json` (parsed) -> `DnaBert2Config`."""
    if not is_original_config(original):
        raise ConversionError(
            f"not a DNABERT-2 config (model_type={original.get('model_type')!r}, no alibi_starting_size)"
        )
    return DnaBert2Config(
        vocab_size=original["vocab_size"],
        hidden_size=original["hidden_size"],
        num_hidden_layers=original["num_hidden_layers"],
        num_attention_heads=original["num_attention_heads"],
        intermediate_size=original["intermediate_size"],
        hidden_act="gelu",  # the original's MLP uses exact GELU whatever hidden_act says
        hidden_dropout=original.get("hidden_dropout_prob", 0.1),
        attention_dropout=original.get("attention_probs_dropout_prob", 0.0),
        type_vocab_size=original.get("type_vocab_size", 2),
        layer_norm_eps=original.get("layer_norm_eps", 1e-12),
        initializer_range=original.get("initializer_range", 0.02),
        alibi_starting_size=original.get("alibi_starting_size", 512),
        token_bases=token_bases,
        architectures=["DnaBert2ForPreTraining"],
    )


def convert_dnabert_s_config(original: dict, token_bases: list[str] | None = None) -> DnaBert2Config:
    """DNABERT-S's `config.json` (parsed) -> our encoder's config: DNABERT-2's, with `<pad>` at the tokenizer's id
    (not the config's 0) and DNABERT-S's embedding as `embed`'s default."""
    config = convert_config(original, token_bases)
    config.architectures = ["DnaBert2Model"]
    config.embedding_pooling = "mean-all"
    return config


def convert_state_dict(
    original: dict[str, torch.Tensor], rename_tensor: Callable[[str], str | None] | None = None
) -> dict[str, torch.Tensor]:
    """Original `BertForMaskedLM` state dict (or DNABERT-S's `BertModel` one, with `rename_tensor=rename_dnabert_s`)
    -> ours. Unknown keys raise `ConversionError` with their names."""
    rename_tensor = rename_tensor or (lambda name: rename(name, RENAMES))
    converted, unknown = {}, []
    for name, tensor in original.items():
        new_name = rename_tensor(name)
        if new_name is None:
            unknown.append(name)
        else:
            converted[new_name] = tensor
    require_known(unknown)
    for name in list(converted):
        for fused, parts in SPLITS.items():
            if f".{fused}." in name:
                tensor = converted.pop(name)
                converted.update(zip((name.replace(fused, part) for part in parts), tensor.chunk(len(parts), dim=0)))
    return converted


def read_config(original: dict, checkpoint: Checkpoint) -> DnaBert2Config:
    """Our config for an original `config.json` (parsed), with the token bases (and lengths) of the
    `tokenizer.json` beside it in `checkpoint`."""
    tokenizer = checkpoint.original_tokenizer(DnaBert2Tokenizer)
    return convert_config(original, token_bases=tokenizer.token_bases if tokenizer is not None else None)


def read_dnabert_s_config(original: dict, checkpoint: Checkpoint) -> DnaBert2Config:
    """`read_config` for DNABERT-S."""
    tokenizer = checkpoint.original_tokenizer(DnaBert2Tokenizer)
    return convert_dnabert_s_config(original, token_bases=tokenizer.token_bases if tokenizer is not None else None)


# The published remote code of the originals in these layouts: sha256 -> where it is published (and where the hash
# was taken from). transformers' Auto classes load a checkpoint natively only if every remote-code file it carries
# is one of these (see `models.remote_code`).
REMOTE_CODE = {
    # zhihan1996/DNABERT-2-117M (revisions a3d38b3f and 7bce263b; the same files as d064dece, which
    # ../shared/reference/dnabert2.md describes): the Git LFS object ids (sha256) of the repository's files as vendored
    # in WMU-SuLab/Regdriver-SC @ 6142b1e9 DNABERT-2-117M/, which two independent hash manifests of those revisions
    # repeat. bert_padding.py and flash_attn_triton.py are also DNABERT-S's.
    "317ad7e9667980ac724c07f0174ba265c8446ca5230f6b473068ff1b911edcf9": "zhihan1996/DNABERT-2-117M bert_layers.py",
    "95fc868641b87bbcd7a32d2cd7b9f4769c27592e129daf167d14b5b8c74ec4c5": "zhihan1996/DNABERT-2-117M config code",
    "44d1c68afb1f585fdc66c150d4c60f1ed44a89c006abc57d50531d71940d7421": "zhihan1996/DNABERT-2-117M bert_padding.py",
    "568d1ac3beca0b5e1df528a1f136aa19b6489a616fcf3784f33336a50bb1de81": "zhihan1996/DNABERT-2-117M flash_attn_triton",
}
DNABERT_S_REMOTE_CODE = {
    # zhihan1996/DNABERT-S, as copied in MAGICS-LAB/DNABERT_S @ ac01b55e evaluate/model_codes/
    # (../shared/fixtures/dnabert2/dnabert_s_tiny_a/reference.json, original_code)
    "089e5d47229fa2784439d003cee93e45af6946d662dd1280b49d83dd93a58e36": "zhihan1996/DNABERT-S bert_layers.py",
    "d030166bd279ca81e9d2304eaff9419171f2f8c69ab419e7cd37873b72f47a22": "zhihan1996/DNABERT-S configuration_bert.py",
    "44d1c68afb1f585fdc66c150d4c60f1ed44a89c006abc57d50531d71940d7421": "zhihan1996/DNABERT-S bert_padding.py",
    "568d1ac3beca0b5e1df528a1f136aa19b6489a616fcf3784f33336a50bb1de81": "zhihan1996/DNABERT-S flash_attn_triton.py",
}


# What `from_pretrained` needs to load an original directory or Hub repository as it is.
ORIGINAL_LAYOUT = OriginalLayout(
    name="DNABERT-2 remote-code (zhihan1996/DNABERT-2-117M)",
    model_type=DnaBert2Config.model_type,
    matches=is_dnabert2_config,
    convert_config=read_config,
    rename=lambda name, config: rename(name, RENAMES),
    splits=SPLITS,
    remote_code=REMOTE_CODE,
)
DNABERT_S_LAYOUT = OriginalLayout(
    name="DNABERT-S (zhihan1996/DNABERT-S, a bare BertModel)",
    model_type=DnaBert2Config.model_type,
    matches=is_dnabert_s_config,
    convert_config=read_dnabert_s_config,
    rename=lambda name, config: rename_dnabert_s(name),
    splits=SPLITS,
    remote_code=DNABERT_S_REMOTE_CODE,
)
ORIGINAL_LAYOUTS = (ORIGINAL_LAYOUT, DNABERT_S_LAYOUT)


def convert_checkpoint(checkpoint_path: str | os.PathLike, output_path: str | os.PathLike) -> ConversionReport:
    """Convert the original checkpoint directory `checkpoint_path` into a loadable directory `output_path`."""
    checkpoint_path = Path(checkpoint_path)
    if not checkpoint_path.is_dir():
        raise ConversionError(f"checkpoint path is not a directory: {checkpoint_path}")
    original_config = read_json(checkpoint_path / "config.json")
    if not (checkpoint_path / "tokenizer.json").is_file():
        raise ConversionError(f"missing file: {checkpoint_path / 'tokenizer.json'}")
    tokenizer = DnaBert2Tokenizer.from_original(checkpoint_path / "tokenizer.json")
    if is_dnabert_s_config(original_config):
        config = convert_dnabert_s_config(original_config, token_bases=tokenizer.token_bases)
        state_dict = convert_state_dict(load_state_dict(checkpoint_path), rename_dnabert_s)
        state_dict = {name.removeprefix("model."): tensor for name, tensor in state_dict.items()}
        save_converted(
            DnaBert2Model(config), tokenizer, state_dict, output_path, "DNABERT-S", str(checkpoint_path), USAGE_S
        )
        return ConversionReport(Path(output_path), DnaBert2Config.model_type, "pytorch (DNABERT-S)")
    config = convert_config(original_config, token_bases=tokenizer.token_bases)
    state_dict = convert_state_dict(load_state_dict(checkpoint_path))
    model = DnaBert2ForPreTraining(config)
    save_converted(model, tokenizer, state_dict, output_path, "DNABERT-2", str(checkpoint_path), USAGE)
    return ConversionReport(Path(output_path), DnaBert2Config.model_type, "pytorch")


USAGE = """```python
import multimolecule  # registers the models with transformers
from transformers import AutoModel, AutoTokenizer, pipeline

tokenizer = AutoTokenizer.from_pretrained("THIS_DIRECTORY")
model = AutoModel.from_pretrained("THIS_DIRECTORY")
output = model(**tokenizer("ATCGATCGATCGATCG", return_tensors="pt"))

predictor = pipeline("fill-mask", model="THIS_DIRECTORY")
predictor("ATCG<mask>TGCA")
```"""


USAGE_S = """```python
import torch
import multimolecule  # registers the models with transformers
from transformers import AutoModel, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("THIS_DIRECTORY")
model = AutoModel.from_pretrained("THIS_DIRECTORY")
inputs = tokenizer(["ACGTAGCATCGGATCTATCTATCGAC", "TTGACAGCTAGCTCAG"], padding=True, return_tensors="pt")
hidden = model(**inputs).last_hidden_state
mask = inputs["attention_mask"][..., None]
embedding = (hidden * mask).sum(1) / mask.sum(1)  # DNABERT-S's embedding: <cls> and <eos> included
```

DNABERT-S has no masked-language-model head: it embeds (`multimolecule embed` pools as above by default) and
takes new prediction heads (`multimolecule train`); its pooler was never trained."""


def main(argv: list[str] | None = None) -> None:
    converter_main(convert_checkpoint, argv)


if __name__ == "__main__":
    main()
