"""Convert a Nucleotide Transformer v3 checkpoint (pre- or post-trained, as InstaDeep publishes it) into ours.

    python -m multimolecule.models.ntv3.convert_checkpoint --checkpoint-path SRC --output-path DST

SRC is an `InstaDeepAI/NTv3_*` directory: `config.json` (`model_type` `ntv3` or `ntv3_posttrained`, remote code),
`model.safetensors` (`core.*` tensors), `vocab.json`. DST receives `config.json`, `model.safetensors`, the
tokenizer files and a `README.md`. The rotary tables the original saves (`inv_freq`, and `cos_cached` /
`sin_cached` when saved after a forward) are dropped and reported; any other unknown or missing tensor fails the
conversion with its name. `from_pretrained` reads SRC as it is, through `ORIGINAL_LAYOUT`.
"""

from __future__ import annotations

import os
import re
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
    require_known,
    save_converted,
)
from ..loading_utils import OriginalLayout
from .configuration_ntv3 import NUM_SPECIES_SPECIAL_TOKENS, NucleotideTransformerV3Config
from .modeling_ntv3 import NucleotideTransformerV3ForMaskedLM, NucleotideTransformerV3ForTrackPrediction
from .tokenization_ntv3 import NucleotideTransformerV3Tokenizer

ORIGINAL_MODEL_TYPES = ("ntv3", "ntv3_posttrained")
# Original tensor name (regular expression, at its start) -> ours; the first that matches is used.
PREFIXES = [
    (r"core\.embed_layer\.", "model.embeddings.word_embeddings."),
    (r"core\.cond_tables\.0\.", "model.species_embeddings."),
    (r"core\.stem\.conv\.", "model.stem."),
    (r"core\.conv_tower_blocks\.", "model.down_blocks."),
    (r"core\.deconv_tower_blocks\.", "model.up_blocks."),
    (r"core\.transformer_blocks\.", "model.layers."),
    (r"core\.lm_head\.head\.", "lm_head.decoder."),
    (r"core\.bigwig_head\.species_heads\.", "bigwig_heads."),
    (r"core\.bed_head\.", "bed_head."),
    (r"core\.conditions_heads\.0\.", "species_head."),
]
# Then, inside a block (applied in order, each wherever it matches).
PARTS = [
    (r"\.layer_norm\.modulation_layers\.0\.", ".layer_norm.modulation."),
    (r"_layer_norm\.modulation_layers\.0\.", "_layer_norm.modulation."),
    (r"\.res_conv\.modulation_layers\.0\.", ".residual.gate."),
    (r"\.res_conv\.", ".residual."),
    (r"\.self_attention_layer_norm\.", ".attention_norm."),
    (r"\.final_layer_norm\.", ".mlp_norm."),
    (r"\.sa_layer\.(query|key|value)_head\.linear\.", r".attention.\1."),
    (r"\.sa_layer\.mha_output\.", ".attention.output."),
    (r"\.fc1\.", ".mlp.up_proj."),
    (r"\.fc2\.", ".mlp.down_proj."),
    (r"^(model\.layers\.\d+)\.modulation_layers\.0\.", r"\1.mlp_gate."),
    (r"^(bigwig_heads\.\d+|bed_head)\.head\.", r"\1.decoder."),
]
# Stored by the original but recomputed: the rotary tables.
UNUSED = r"\.rotary_embedding\.(inv_freq|cos_cached|sin_cached)$"


def is_original_config(config: dict) -> bool:
    """Whether a parsed `config.json` is an original NTv3's (`model_type` `ntv3` or `ntv3_posttrained`)."""
    return config.get("model_type") in ORIGINAL_MODEL_TYPES


def detect(path: Path) -> bool:
    """Whether `path` holds an original NTv3 checkpoint.

    Example:
        >>> detect(Path("no/such/directory"))
        False
    """
    return (path / "config.json").is_file() and is_original_config(read_json_if_present(path / "config.json"))


