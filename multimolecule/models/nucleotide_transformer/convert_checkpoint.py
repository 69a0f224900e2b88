"""Convert a Nucleotide Transformer checkpoint (v1 or v2, PyTorch or JAX) into the multimolecule layout.

    python -m multimolecule.models.nucleotide_transformer.convert_checkpoint --checkpoint-path SRC --output-path DST

SRC is one of
- an `InstaDeepAI/nucleotide-transformer-v2-*` directory: `config.json` (ESM remote code, no `model_type`),
  `model.safetensors` or `pytorch_model.bin`, `vocab.txt`;
- a v1 directory in the native transformers ESM layout (`model_type: "esm"`), with `vocab.txt`;
- a JAX/Haiku `jax_model/` directory (`hyperparams.json`, `pytree_ckpt.joblib`; needs the optional `joblib`),
  or a directory holding only `jax_model/`. Where both layouts are present, the PyTorch files are used.
DST receives `config.json`, `model.safetensors`, the tokenizer files and a `README.md`. Tensors the originals
store but never use (v2 position embeddings, the contact regression head, rotary `inv_freq`) are dropped and
reported; any other unknown or missing tensor fails the conversion with its name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from ..conversion_utils import (
    ConversionError,
    ConversionReport,
    converter_main,
    load_haiku_joblib,
    load_state_dict,
    read_json,
    read_json_if_present,
    rename,
    require_known,
    save_converted,
)
from ..loading_utils import Checkpoint, OriginalLayout
from .configuration_nucleotide_transformer import NucleotideTransformerConfig
from .modeling_nucleotide_transformer import NucleotideTransformerForPreTraining
from .tokenization_nucleotide_transformer import (
    MODEL_MAX_LENGTH,
    NucleotideTransformerTokenizer,
    standard_vocabulary,
)

# PyTorch (ESM) key (regular expression) -> our key.
RENAMES = [
    (r"esm\.embeddings\.word_embeddings\.", "model.embeddings.word_embeddings."),
    (r"esm\.embeddings\.position_embeddings\.", "model.embeddings.position_embeddings."),
    (r"esm\.embeddings\.layer_norm\.", "model.embeddings.layer_norm."),
    (r"esm\.encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.", r"model.encoder.layer.\1.attention.self.\2."),
    (r"esm\.encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"model.encoder.layer.\1.attention.output.dense."),
    (r"esm\.encoder\.layer\.(\d+)\.attention\.LayerNorm\.", r"model.encoder.layer.\1.attention.layer_norm."),
    (r"esm\.encoder\.layer\.(\d+)\.intermediate\.dense\.", r"model.encoder.layer.\1.intermediate.dense."),
    (r"esm\.encoder\.layer\.(\d+)\.output\.dense\.", r"model.encoder.layer.\1.output.dense."),
    (r"esm\.encoder\.layer\.(\d+)\.LayerNorm\.", r"model.encoder.layer.\1.layer_norm."),
    (r"esm\.encoder\.emb_layer_norm_after\.", "model.encoder.layer_norm."),
    (r"lm_head\.dense\.", "lm_head.transform.dense."),
    (r"lm_head\.layer_norm\.", "lm_head.transform.layer_norm."),
    (r"lm_head\.(decoder\.weight|bias)$", r"lm_head.\1"),
]
# transformers 5 saves ESM's `LayerNorm.weight` / `.bias` under the legacy names `gamma` / `beta`.
LEGACY_NAMES = [(r"LayerNorm\.gamma$", "LayerNorm.weight"), (r"LayerNorm\.beta$", "LayerNorm.bias")]
# Stored by the originals but unused by their forward pass.
UNUSED = [r"\.rotary_embeddings\.inv_freq$", r"^esm\.contact_head\.", r"^esm\.embeddings\.position_ids$"]
UNUSED_WITH_ROTARY = r"^esm\.embeddings\.position_embeddings\.weight$"

# JAX/Haiku module (regular expression, raw or as the JAX repo's loader renames it) -> our module.
LAYER = r"esm_transformer/attention_layer_(\d+)"
JAX_MODULES = [
    (r"esm_transformer/~/embed$", "model.embeddings.word_embeddings"),
    (r"esm_transformer/~/emb_layer_norm_before$", "model.embeddings.layer_norm"),
    (rf"{LAYER}/~/(?:mha|self_attention)_layer_norm$", r"model.encoder.layer.\1.attention.layer_norm"),
    (rf"{LAYER}/~/(?:mha|self_attention)/(query|key|value)$", r"model.encoder.layer.\1.attention.self.\2"),
    (rf"{LAYER}/~/(?:mha|self_attention)/mha_output$", r"model.encoder.layer.\1.attention.output.dense"),
    (rf"{LAYER}/~/final_layer_norm$", r"model.encoder.layer.\1.layer_norm"),
    (rf"{LAYER}/~/fc1$", r"model.encoder.layer.\1.intermediate.dense"),
    (rf"{LAYER}/~/fc2$", r"model.encoder.layer.\1.output.dense"),
    (r"esm_transformer/~/(?:esm_)?roberta_lm_head/~/emb_layer_norm_after$", "model.encoder.layer_norm"),
    (r"esm_transformer/~/(?:esm_)?roberta_lm_head/~/lm_head_fc_1$", "lm_head.transform.dense"),
    (r"esm_transformer/~/(?:esm_)?roberta_lm_head/~/lm_head_layer_norm$", "lm_head.transform.layer_norm"),
    (r"esm_transformer/~/(?:esm_)?roberta_lm_head/~/lm_final_fc$", "lm_head.decoder"),
]
# Haiku parameter -> ours; Linear `w` is [in, out] and is transposed.
JAX_PARAMS = {"w": "weight", "b": "bias", "scale": "weight", "offset": "bias", "embeddings": "weight"}
# jax.nn.gelu is the tanh approximation unless the original asks for "gelu-no-approx".
JAX_ACTIVATIONS = {"swish": "silu", "silu": "silu", "gelu": "gelu_pytorch_tanh", "gelu-no-approx": "gelu"}
JAX_LAYER_NORM_EPS = 1e-5


def is_original_config(config: dict) -> bool:
    """Whether a parsed `config.json` is a Nucleotide Transformer's: InstaDeep's ESM remote code (v2, no
    `model_type`) or native transformers ESM (`model_type: "esm"`, v1)."""
    model_type = config.get("model_type")
    return model_type == "esm" or (model_type is None and is_remote_code(config))


def is_remote_code(config: dict) -> bool:
    return "add_bias_fnn" in config or "esm" in str(config.get("auto_map", ""))


def detect(path: Path) -> bool:
    """Whether `path` holds an original Nucleotide Transformer: an ESM `config.json` (PyTorch layout), or
    `hyperparams.json` / `pytree_ckpt.joblib` in it or in its `jax_model/` (JAX layout).

    Example:
        >>> detect(Path("no/such/directory"))
        False
    """
    if (path / "config.json").is_file():
        return is_original_config(read_json_if_present(path / "config.json"))
    return any(
        (directory / name).is_file()
        for directory in (path, path / "jax_model")
        for name in ("hyperparams.json", "pytree_ckpt.joblib")
    )


def convert_config(original: dict) -> NucleotideTransformerConfig:
    """A PyTorch `config.json` (parsed): InstaDeep's ESM remote code (v2) or native transformers ESM (v1)."""
    remote_code = is_remote_code(original)
    if not is_original_config(original):
        raise ConversionError(
            f"not a Nucleotide Transformer config (model_type={original.get('model_type')!r}, "
            f"auto_map={original.get('auto_map')}): expected InstaDeep's ESM remote code or model_type 'esm'"
        )
    try:
        return NucleotideTransformerConfig(
            vocab_size=original["vocab_size"],
            hidden_size=original["hidden_size"],
            num_hidden_layers=original["num_hidden_layers"],
            num_attention_heads=original["num_attention_heads"],
            intermediate_size=original["intermediate_size"],
            # The remote code's feed-forward is always gated SiLU; native ESM's is exact GELU with biases.
            hidden_act="silu" if remote_code else "gelu",
            use_glu=remote_code,
            add_bias_fnn=original.get("add_bias_fnn", True) if remote_code else True,
            hidden_dropout=original.get("hidden_dropout_prob", 0.0),
            attention_dropout=original.get("attention_probs_dropout_prob", 0.0),
            max_position_embeddings=original.get("max_position_embeddings", 1026),
            position_embedding_type=original.get("position_embedding_type", "absolute"),
            emb_layer_norm_before=bool(original.get("emb_layer_norm_before")),
            token_dropout=bool(original.get("token_dropout")),
            layer_norm_eps=original.get("layer_norm_eps", 1e-12),
            initializer_range=original.get("initializer_range", 0.02),
            pad_token_id=original.get("pad_token_id", 1),
            mask_token_id=original.get("mask_token_id", 2),
            tie_word_embeddings=original.get("tie_word_embeddings", True),
            architectures=["NucleotideTransformerForPreTraining"],
        )
    except (KeyError, ValueError) as error:
        raise ConversionError(f"cannot read the config: {error!r}") from error


