"""Configuration of DNABERT-2."""

from __future__ import annotations

from transformers import PretrainedConfig


class DnaBert2Config(PretrainedConfig):
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
        head_pooling: How `DnaBert2ForSequencePrediction` pools a sequence: `"cls"` or `"mean"` (over real tokens).
        classifier_dropout: Dropout of the prediction heads; `hidden_dropout` when unset.
        contact_head_dim: Width of the bilinear form of the contact head, per label.
        token_lengths: Bases covered by each token id (0 for special tokens), used by the base-resolution
            token and contact heads; the converter fills it from the tokenizer.
        tie_word_embeddings: Whether the MLM decoder shares the word embeddings (it does in DNABERT-2).

    Example:
        >>> from multimolecule import DnaBert2Config, DnaBert2Model
        >>> config = DnaBert2Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
        >>> model = DnaBert2Model(config)
        >>> config.pad_token_id, config.mask_token_id
        (3, 4)
    """

    model_type = "dnabert2"

    def __init__(
        self,
        vocab_size: int = 4096,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout: float = 0.1,
        attention_dropout: float = 0.0,
        type_vocab_size: int = 2,
        layer_norm_eps: float = 1e-12,
        initializer_range: float = 0.02,
        position_embedding_type: str = "alibi",
        alibi_starting_size: int = 512,
        head_pooling: str = "cls",
        classifier_dropout: float | None = None,
        contact_head_dim: int = 64,
        token_lengths: list[int] | None = None,
        unk_token_id: int = 0,
        bos_token_id: int = 1,
        eos_token_id: int = 2,
        pad_token_id: int = 3,
        mask_token_id: int = 4,
        tie_word_embeddings: bool = True,
        **kwargs,
    ):
        if position_embedding_type != "alibi":
            raise ValueError(f"DNABERT-2 uses ALiBi positions, got position_embedding_type={position_embedding_type!r}")
        super().__init__(
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            pad_token_id=pad_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout = hidden_dropout
        self.attention_dropout = attention_dropout
        self.type_vocab_size = type_vocab_size
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.position_embedding_type = position_embedding_type
        self.alibi_starting_size = alibi_starting_size
        self.head_pooling = head_pooling
        self.classifier_dropout = classifier_dropout
        self.contact_head_dim = contact_head_dim
        self.token_lengths = token_lengths
        self.unk_token_id = unk_token_id
        self.mask_token_id = mask_token_id
