"""Configuration of the Nucleotide Transformer (v1 and v2)."""

from __future__ import annotations

from ..configuration_utils import MultiMoleculeConfig
from .tokenization_nucleotide_transformer import MODEL_MAX_LENGTH, STANDARD_VOCAB_SIZE, standard_token_bases


class NucleotideTransformerConfig(MultiMoleculeConfig):
    r"""Configuration of a Nucleotide Transformer; the defaults are nucleotide-transformer-v2-100m-multi-species.

    Both generations are pre-LayerNorm ESM-style encoders with a final LayerNorm:
    - v2 (the defaults): rotary positions, a gated feed-forward layer `output.dense(silu(x1) * x2)` where
      `x1, x2 = intermediate.dense(x).chunk(2)` (the FIRST half goes through SiLU), biases only if `add_bias_fnn`.
    - v1: learned absolute position embeddings as ESM indexes them (positions start at `pad_token_id + 1`,
      padding keeps position `pad_token_id`), a GELU feed-forward layer with biases:
      `position_embedding_type="absolute", hidden_act="gelu", use_glu=False, add_bias_fnn=True`.

    Args:
        vocab_size: Number of token ids.
        hidden_size: Width of the embeddings and of every layer.
        num_hidden_layers: Number of transformer layers.
        num_attention_heads: Attention heads per layer.
        intermediate_size: Width of the feed-forward layer (with `use_glu`, its input projection is twice as wide).
        hidden_act: Activation of the feed-forward layer: `"silu"` in v2, exact `"gelu"` in v1.
        use_glu: Whether the feed-forward layer is gated (v2) or a plain two-layer MLP (v1).
        add_bias_fnn: Whether the feed-forward projections have biases (the original's spelling).
        hidden_dropout: Dropout on sub-layer outputs.
        attention_dropout: Dropout on attention weights.
        max_position_embeddings: Rows of the learned position table (v1); unused by rotary positions.
        trained_length: Tokens per sequence in pre-training (1000); longer inputs run with a warning.
        position_embedding_type: `"rotary"` (v2) or `"absolute"` (v1).
        emb_layer_norm_before: Whether a LayerNorm follows the embeddings (False in every published NT).
        token_dropout: ESM's token dropout: zero `<mask>` embeddings and rescale by the masking ratio.
        layer_norm_eps: Epsilon of every LayerNorm: 1e-12 in the PyTorch checkpoints, 1e-5 in the JAX ones.
        initializer_range: Standard deviation of the initial weights.
        query_chunk_size: Query rows per attention block on packed batches (memory linear in the length).
        head_pooling: How `NucleotideTransformerForSequencePrediction` pools: `"cls"` or `"mean"` (over real tokens).
        classifier_dropout: Dropout of the prediction heads; `hidden_dropout` when unset.
        contact_head_dim: Width of the bilinear form of the contact head, per label.
        token_lengths: Bases covered by each token id, used by the base-resolution token and contact heads;
            derived from `token_bases` when only that is given, the standard vocabulary's when `vocab_size` is
            4107 and neither is given.
        token_bases: The bases each token id spells (`""` for special tokens, `"N"` for `<unk>` and `<mask>`),
            which the base-resolution heads read each base's nucleotide from; the standard vocabulary's when
            `vocab_size` is 4107 and neither this nor `token_lengths` is given.
        unk_token_id: Id of `<unk>` (the special token ids default to those of the standard vocabulary).
        pad_token_id: Id of `<pad>`.
        mask_token_id: Id of `<mask>`.
        cls_token_id: Id of `<cls>`.
        eos_token_id: Id of `<eos>`.
        bos_token_id: Id of `<bos>`.
        tie_word_embeddings: Whether the MLM decoder shares the word embeddings (not in v2).

    Example:
        >>> from multimolecule import NucleotideTransformerConfig, NucleotideTransformerModel
        >>> config = NucleotideTransformerConfig(
        ...     hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128
        ... )
        >>> model = NucleotideTransformerModel(config)
        >>> config.pad_token_id, config.mask_token_id, config.token_lengths[6]
        (1, 2, 6)
        >>> v1 = NucleotideTransformerConfig(position_embedding_type="absolute", hidden_act="gelu", use_glu=False,
        ...                                  add_bias_fnn=True, max_position_embeddings=1002)
    """

    model_type = "nucleotide_transformer"

    vocab_size: int = STANDARD_VOCAB_SIZE
    hidden_size: int = 512
    num_hidden_layers: int = 22
    num_attention_heads: int = 16
    intermediate_size: int = 2048
    hidden_act: str = "silu"
    use_glu: bool = True
    add_bias_fnn: bool = False
    max_position_embeddings: int = 2050
    trained_length: int = MODEL_MAX_LENGTH
    position_embedding_type: str = "rotary"
    emb_layer_norm_before: bool = False
    token_dropout: bool = False
    unk_token_id: int | None = 0
    pad_token_id: int | None = 1
    mask_token_id: int | None = 2
    cls_token_id: int | None = 3
    eos_token_id: int | None = 4
    bos_token_id: int | None = 5
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        if self.position_embedding_type not in ("rotary", "absolute"):
            raise ValueError(
                f"position_embedding_type must be 'rotary' or 'absolute', got {self.position_embedding_type!r}"
            )
        if self.token_lengths is None and self.token_bases is None and self.vocab_size == STANDARD_VOCAB_SIZE:
            self.token_bases = standard_token_bases()
        super().__post_init__(**kwargs)