def legacy_name(name: str) -> str:
    """`name` with transformers' legacy LayerNorm `gamma` / `beta` spelled `weight` / `bias`."""
    for pattern, replacement in LEGACY_NAMES:
        name = re.sub(pattern, replacement, name)
    return name


def is_unused(name: str, config: NucleotideTransformerConfig) -> bool:
    """Whether the original tensor `name` is one the originals store but never use (dropped, not an error)."""
    unused = UNUSED + ([UNUSED_WITH_ROTARY] if config.position_embedding_type == "rotary" else [])
    return any(re.search(pattern, name) for pattern in unused)


def convert_state_dict(
    original: dict[str, torch.Tensor], config: NucleotideTransformerConfig
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """ESM-layout state dict -> ours and the names of the unused tensors dropped. Unknown keys raise."""
    converted, dropped, unknown = {}, [], []
    for name, tensor in original.items():
        name = legacy_name(name)
        if is_unused(name, config):
            dropped.append(name)
        elif (new_name := rename(name, RENAMES)) is None:
            unknown.append(name)
        else:
            converted[new_name] = tensor
    require_known(unknown)
    return converted, sorted(dropped)


def read_config(original: dict, checkpoint: Checkpoint) -> NucleotideTransformerConfig:
    """Our config for an original `config.json` (parsed), with the token bases (and lengths) of the `vocab.txt`
    beside it in `checkpoint` (the standard vocabulary's without one)."""
    config = convert_config(original)
    tokenizer = checkpoint.original_tokenizer(NucleotideTransformerTokenizer)
    if tokenizer is not None:
        config.token_lengths, config.token_bases = tokenizer.token_lengths, tokenizer.token_bases
    return config


# The published remote code of the v2 repositories (InstaDeepAI/nucleotide-transformer-v2-*): sha256 -> file, as
# recorded with the fixture made by it (../shared/fixtures/nucleotide_transformer/nt_v2_tiny_a/reference.json,
# original_code_sha256). transformers' Auto classes load a checkpoint natively only if every remote-code file it
# carries is one of these (see `models.remote_code`).
REMOTE_CODE = {
    "a44e859baa08465ecdcd76b0a73f6e4fe011245a212931c403de1149ae9613ec": "nucleotide-transformer-v2 esm_config.py",
    "f2b003f45d2fa4f94e92d8bbef927b719dfdd7ab7c7a95743daa2b10ab140cb3": "nucleotide-transformer-v2 modeling_esm.py",
}

# What `from_pretrained` needs to load an original directory or Hub repository (PyTorch layout) as it is.
ORIGINAL_LAYOUT = OriginalLayout(
    name="Nucleotide Transformer (InstaDeep ESM layout)",
    model_type=NucleotideTransformerConfig.model_type,
    matches=is_original_config,
    convert_config=read_config,
    rename=lambda name, config: rename(legacy_name(name), RENAMES),
    unused=lambda name, config: is_unused(legacy_name(name), config),
    fit_tokenizer=lambda tokenizer, config: fit_max_length(tokenizer, config),
    remote_code=REMOTE_CODE,
)


def convert_jax_config(hyperparams: dict, tokenizer: NucleotideTransformerTokenizer) -> NucleotideTransformerConfig:
    """`hyperparams.json` (parsed) of the JAX original -> our config, keeping its LayerNorm eps of 1e-5."""
    problems = []
    if not hyperparams.get("use_rotary_embedding") or hyperparams.get("positional_embedding") is not None:
        problems.append("only rotary positions (v2) are supported from JAX")
    if hyperparams.get("embed_scale", 1.0) != 1.0:
        problems.append(f"embed_scale {hyperparams['embed_scale']} is not 1")
    if hyperparams.get("add_bias_kv"):
        problems.append("add_bias_kv is not supported")
    if hyperparams.get("token_dropout"):
        problems.append("token_dropout is not supported from JAX")
    if hyperparams.get("ffn_activation_name", "gelu") not in JAX_ACTIVATIONS:
        problems.append(f"unknown ffn_activation_name {hyperparams['ffn_activation_name']!r}")
    heads, width = hyperparams.get("attention_heads", 1), hyperparams.get("embed_dim", 0)
    if hyperparams.get("key_dim") not in (None, width // heads):
        problems.append(f"key_dim {hyperparams['key_dim']} differs from embed_dim / attention_heads")
    if problems:
        raise ConversionError("unsupported JAX checkpoint: " + "; ".join(problems))
    try:
        return NucleotideTransformerConfig(
            vocab_size=len(tokenizer),
            hidden_size=width,
            num_hidden_layers=hyperparams["num_layers"],
            num_attention_heads=heads,
            intermediate_size=hyperparams["ffn_embed_dim"],
            hidden_act=JAX_ACTIVATIONS[hyperparams.get("ffn_activation_name", "gelu")],
            use_glu=hyperparams.get("use_glu_in_ffn", False),
            add_bias_fnn=hyperparams.get("add_bias_ffn", True),
            max_position_embeddings=hyperparams.get("max_positions", 1000) + 2,
            emb_layer_norm_before=hyperparams.get("emb_layer_norm_before", False),
            layer_norm_eps=JAX_LAYER_NORM_EPS,
            token_bases=tokenizer.token_bases,
            architectures=["NucleotideTransformerForPreTraining"],
        )
    except (KeyError, ValueError) as error:
        raise ConversionError(f"cannot read hyperparams.json: {error!r}") from error


def convert_jax_state_dict(original: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Flattened Haiku parameters (`module/param`) -> our state dict. Unknown names raise."""
    converted, unknown = {}, []
    for name, tensor in original.items():
        module, _, param = name.rpartition("/")
        new_module = rename(module, JAX_MODULES)
        if new_module is None or param not in JAX_PARAMS:
            unknown.append(name)
            continue
        new_name = f"{new_module}.{JAX_PARAMS[param]}"
        new_name = new_name.replace("lm_head.decoder.bias", "lm_head.bias")  # the LM head's bias is apart
        converted[new_name] = tensor.T if param == "w" else tensor
    require_known(unknown, "JAX parameters")
    return converted


def find_layout(checkpoint_path: Path) -> tuple[str, Path]:
    """`("pytorch", dir)` when `config.json` is there, else `("jax", dir)` for `dir` or `dir/jax_model`."""
    if not checkpoint_path.is_dir():
        raise ConversionError(f"checkpoint path is not a directory: {checkpoint_path}")
    if (checkpoint_path / "config.json").is_file():
        return "pytorch", checkpoint_path
    for directory in (checkpoint_path, checkpoint_path / "jax_model"):
        if (directory / "hyperparams.json").is_file() or (directory / "pytree_ckpt.joblib").is_file():
            return "jax", directory
    raise ConversionError(
        f"{checkpoint_path} holds neither config.json (PyTorch layout) nor hyperparams.json and "
        "pytree_ckpt.joblib (JAX layout, here or in jax_model/)"
    )


Original = tuple[NucleotideTransformerConfig, NucleotideTransformerTokenizer, dict[str, torch.Tensor], list[str]]


def read_pytorch(checkpoint_path: Path) -> Original:
    """Config, tokenizer, converted state dict and dropped tensor names of a PyTorch-layout directory."""
    config = convert_config(read_json(checkpoint_path / "config.json"))
    vocab_path = checkpoint_path / "vocab.txt"
    if not vocab_path.is_file():
        raise ConversionError(f"missing file: {vocab_path}")
    try:
        tokenizer = NucleotideTransformerTokenizer.from_vocab(vocab_path)
    except ValueError as error:
        raise ConversionError(f"{vocab_path}: {error}") from error
    config.token_lengths = tokenizer.token_lengths
    config.token_bases = tokenizer.token_bases
    state_dict, dropped = convert_state_dict(load_state_dict(checkpoint_path), config)
    return config, tokenizer, state_dict, dropped


def fit_max_length(tokenizer: NucleotideTransformerTokenizer, config: NucleotideTransformerConfig) -> None:
    """Cap `model_max_length` where learned positions (v1) end; they start at `pad_token_id + 1`."""
    if config.position_embedding_type == "absolute":
        tokenizer.model_max_length = min(MODEL_MAX_LENGTH, config.max_position_embeddings - config.pad_token_id - 1)


def read_jax(jax_path: Path) -> Original:
    """Config, tokenizer, converted state dict and (no) dropped tensor names of a `jax_model/` directory."""
    hyperparams = read_json(jax_path / "hyperparams.json")
    tokenizer = NucleotideTransformerTokenizer.from_vocabulary(standard_vocabulary(hyperparams.get("k_for_kmers", 6)))
    config = convert_jax_config(hyperparams, tokenizer)
    return config, tokenizer, convert_jax_state_dict(load_haiku_joblib(jax_path / "pytree_ckpt.joblib")), []


def convert_checkpoint(checkpoint_path: str | os.PathLike, output_path: str | os.PathLike) -> ConversionReport:
    """Convert the original checkpoint directory `checkpoint_path` into a loadable directory `output_path`."""
    layout, source = find_layout(Path(checkpoint_path))
    config, tokenizer, state_dict, dropped = (read_pytorch if layout == "pytorch" else read_jax)(source)
    for name, token in (("pad_token_id", "<pad>"), ("mask_token_id", "<mask>")):
        if getattr(config, name) != tokenizer.convert_tokens_to_ids(token):
            raise ConversionError(f"config {name}={getattr(config, name)} but {token} has another id in the vocabulary")

    fit_max_length(tokenizer, config)
    model = NucleotideTransformerForPreTraining(config)
    save_converted(model, tokenizer, state_dict, output_path, "Nucleotide Transformer", str(checkpoint_path), USAGE)
    return ConversionReport(Path(output_path), NucleotideTransformerConfig.model_type, layout, dropped)


USAGE = """```python
import multimolecule  # registers the models with transformers
from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

tokenizer = AutoTokenizer.from_pretrained("THIS_DIRECTORY")
model = AutoModelForMaskedLM.from_pretrained("THIS_DIRECTORY")
inputs = tokenizer(["ATTCCGATTCCGATTCCG", "ATTTCTCTCTCTCTCTGAGATCGATCGATCGAT"], padding=True, return_tensors="pt")
output = model(**inputs, output_hidden_states=True)
embeddings = output.hidden_states[-1]  # after the final LayerNorm, as in the original

predictor = pipeline("fill-mask", model="THIS_DIRECTORY")
predictor("ACCTGA<mask>TTCTGAGTC")
```

Notes:
- The tokenizer cuts non-overlapping 6-mers, single bases where six A/C/G/T do not follow; it upper-cases its
  input. `<cls>` comes first, no `<eos>` is appended. `model_max_length` is 1000 tokens, the training length.
- `attention_mask` may be omitted: it is derived from `<pad>`. `encoder_attention_mask` is accepted (the
  original model card passes it) and must equal `attention_mask`.
- `hidden_states` holds `num_hidden_layers + 1` tensors; the last one is after the final LayerNorm."""


def main(argv: list[str] | None = None) -> None:
    converter_main(convert_checkpoint, argv)


if __name__ == "__main__":
    main()
