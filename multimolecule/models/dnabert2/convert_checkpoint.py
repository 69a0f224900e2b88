"""Convert a DNABERT-2 checkpoint as `zhihan1996/DNABERT-2-117M` publishes it into the multimolecule layout.

    python -m multimolecule.models.dnabert2.convert_checkpoint --checkpoint-path SRC --output-path DST

SRC holds `config.json`, `pytorch_model.bin` or `model.safetensors`, and `tokenizer.json`. DST receives
`config.json`, `model.safetensors`, the tokenizer files and a `README.md`.
"""

from __future__ import annotations

import os
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
from .modeling_dnabert2 import DnaBert2ForPreTraining
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
    (r"bert\.encoder\.layer\.(\d+)\.mlp\.gated_layers\.", r"model.encoder.layer.\1.mlp.up_proj."),
    (r"bert\.encoder\.layer\.(\d+)\.mlp\.wo\.", r"model.encoder.layer.\1.mlp.down_proj."),
    (r"bert\.encoder\.layer\.(\d+)\.mlp\.layernorm\.", r"model.encoder.layer.\1.mlp.layer_norm."),
    (r"cls\.predictions\.transform\.LayerNorm\.", "lm_head.transform.layer_norm."),
    (r"cls\.predictions\.transform\.dense\.", "lm_head.transform.dense."),
    (r"cls\.predictions\.decoder\.bias$", "lm_head.bias"),
    (r"cls\.predictions\.decoder\.weight$", "lm_head.decoder.weight"),  # tied: checked by save_converted
    (r"bert\.encoder\.layer\.(\d+)\.attention\.self\.Wqkv\.", r"model.encoder.layer.\1.attention.self.Wqkv."),
]
# Fused tensors (after renaming) -> the tensors they hold, stacked along dim 0: Wqkv rows are Q | K | V.
SPLITS = {"attention.self.Wqkv": ("attention.self.query", "attention.self.key", "attention.self.value")}


def is_original_config(config: dict) -> bool:
    """Whether a parsed `config.json` is the original DNABERT-2's: a BERT with ALiBi (`alibi_starting_size`, or
    the `bert_layers` remote code in `auto_map`)."""
    return config.get("model_type") in (None, "bert") and (
        "alibi_starting_size" in config or "bert_layers" in str(config.get("auto_map", ""))
    )


def detect(path: Path) -> bool:
    """Whether `path` holds an original DNABERT-2 checkpoint, by its `config.json` (the converter then checks the
    weights and `tokenizer.json`).

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


def convert_state_dict(original: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Original `BertForMaskedLM` state dict -> ours. Unknown keys raise `ConversionError` with their names."""
    converted, unknown = {}, []
    for name, tensor in original.items():
        new_name = rename(name, RENAMES)
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


def original_token_bases(tokenizer_path: str | os.PathLike) -> list[str]:
    """The bases each token id of an original `tokenizer.json` spells (what the base-resolution heads need)."""
    return DnaBert2Tokenizer.from_original(tokenizer_path).token_bases


def read_config(original: dict, checkpoint: Checkpoint) -> DnaBert2Config:
    """Our config for an original `config.json` (parsed), with the token bases (and lengths) of the
    `tokenizer.json` beside it in `checkpoint`."""
    tokenizer = checkpoint.original_tokenizer(DnaBert2Tokenizer)
    return convert_config(original, token_bases=tokenizer.token_bases if tokenizer is not None else None)


# The published remote code of the originals in this layout: sha256 -> where it is published (and where the hash
# was taken from). transformers' Auto classes load a checkpoint natively only if every remote-code file it carries
# is one of these (see `models.remote_code`).
REMOTE_CODE = {
    # zhihan1996/DNABERT-2-117M (revisions a3d38b3f and 7bce263b; the same files as d064dece, which
    # ../shared/reference/dnabert2.md describes): the Git LFS object ids (sha256) of the repository's files as vendored
    # in WMU-SuLab/Regdriver-SC @ 6142b1e9 DNABERT-2-117M/, which two independent hash manifests of those revisions
    # repeat. bert_padding.py is also DNABERT-S's (../shared/fixtures/dnabert2/dnabert_s_tiny_a/reference.json).
    "317ad7e9667980ac724c07f0174ba265c8446ca5230f6b473068ff1b911edcf9": "zhihan1996/DNABERT-2-117M bert_layers.py",
    "95fc868641b87bbcd7a32d2cd7b9f4769c27592e129daf167d14b5b8c74ec4c5": "zhihan1996/DNABERT-2-117M config code",
    "44d1c68afb1f585fdc66c150d4c60f1ed44a89c006abc57d50531d71940d7421": "zhihan1996/DNABERT-2-117M bert_padding.py",
    # zhihan1996/DNABERT-S, as copied in MAGICS-LAB/DNABERT_S @ ac01b55e evaluate/model_codes/
    # (../shared/fixtures/dnabert2/dnabert_s_tiny_a/reference.json, original_code)
    "089e5d47229fa2784439d003cee93e45af6946d662dd1280b49d83dd93a58e36": "zhihan1996/DNABERT-S bert_layers.py",
    "d030166bd279ca81e9d2304eaff9419171f2f8c69ab419e7cd37873b72f47a22": "zhihan1996/DNABERT-S configuration_bert.py",
    "568d1ac3beca0b5e1df528a1f136aa19b6489a616fcf3784f33336a50bb1de81": "zhihan1996/DNABERT-2-117M and DNABERT-S "
    "flash_attn_triton.py",
}

# What `from_pretrained` needs to load an original directory or Hub repository as it is.
ORIGINAL_LAYOUT = OriginalLayout(
    name="DNABERT-2 remote-code (zhihan1996/DNABERT-2-117M)",
    model_type=DnaBert2Config.model_type,
    matches=is_original_config,
    convert_config=read_config,
    rename=lambda name, config: rename(name, RENAMES),
    splits=SPLITS,
    remote_code=REMOTE_CODE,
)


def convert_checkpoint(checkpoint_path: str | os.PathLike, output_path: str | os.PathLike) -> ConversionReport:
    """Convert the original checkpoint directory `checkpoint_path` into a loadable directory `output_path`."""
    checkpoint_path = Path(checkpoint_path)
    if not checkpoint_path.is_dir():
        raise ConversionError(f"checkpoint path is not a directory: {checkpoint_path}")
    original_config = read_json(checkpoint_path / "config.json")
    if not (checkpoint_path / "tokenizer.json").is_file():
        raise ConversionError(f"missing file: {checkpoint_path / 'tokenizer.json'}")
    tokenizer = DnaBert2Tokenizer.from_original(checkpoint_path / "tokenizer.json")
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


def main(argv: list[str] | None = None) -> None:
    converter_main(convert_checkpoint, argv)


if __name__ == "__main__":
    main()
