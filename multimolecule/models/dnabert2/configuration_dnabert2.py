"""Configuration of DNABERT-2."""

from __future__ import annotations

from ..configuration_utils import MultiMoleculeConfig


class DnaBert2Config(MultiMoleculeConfig):
    r"""Configuration of a DNABERT-2 model; the defaults are those of DNABERT-2-117M.

    Args:
        vocab_size: Number of token ids.
        hidden_size: Width of the embeddings and of every layer.
        num_hidden_layers: Number of transformer layers.
        num_attention_heads: Attention heads per layer.
        intermediate_size: Width of the gated feed-forward layer (its input projection is twice as wide).
        hidden_act: Activation of the gated feed-forward layer; DNABERT-2 uses exact (erf) GELU.
        hidden_dropout: Dropout on embeddings and sub-layer outputs.
        attention_dropout: Dropout on attention weights.
        type_vocab_size: Number of token type ids.
        layer_norm_eps: Epsilon of every LayerNorm.
        initializer_range: Standard deviation of the initial weights.
        position_embedding_type: Always `"alibi"`: positions enter as a per-head linear attention bias, so
            any length works.
        alibi_starting_size: Length the original pre-computed its ALiBi bias for; kept for compatibility, unused.
        query_chunk_size: Query rows per attention block on packed batches (memory linear in the length).
        head_pooling: How `DnaBert2ForSequencePrediction` pools a sequence: `"cls"` or `"mean"` (over real tokens).
        embedding_pooling: How `multimolecule embed` pools a sequence when not told: `"mean-all"` (every real
            token, `<cls>` and `<eos>` included) for DNABERT-S, whose published embedding it is; None: `embed`'s
            own default (`"mean"`).
        classifier_dropout: Dropout of the prediction heads; `hidden_dropout` when unset.
        contact_head_dim: Width of the bilinear form of the contact head, per label.
        token_lengths: Bases covered by each token id (0 for special tokens), used by the base-resolution
            token and contact heads; the converter fills it from the tokenizer. Derived from `token_bases` when
            only that is given.
        token_bases: The bases each token id spells (`""` for special tokens, `"N"` for `<unk>` and `<mask>`),
            which the base-resolution heads read each base's nucleotide from; the converter fills it from the
            tokenizer (`tokenizer.token_bases`).
        unk_token_id: Id of `<unk>`.
        cls_token_id: Id of `<cls>`.
        bos_token_id: Id of `<cls>` too.
        eos_token_id: Id of `<eos>`.
        pad_token_id: Id of `<pad>`.
        mask_token_id: Id of `<mask>`.
        tie_word_embeddings: Whether the MLM decoder shares the word embeddings (it does in DNABERT-2).

    Example:
        >>> from multimolecule import DnaBert2Config, DnaBert2Model
        >>> config = DnaBert2Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
        >>> model = DnaBert2Model(config)
        >>> config.pad_token_id, config.mask_token_id
        (3, 4)
    """

    model_type = "dnabert2"

    hidden_dropout: float | int = 0.1
    type_vocab_size: int = 2
    position_embedding_type: str = "alibi"
    alibi_starting_size: int = 512
    embedding_pooling: str | None = None
    unk_token_id: int | None = 0
    cls_token_id: int | None = 1
    bos_token_id: int | None = 1
    eos_token_id: int | None = 2
    pad_token_id: int | None = 3
    mask_token_id: int | None = 4

    def __post_init__(self, **kwargs):
        if self.position_embedding_type != "alibi":
            raise ValueError(
                f"DNABERT-2 uses ALiBi positions, got position_embedding_type={self.position_embedding_type!r}"
            )
        super().__post_init__(**kwargs)