def convert_config(original: dict) -> NucleotideTransformerV3Config:
    """An original `config.json` (parsed) -> our config; refuses the options this port does not implement."""
    if not is_original_config(original):
        raise ConversionError(
            f"not an NTv3 config (model_type={original.get('model_type')!r}); expected one of {ORIGINAL_MODEL_TYPES}"
        )
    problems = []
    if original.get("deconv_upsample_type", "repeat+conv") != "repeat+conv":
        problems.append(f"deconv_upsample_type {original['deconv_upsample_type']!r} (only 'repeat+conv')")
    if original.get("num_hidden_layers_head", 0):
        problems.append(f"num_hidden_layers_head {original['num_hidden_layers_head']} (only 0)")
    if problems:
        raise ConversionError("unsupported NTv3 checkpoint: " + "; ".join(problems))
    try:
        species: dict = {}
        if original["model_type"] == "ntv3_posttrained":
            special = original.get("num_species_special_tokens", NUM_SPECIES_SPECIAL_TOKENS)
            if special != NUM_SPECIES_SPECIAL_TOKENS:
                raise ConversionError(f"num_species_special_tokens {special} (only {NUM_SPECIES_SPECIAL_TOKENS})")
            ids = original["species_to_token_id"]
            names = [name for name, index in sorted(ids.items(), key=lambda item: item[1]) if index >= special]
            if list(original.get("conditions_vocab_size") or [special + len(names)]) != [special + len(names)]:
                raise ConversionError(f"conditions_vocab_size {original['conditions_vocab_size']} for {names}")
            species = {
                "species": names,
                "bigwig_tracks": {name: list(original["bigwigs_per_species"].get(name, [])) for name in names},
                "bed_elements": list(original.get("bed_elements_names") or []),
                "keep_target_center_fraction": original.get("keep_target_center_fraction", 0.375),
            }
        architecture = "ForTrackPrediction" if species else "ForMaskedLM"
        return NucleotideTransformerV3Config(
            vocab_size=original.get("alphabet_size", 11),
            hidden_size=original["conv_init_embed_dim"],
            embed_dim=original["embed_dim"],
            token_embed_dim=original["token_embed_dim"],
            num_downsamples=original["num_downsamples"],
            num_hidden_layers=original["num_layers"],
            num_attention_heads=original["attention_heads"],
            head_dim=original["key_size"],
            intermediate_size=original["ffn_embed_dim"],
            layer_norm_eps=original.get("layer_norm_eps", 1e-5),
            use_skip_connection=original.get("use_skip_connection", True),
            pad_token_id=original.get("pad_token_id", 1),
            mask_token_id=original.get("mask_token_id", 2),
            tie_word_embeddings=False,
            architectures=[f"NucleotideTransformerV3{architecture}"],
            **species,
        )
    except ConversionError:
        raise
    except (KeyError, ValueError) as error:
        raise ConversionError(f"cannot read the config: {error!r}") from error


def rename(name: str) -> str | None:
    """An original tensor name -> ours; None for one this converter does not know.

    Example:
        >>> rename("core.transformer_blocks.1.sa_layer.query_head.linear.weight")
        'model.layers.1.attention.query.weight'
        >>> rename("core.deconv_tower_blocks.0.res_conv.modulation_layers.0.bias")
        'model.up_blocks.0.residual.gate.bias'
    """
    for pattern, replacement in PREFIXES:
        new_name, count = re.subn(f"^{pattern}", replacement, name, count=1)
        if count:
            break
    else:
        return None
    for pattern, replacement in PARTS:
        new_name = re.sub(pattern, replacement, new_name)
    return new_name


def is_unused(name: str) -> bool:
    """Whether the original tensor `name` is stored but never used (dropped, not an error)."""
    return re.search(UNUSED, name) is not None


