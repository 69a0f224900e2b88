"""The base configuration of every multimolecule model: encoder shape, special token ids, prediction heads.

Configs are transformers 5 dataclass configs: a model's config subclasses `MultiMoleculeConfig`, declares its
own fields and re-declares the defaults it changes.
"""

from __future__ import annotations

import os

from transformers import PretrainedConfig

from ..modules.packing import DEFAULT_QUERY_CHUNK_SIZE
from . import loading_utils

# What transformers' `get_config_dict` takes for itself (where and how to read `config.json`), not config values.
TRANSFORMERS_CONFIG_KWARGS = (
    *loading_utils.DOWNLOAD_KWARGS,
    "trust_remote_code",
    "_from_pipeline",
    "_from_auto",
    "_configuration_file",
)


class MultiMoleculeConfig(PretrainedConfig):
    r"""What every multimolecule model configures; the defaults are a BERT-base-sized encoder.

    Args:
        vocab_size: Number of token ids.
        hidden_size: Width of the embeddings and of every layer.
        num_hidden_layers: Number of transformer layers.
        num_attention_heads: Attention heads per layer.
        intermediate_size: Width of the feed-forward layer (with a gated one, its input projection is twice as wide).
        hidden_act: Activation of the feed-forward layer.
        hidden_dropout: Dropout on sub-layer outputs.
        attention_dropout: Dropout on attention weights.
        layer_norm_eps: Epsilon of every LayerNorm.
        initializer_range: Standard deviation of the initial weights.
        query_chunk_size: Query rows per attention block on packed batches with the kernels that run sequence by
            sequence (sdpa on CPU): the scores (and ALiBi bias) of a block are (heads, rows, length), so attention
            memory grows linearly with the length. Every token still attends to its whole sequence.
        head_pooling: How the sequence-prediction model pools a sequence: `"cls"` or `"mean"` (over real tokens).
        classifier_dropout: Dropout of the prediction heads; `hidden_dropout` when unset.
        contact_head_dim: Width of the bilinear form of the contact head, per label.
        sparse_prediction: Whether the masked-LM model, given `labels`, runs its head only at the labelled
            (masked) positions, as the original DNABERT-2 pre-training does: `logits` are then
            (labelled positions, vocab_size) instead of (batch, length, vocab_size). The name and behaviour are
            ModernBERT's. Off by default.
        token_lengths: Bases covered by each token id (0 for tokens that cover none), used by the base-resolution
            token and contact heads; the converters fill it from the tokenizer. Derived from `token_bases` when
            only that is given.
        token_bases: The bases each token id spells (`""` for special tokens, `"N"` for `<unk>` and `<mask>`),
            which the base-resolution heads read each base's nucleotide from; the converters fill it from the
            tokenizer (`tokenizer.token_bases`).
        unk_token_id: Id of the unknown token.
        pad_token_id: Id of the padding token.
        mask_token_id: Id of the mask token.
        cls_token_id: Id of the token that starts a sequence.
        eos_token_id: Id of the token that ends a sequence.
        bos_token_id: Id of the beginning-of-sequence token.
        tie_word_embeddings: Whether the masked-LM decoder shares the word embeddings.

    Example:
        >>> from multimolecule.models.configuration_utils import MultiMoleculeConfig
        >>> config = MultiMoleculeConfig(hidden_size=64, query_chunk_size=256)
        >>> config.query_chunk_size, config.head_pooling, config.mask_token_id
        (256, 'cls', None)
    """

    vocab_size: int = 4096
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout: float | int = 0.0
    attention_dropout: float | int = 0.0
    layer_norm_eps: float = 1e-12
    initializer_range: float = 0.02
    query_chunk_size: int = DEFAULT_QUERY_CHUNK_SIZE
    head_pooling: str = "cls"
    classifier_dropout: float | int | None = None
    contact_head_dim: int = 64
    sparse_prediction: bool = False
    token_lengths: list[int] | None = None
    token_bases: list[str] | None = None
    unk_token_id: int | None = None
    pad_token_id: int | None = None
    mask_token_id: int | None = None
    cls_token_id: int | None = None
    eos_token_id: int | None = None
    bos_token_id: int | None = None
    tie_word_embeddings: bool = True
    # Trainer.predict and evaluate return only the logits; `base_mask` is implied by labels of -100
    keys_to_ignore_at_inference = ["base_mask"]

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs):
        """transformers' `from_pretrained`, which also takes a bundled demo name, a `Checkpoint` already resolved, and
        an original `config.json` (converted: see `multimolecule.models.loading_utils`). The config remembers the
        `Checkpoint` it was read from (`config.checkpoint`, never saved), so that the model loading it maps the
        original's weights without reading anything again."""
        if os.path.isfile(str(pretrained_model_name_or_path)):
            return super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        checkpoint = loading_utils.Checkpoint.resolve(pretrained_model_name_or_path, kwargs)
        output = super().from_pretrained(checkpoint, **kwargs)
        config = output[0] if isinstance(output, tuple) else output
        config.checkpoint = checkpoint
        return output

    @classmethod
    def get_config_dict(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> tuple[dict, dict]:
        """transformers' `get_config_dict`, which also takes a `Checkpoint` (its `config.json` as this class reads it:
        an original converted) and a bundled demo name."""
        if isinstance(pretrained_model_name_or_path, loading_utils.Checkpoint):
            unused = {key: value for key, value in kwargs.items() if key not in TRANSFORMERS_CONFIG_KWARGS}
            return pretrained_model_name_or_path.config_for(cls.model_type), unused
        if os.path.isfile(str(pretrained_model_name_or_path)):
            return super().get_config_dict(pretrained_model_name_or_path, **kwargs)
        checkpoint = loading_utils.Checkpoint.resolve(pretrained_model_name_or_path, kwargs)
        return cls.get_config_dict(checkpoint, **kwargs)

    def to_dict(self) -> dict:
        """transformers' `to_dict`, without the `Checkpoint` the config was read from (a fact of this process)."""
        output = super().to_dict()
        output.pop("checkpoint", None)
        return output

    def __post_init__(self, **kwargs):
        if self.query_chunk_size < 1:
            raise ValueError(f"query_chunk_size must be at least 1, got {self.query_chunk_size}")
        if self.head_pooling not in ("cls", "mean"):
            raise ValueError(f"head_pooling must be 'cls' or 'mean', got {self.head_pooling!r}")
        if self.token_lengths is None and self.token_bases is not None:
            self.token_lengths = [len(bases) for bases in self.token_bases]
        super().__post_init__(**kwargs)

    def fit_token_bases(self, vocab_size: int) -> None:
        """Give `token_bases` and `token_lengths` one entry per token id of a vocabulary resized to `vocab_size`:
        kept ids keep theirs, new ids spell no base (as special tokens do) until they are set from the tokenizer.

        Example:
            >>> config = MultiMoleculeConfig(vocab_size=3, token_bases=["", "ACG", "T"])
            >>> config.fit_token_bases(5)
            >>> config.token_bases, config.token_lengths
            (['', 'ACG', 'T', '', ''], [0, 3, 1, 0, 0])
        """
        if self.token_bases is not None:
            self.token_bases = (list(self.token_bases) + [""] * vocab_size)[:vocab_size]
        if self.token_lengths is not None:
            self.token_lengths = (list(self.token_lengths) + [0] * vocab_size)[:vocab_size]
