"""The configuration of the Nucleotide Transformer v3 (NTv3): a U-Net over single bases."""

from __future__ import annotations

import numpy as np

from ..configuration_utils import MultiMoleculeConfig

VOCAB_SIZE = 11  # <unk> <pad> <mask> <cls> <eos> <bos> A T C G N
# Species-table ids below the first species: the six special tokens, as in the original's `species_to_token_id`.
NUM_SPECIES_SPECIAL_TOKENS = 6


class NucleotideTransformerV3Config(MultiMoleculeConfig):
    r"""The configuration of an NTv3 model, pre-trained or post-trained; the defaults are the published 8M model.

    The model reads one token per base, embeds it (`token_embed_dim`), widens it with a convolutional stem
    (`hidden_size`), halves the length `num_downsamples` times in a convolutional down tower while the width grows
    linearly to `embed_dim`, runs `num_hidden_layers` rotary transformer layers at 1/2^`num_downsamples` of the
    length, and comes back to every base with an up tower whose levels add the mirrored down level (skip
    connections). Its output, one `hidden_size`-wide vector per base, is what the heads read.

    A post-trained model (`species` not empty) is conditioned on a species: each LayerNorm of the towers and the
    transformer is followed by a species-dependent scale and shift (FiLM), each residual branch is scaled by
    `1 + gate(species)`, and its heads predict functional tracks (bigwig, per species) and genome annotations (BED)
    on the central `keep_target_center_fraction` of the input.

    Args:
        vocab_size: Token ids: six special tokens and `A T C G N`.
        hidden_size: Width of the stem and of the output at base resolution (the original's `conv_init_embed_dim`).
        embed_dim: Width at the bottom of the towers and of the transformer (`attention_heads × key_size`).
        token_embed_dim: Width of the token embeddings and of the species embedding.
        num_downsamples: Levels of the down and up towers; inputs are processed in lengths that are multiples of
            2^num_downsamples (padded with `N` and cropped back).
        num_hidden_layers: Transformer layers.
        num_attention_heads: Attention heads.
        head_dim: Width of each head (the original's `key_size`).
        intermediate_size: Width of the gated feed-forward layer (its input projection is twice as wide).
        layer_norm_eps: Epsilon of the transformer's LayerNorms (the towers' are 1e-5, as in the original).
        use_skip_connection: Whether each up level adds the mirrored down level.
        species: Names of the species a post-trained model is conditioned on, in the order of their ids (the first
            has species id `NUM_SPECIES_SPECIAL_TOKENS`); empty for a pre-trained model.
        bigwig_tracks: The functional tracks each species' head predicts, by species.
        bed_elements: The genome annotations the BED head predicts (each as two logits: absent, present).
        keep_target_center_fraction: The central fraction of the input the track heads predict for.
        tower_chunk_size: Positions per chunk in the convolutional towers: a longer level is computed chunk by chunk
            (each chunk with the neighbours its convolution reads), which bounds the working memory of long inputs
            (a megabase) without changing the result.

    Example:
        >>> import torch
        >>> from multimolecule import NucleotideTransformerV3Config, NucleotideTransformerV3Model
        >>> config = NucleotideTransformerV3Config(hidden_size=16, embed_dim=32, num_downsamples=2,
        ...                                        num_hidden_layers=1, num_attention_heads=4, head_dim=8)
        >>> config.channels
        [16, 24, 32]
        >>> NucleotideTransformerV3Model(config)(torch.tensor([[6, 7, 8, 9, 10]])).last_hidden_state.shape
        torch.Size([1, 5, 16])
    """

    model_type = "nucleotide_transformer_v3"

    vocab_size: int = VOCAB_SIZE
    hidden_size: int = 256
    embed_dim: int = 256
    token_embed_dim: int = 16
    num_downsamples: int = 7
    num_hidden_layers: int = 2
    num_attention_heads: int = 8
    head_dim: int = 32
    intermediate_size: int = 1024
    hidden_act: str = "gelu_pytorch_tanh"
    layer_norm_eps: float = 1e-5
    use_skip_connection: bool = True
    species: list[str] | None = None
    bigwig_tracks: dict[str, list[str]] | None = None
    bed_elements: list[str] | None = None
    keep_target_center_fraction: float = 0.375
    tower_chunk_size: int = 32768
    head_pooling: str = "mean"
    unk_token_id: int | None = 0
    pad_token_id: int | None = 1
    mask_token_id: int | None = 2
    cls_token_id: int | None = 3
    eos_token_id: int | None = 4
    bos_token_id: int | None = 5
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        if self.num_attention_heads * self.head_dim != self.embed_dim:
            raise ValueError(
                f"num_attention_heads × head_dim ({self.num_attention_heads} × {self.head_dim}) must equal "
                f"embed_dim ({self.embed_dim})"
            )
        if self.num_downsamples < 0:
            raise ValueError(f"num_downsamples must be at least 0, got {self.num_downsamples}")
        if self.species and self.hidden_size != self.embed_dim:
            raise ValueError("a post-trained model needs hidden_size == embed_dim (its heads read both widths)")
        if self.tower_chunk_size < 1:
            raise ValueError(f"tower_chunk_size must be at least 1, got {self.tower_chunk_size}")
        if not 0 < self.keep_target_center_fraction <= 1:
            raise ValueError(f"keep_target_center_fraction must be in (0, 1], got {self.keep_target_center_fraction}")
        if self.token_bases is None and self.vocab_size == VOCAB_SIZE:
            self.token_bases = ["N", "", "N", "", "", "", "A", "T", "C", "G", "N"]
        super().__post_init__(**kwargs)

    @property
    def channels(self) -> list[int]:
        """Widths of the tower levels, from the stem (`hidden_size`) to the bottom (`embed_dim`), as the original
        computes them (a linear ramp, truncated)."""
        ramp = np.linspace(self.hidden_size, self.embed_dim, self.num_downsamples + 1)
        return [int(width) for width in ramp.astype(int)]

    @property
    def block_size(self) -> int:
        """Bases per position at the bottom of the towers: inputs are processed in multiples of it."""
        return 2**self.num_downsamples

    @property
    def num_species(self) -> int:
        return len(self.species or [])

    def species_id(self, name: str) -> int:
        """The `species_ids` value of species `name`: its index in `species`, after the six special tokens.

        Example:
            >>> NucleotideTransformerV3Config(species=["human", "mouse"]).species_id("mouse")
            7
        """
        return NUM_SPECIES_SPECIAL_TOKENS + self.species.index(name)