def convert_state_dict(original: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The original state dict -> ours and the names of the unused tensors dropped. Unknown keys raise."""
    converted, dropped, unknown = {}, [], []
    for name, tensor in original.items():
        if is_unused(name):
            dropped.append(name)
        elif (new_name := rename(name)) is None:
            unknown.append(name)
        else:
            converted[new_name] = tensor
    require_known(unknown)
    return converted, sorted(dropped)


def read_config(original: dict, fetch: Callable[[str], str | None]) -> NucleotideTransformerV3Config:
    """Our config for an original `config.json` (parsed); the vocabulary is fixed, so no other file is read."""
    return convert_config(original)


# What `from_pretrained` needs to load an original directory or Hub repository as it is.
# The published remote code of `InstaDeepAI/ntv3_base_model`, which every NTv3 checkpoint's `auto_map` names: sha256
# -> file, as recorded with the fixtures made by it (../shared/fixtures/ntv3/ntv3_tiny_a/reference.json,
# original_code; ../shared/reference/ntv3.md, "Which copy of the remote code is the hub's"). transformers' Auto
# classes load a checkpoint natively only if every remote-code file it carries is one of these (`models.remote_code`).
REMOTE_CODE = {
    "c2b664c0992ecd9bdf0400c9eb992bf1d7da21fcbf4217a76c9c74c49187a404": "ntv3_base_model modeling_ntv3_pretrained.py",
    "e210b5ec18ebe626d8dd91b408a83fc20afc59bf6c5382084ee91b9b8be69df3": "ntv3_base_model config (pre-trained)",
    "212742daff3a58ed0c08cb1cfaf96b21a82ef1cbd0008d28d7deaf9b3f429130": "ntv3_base_model config (post-trained)",
    "bfaee82835abc31bd4786b035d2f9dc65be7118661948ecd95573ea3a71062af": "ntv3_base_model modeling_ntv3_posttrained.py",
    "59e507620a65cebaab59e977c8f2840ff2f208f0f1a6ec38ece6b53cb3eebda3": "ntv3_base_model tokenization_ntv3.py",
}

ORIGINAL_LAYOUT = OriginalLayout(
    name="NTv3 (InstaDeep remote-code layout)",
    model_type=NucleotideTransformerV3Config.model_type,
    matches=is_original_config,
    convert_config=read_config,
    rename=lambda name, config: rename(name),
    unused=lambda name, config: is_unused(name),
    remote_code=REMOTE_CODE,
)


def convert_checkpoint(checkpoint_path: str | os.PathLike, output_path: str | os.PathLike) -> ConversionReport:
    """Convert the original checkpoint directory `checkpoint_path` into a loadable directory `output_path`."""
    source = Path(checkpoint_path)
    if not source.is_dir():
        raise ConversionError(f"checkpoint path is not a directory: {source}")
    config = convert_config(read_json(source / "config.json"))
    vocab_path = source / "vocab.json"
    tokenizer = (
        NucleotideTransformerV3Tokenizer.from_vocabulary(read_json(vocab_path))
        if vocab_path.is_file()
        else NucleotideTransformerV3Tokenizer.standard()
    )
    state_dict, dropped = convert_state_dict(load_state_dict(source))
    model_class = (
        NucleotideTransformerV3ForTrackPrediction if config.num_species else NucleotideTransformerV3ForMaskedLM
    )
    save_converted(model_class(config), tokenizer, state_dict, output_path, "NTv3", str(checkpoint_path), USAGE)
    layout = "post-trained" if config.num_species else "pre-trained"
    return ConversionReport(Path(output_path), NucleotideTransformerV3Config.model_type, layout, dropped)


USAGE = """```python
import multimolecule  # registers the models with transformers
from transformers import AutoModelForMaskedLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("THIS_DIRECTORY")
model = AutoModelForMaskedLM.from_pretrained("THIS_DIRECTORY")
inputs = tokenizer(["ACGTACGTTAGC", "TTGACA"], padding=True, return_tensors="pt")
output = model(**inputs)  # any length: padded with N to a multiple of 2^num_downsamples and cropped back
embeddings = model.model(**inputs).last_hidden_state  # one vector per base
```

Notes:
- One token per base; lower-case bases are read as upper case, anything else is `<unk>`; no special tokens.
- `attention_mask` is honoured (the original ignores it): each sequence of a padded batch gives what it gives
  alone. A post-trained model takes `species_ids` (`config.species[i]` has id `6 + i`)."""


def main(argv: list[str] | None = None) -> None:
    converter_main(convert_checkpoint, argv)


if __name__ == "__main__":
    main()
