"""The Nucleotide Transformer v3 (NTv3): a U-Net over single bases, pre-trained or species-conditioned.

Shapes: B batch, L bases, P = L padded to a multiple of 2^D (D = `num_downsamples`), C_i the width of level i
(`config.channels`), E = `embed_dim`. Inside the towers tensors are channels-last, (B, length, C), and
transposed only around the convolutions.

    ids (B, L) --embed--> (B, P, token_embed_dim) --stem k15--> (B, P, C_0)
      down level i: x_i -> y_i = res(conv_k5(LN(x_i)))        (B, P/2^i, C_i+1); x_i+1 = avg_pool(y_i)
      transformer at (B, P/2^D, E): rotary self-attention and a gated (SiLU) feed-forward, pre-LayerNorm
      up level j: y = res(conv_k5(repeat2(LN(x)))) + x_D-1-j  (the input of the mirrored down level)
    -> (B, P, C_0) cropped to (B, L, C_0): one vector per base

Padding. The original needs P = L and computes on every position (it drops `attention_mask`). Here an input of
any length is padded with `N` (the original's documented recipe) to the next multiple of 2^D and the outputs are
cropped back, so an input without padding gives exactly the original's numbers on its `N`-padded form. Rows
shorter than the batch (`attention_mask` 0 at their end, or at their start: rows are aligned first) are padded
with `N` to their own multiple of 2^D; beyond it their positions are zeroed before every convolution and left out
of attention, so each row gives what it gives alone.

Memory. A megabase through the 650M size is 1,536 channels at 2^20 positions: one such tensor is 3 GiB in bf16.
The towers therefore compute each convolution `config.tower_chunk_size` positions at a time (LayerNorm, repeat,
mask, convolution and GELU of one chunk; each chunk reads the neighbours its convolution needs, so the result is
that of one pass), keep only the skip connections and the level at hand, add residual branches and skips in place
when autograd is not recording, and keep the levels' outputs only when `output_hidden_states` asks for them. The
transformer runs on 1/2^D of the length (8,192 positions for a megabase) through `scaled_dot_product_attention`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import MaskedLMOutput
from transformers.utils import ModelOutput, can_return_tuple

from ...modules import SequencePredictionMixin, TokenPredictionMixin
from ...modules.losses import labelled_mean
from ...modules.rotary import RotaryEmbedding, apply_rotary
from ..modeling_utils import MultiMoleculePreTrainedModel
from .configuration_ntv3 import NUM_SPECIES_SPECIAL_TOKENS, NucleotideTransformerV3Config

TOWER_LAYER_NORM_EPS = 1e-5  # hard-coded in the original's towers and heads
N_TOKEN_ID = 10


def gelu(x: torch.Tensor) -> torch.Tensor:
    """The tanh approximation of GELU, which the original uses everywhere."""
    return F.gelu(x, approximate="tanh")


@dataclass
class NucleotideTransformerV3ModelOutput(ModelOutput):
    """The backbone's outputs.

    Args:
        last_hidden_state: (B, L, hidden_size): the up tower's output, one vector per base, zero at padding.
        bottleneck_hidden_state: (B, P / 2^D, embed_dim): the transformer's output (the original's
            `after_transformer_embedding`).
        hidden_states: `2 D + num_hidden_layers` tensors, channels last, as the original returns them: each down
            level's output before pooling (B, P / 2^i, C_i+1), each transformer layer's output, each up level's
            output after the skip connection; the last is `last_hidden_state` before cropping.
        attentions: Each transformer layer's attention weights (B, heads, P / 2^D, P / 2^D).
    """

    last_hidden_state: torch.Tensor | None = None
    bottleneck_hidden_state: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class Ntv3LayerNorm(nn.LayerNorm):
    """LayerNorm over channels, in fp32, then (post-trained models) a species-dependent shift and scale:
    `LN(x) · (1 + scale) + shift`, `[shift, scale] = modulation(condition)`."""

    def __init__(self, width: int, eps: float, condition_dim: int | None = None):
        super().__init__(width, eps=eps)
        self.modulation = nn.Linear(condition_dim, 2 * width) if condition_dim else None

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        y = F.layer_norm(x.float(), self.normalized_shape, self.weight.float(), self.bias.float(), self.eps)
        y = y.to(x.dtype)  # (B, length, C)
        if self.modulation is not None:
            shift, scale = self.modulation(condition).unsqueeze(1).chunk(2, dim=-1)  # (B, 1, C) each
            y = y * (1 + scale) + shift
        return y


def conditioned(condition_dim: int | None, config: NucleotideTransformerV3Config) -> int | None:
    return config.token_embed_dim if config.num_species else condition_dim


def chunked_convolution(conv: nn.Module, read, length: int, chunk_size: int, scale: int = 1) -> torch.Tensor:
    """`gelu(conv(read(0, length)))`, (B, length, C_out), computed `chunk_size` output positions at a time.

    `read(low, high)` gives the convolution's input at positions [low, high), (B, high - low, C_in); `scale` is the
    number of positions per input position (2 when upsampling), so chunks start and end on whole input positions.
    Each chunk also reads the `kernel_size // 2` neighbours on each side that the convolution needs (its own zero
    padding then only matters at the true ends), so the result is that of one pass while the working memory is
    that of one chunk. An input of at most `chunk_size` positions is one pass, as it is.
    """
    halo = conv.kernel_size[0] // 2
    output = None
    for start in range(0, length, chunk_size):
        end = min(start + chunk_size, length)
        low, high = max(start - halo, 0), min(end + halo, length)
        low, high = low - low % scale, high + (-high) % scale  # whole input positions
        y = gelu(conv(read(low, high).transpose(1, 2)).transpose(1, 2))[:, start - low : end - low]
        if end - start == length:
            return y
        if output is None:
            output = y.new_empty(y.shape[0], length, y.shape[2])
        output[:, start:end] = y  # (B, length, C_out)
    return output


class Ntv3ConvBlock(nn.Module):
    """`gelu(conv(LN(x)))`; with `upsample`, LN(x) is repeated twice along the length before the convolution.
    Positions outside `mask` (None: every position is real) are zeroed before the convolution. Lengths above
    `config.tower_chunk_size` are computed in chunks (`chunked_convolution`)."""

    def __init__(self, config, in_width: int, out_width: int, kernel_size: int, transpose: bool = False):
        super().__init__()
        self.layer_norm = Ntv3LayerNorm(in_width, TOWER_LAYER_NORM_EPS, conditioned(None, config))
        conv_class = nn.ConvTranspose1d if transpose else nn.Conv1d  # the original's k=1 up residual is transposed
        self.conv = conv_class(in_width, out_width, kernel_size, padding=kernel_size // 2)
        self.config = config

    def forward(self, x, mask, condition, upsample: bool = False) -> torch.Tensor:
        scale = 2 if upsample else 1

        def read(low: int, high: int) -> torch.Tensor:  # the convolution's input at [low, high)
            y = self.layer_norm(x[:, low // scale : high // scale], condition)  # (B, (high - low) / scale, C_in)
            if upsample:
                y = y.repeat_interleave(2, dim=1)  # (B, high - low, C_in)
            return y if mask is None else torch.where(mask[:, low:high], y, 0)

        length = x.shape[1] * scale
        return chunked_convolution(self.conv, read, length, self.config.tower_chunk_size, scale)  # (B, length, C_out)


def recording_gradients() -> bool:
    """Whether autograd records the operations now; when it does not (inference), the towers add residual branches
    and skip connections in place, into tensors they have just made, instead of allocating new ones."""
    return torch.is_grad_enabled()


class Ntv3ResidualConvBlock(nn.Module):
    """`x + gate · gelu(conv_k1(LN(x)))`, with `gate = 1 + Linear(species)` in post-trained models, else 1; chunk by
    chunk (a k=1 convolution reads no neighbours), and into `x` itself in inference."""

    def __init__(self, config, width: int, transpose: bool = False):
        super().__init__()
        self.conv_block = Ntv3ConvBlock(config, width, width, 1, transpose=transpose)
        self.gate = nn.Linear(config.token_embed_dim, width) if config.num_species else None
        self.config = config

    def forward(self, x, mask, condition) -> torch.Tensor:
        output = torch.empty_like(x) if recording_gradients() else x  # (B, length, C)
        chunk_size = self.config.tower_chunk_size
        for start in range(0, x.shape[1], chunk_size):
            part = slice(start, start + chunk_size)
            branch = self.conv_block(x[:, part], None if mask is None else mask[:, part], condition)
            if self.gate is not None:
                branch = branch * (1 + self.gate(condition)).unsqueeze(1)
            output[:, part] = x[:, part] + branch
        return output


class Ntv3DownBlock(GradientCheckpointingLayer):
    """One level of the down tower: a k=5 convolution to the next width and a residual k=1 convolution."""

    def __init__(self, config, in_width: int, out_width: int):
        super().__init__()
        self.conv = Ntv3ConvBlock(config, in_width, out_width, 5)
        self.residual = Ntv3ResidualConvBlock(config, out_width)

    def forward(self, x, mask, condition) -> torch.Tensor:
        return self.residual(self.conv(x, mask, condition), mask, condition)  # (B, length, C_out), before pooling


class Ntv3UpBlock(GradientCheckpointingLayer):
    """One level of the up tower: repeat, a k=5 convolution to the narrower width, a residual k=1 (transposed)
    convolution, and the skip connection from the mirrored down level."""

    def __init__(self, config, in_width: int, out_width: int):
        super().__init__()
        self.conv = Ntv3ConvBlock(config, in_width, out_width, 5)
        self.residual = Ntv3ResidualConvBlock(config, out_width, transpose=True)

    def forward(self, x, skip, mask, condition) -> torch.Tensor:
        y = self.residual(self.conv(x, mask, condition, upsample=True), mask, condition)  # (B, 2 length, C_out)
        if skip is None:
            return y
        return y + skip if recording_gradients() else y.add_(skip)


class Ntv3Attention(nn.Module):
    """Rotary multi-head self-attention, computed in fp32 as in the original."""

    def __init__(self, config):
        super().__init__()
        self.num_heads, self.head_dim = config.num_attention_heads, config.head_dim
        self.query = nn.Linear(config.embed_dim, config.embed_dim)
        self.key = nn.Linear(config.embed_dim, config.embed_dim)
        self.value = nn.Linear(config.embed_dim, config.embed_dim)
        self.output = nn.Linear(config.embed_dim, config.embed_dim)
        self.config = config

    def forward(self, x, attention_bias, position_embeddings, output_attentions: bool):
        batch, length, _ = x.shape
        heads = (batch, length, self.num_heads, self.head_dim)
        query, key, value = (
            projection(x).view(heads).transpose(1, 2) for projection in (self.query, self.key, self.value)
        )  # (B, heads, length, head_dim) each
        query, key = apply_rotary(query.float(), key.float(), *position_embeddings)
        value = value.float()
        weights = None
        if output_attentions or self.config._attn_implementation == "eager":
            scores = query @ key.transpose(-1, -2) / self.head_dim**0.5  # (B, heads, length, length)
            if attention_bias is not None:
                scores = scores + attention_bias
            weights = scores.softmax(dim=-1)
            attended = weights @ value
        else:
            attended = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_bias)
        attended = attended.to(x.dtype).transpose(1, 2).reshape(batch, length, -1)  # (B, length, E)
        return self.output(attended), weights


class Ntv3Mlp(nn.Module):
    """The gated feed-forward layer: `down_proj(silu(u) · v)`, `[u, v] = up_proj(x)`, without biases."""

    def __init__(self, config):
        super().__init__()
        self.up_proj = nn.Linear(config.embed_dim, 2 * config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.embed_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)


class Ntv3TransformerLayer(GradientCheckpointingLayer):
    """A pre-LayerNorm transformer layer; in post-trained models the LayerNorms are species-modulated and the
    feed-forward branch is scaled by `1 + Linear(species)`."""

    def __init__(self, config):
        super().__init__()
        self.attention_norm = Ntv3LayerNorm(config.embed_dim, config.layer_norm_eps, conditioned(None, config))
        self.attention = Ntv3Attention(config)
        self.mlp_norm = Ntv3LayerNorm(config.embed_dim, config.layer_norm_eps, conditioned(None, config))
        self.mlp = Ntv3Mlp(config)
        self.mlp_gate = nn.Linear(config.token_embed_dim, config.embed_dim) if config.num_species else None

    def forward(self, x, attention_bias, position_embeddings, condition, output_attentions: bool = False):
        attended, weights = self.attention(
            self.attention_norm(x, condition), attention_bias, position_embeddings, output_attentions
        )
        x = x + attended
        branch = self.mlp(self.mlp_norm(x, condition))
        if self.mlp_gate is not None:
            branch = branch * (1 + self.mlp_gate(condition)).unsqueeze(1)
        return x + branch, weights


class Ntv3Embeddings(nn.Module):
    """The token embeddings (no positions, no scaling)."""

    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.token_embed_dim)


class NucleotideTransformerV3PreTrainedModel(MultiMoleculePreTrainedModel):
    """The base of the NTv3 models: config class, weight initialisation, loading (also of the published layout)."""

    config_class = NucleotideTransformerV3Config
    _no_split_modules = ["Ntv3TransformerLayer", "Ntv3DownBlock", "Ntv3UpBlock"]
    _supports_flash_attn = False
    _supports_flex_attn = False

    def build_backbone(self, config: NucleotideTransformerV3Config) -> NucleotideTransformerV3Model:
        return NucleotideTransformerV3Model(config)


def align_rows(attention_mask: torch.Tensor) -> torch.Tensor | None:
    """For each row, the order that puts its real positions first (left-padded rows), or None if every row
    already starts with them."""
    if bool((attention_mask[:, 1:] <= attention_mask[:, :-1]).all()):
        return None
    return torch.argsort((attention_mask == 0).to(torch.int8), dim=1, stable=True)  # (B, L)


class NucleotideTransformerV3Model(NucleotideTransformerV3PreTrainedModel):
    """The NTv3 backbone: down tower, transformer, up tower; one `hidden_size`-wide vector per base.

    Example:
        >>> from multimolecule import NucleotideTransformerV3Config, NucleotideTransformerV3Model
        >>> config = NucleotideTransformerV3Config(hidden_size=16, embed_dim=16, num_downsamples=2,
        ...                                        num_hidden_layers=1, num_attention_heads=2, head_dim=8)
        >>> model = NucleotideTransformerV3Model(config)
        >>> output = model(torch.tensor([[6, 7, 8, 9, 6, 6, 7], [6, 7, 8, 1, 1, 1, 1]]),
        ...                attention_mask=torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0]]))
        >>> output.last_hidden_state.shape, output.bottleneck_hidden_state.shape  # 7 bases -> 8 -> 2 at the bottom
        (torch.Size([2, 7, 16]), torch.Size([2, 2, 16]))
        >>> output.last_hidden_state[1, 3:].abs().max().item()  # zeros at padding
        0.0
    """

    def __init__(self, config: NucleotideTransformerV3Config):
        super().__init__(config)
        channels = config.channels
        self.embeddings = Ntv3Embeddings(config)
        self.species_embeddings = (
            nn.Embedding(NUM_SPECIES_SPECIAL_TOKENS + config.num_species, config.token_embed_dim)
            if config.num_species
            else None
        )
        self.stem = nn.Conv1d(config.token_embed_dim, channels[0], 15, padding=7)
        self.down_blocks = nn.ModuleList(
            Ntv3DownBlock(config, channels[i], channels[i + 1]) for i in range(config.num_downsamples)
        )
        self.layers = nn.ModuleList(Ntv3TransformerLayer(config) for _ in range(config.num_hidden_layers))
        self.rotary = RotaryEmbedding(config.head_dim)
        self.up_blocks = nn.ModuleList(
            Ntv3UpBlock(config, channels[-1 - j], channels[-2 - j]) for j in range(config.num_downsamples)
        )
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def species_condition(self, species_ids: torch.Tensor | None, batch_size: int) -> torch.Tensor | None:
        """The species embedding (B, token_embed_dim) of a post-trained model; None for a pre-trained one."""
        if self.species_embeddings is None:
            if species_ids is not None:
                raise ValueError("species_ids given, but this model is not conditioned on species")
            return None
        if species_ids is None:
            raise ValueError(f"this model is conditioned on a species: give species_ids (one of {self.species_help})")
        species_ids = torch.as_tensor(species_ids, device=self.species_embeddings.weight.device).reshape(-1)
        if species_ids.numel() == 1:
            species_ids = species_ids.expand(batch_size)
        low, high = NUM_SPECIES_SPECIAL_TOKENS, NUM_SPECIES_SPECIAL_TOKENS + self.config.num_species
        if species_ids.numel() != batch_size or bool(((species_ids < low) | (species_ids >= high)).any()):
            raise ValueError(f"species_ids must be one id per sequence, each one of {self.species_help}")
        return self.species_embeddings(species_ids)

    @property
    def species_help(self) -> str:
        return ", ".join(f"{NUM_SPECIES_SPECIAL_TOKENS + i} ({name})" for i, name in enumerate(self.config.species))

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        species_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> NucleotideTransformerV3ModelOutput:
        r"""
        input_ids: (B, L) token ids, one per base; any length.
        attention_mask: (B, L) 1 for bases, 0 for padding (at either end); derived from `<pad>` when omitted.
            The original has none: see the module's docstring.
        inputs_embeds: (B, L, token_embed_dim) instead of `input_ids`.
        species_ids: (B,) or one id: the species a post-trained model is conditioned on (`config.species[i]` has
            id `6 + i`).
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids and inputs_embeds")
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        word_embeddings = self.embeddings.word_embeddings
        if inputs_embeds is None:
            inputs_embeds = word_embeddings(input_ids)  # (B, L, token_embed_dim)
        batch, length = inputs_embeds.shape[:2]
        if attention_mask is None:
            attention_mask = (
                input_ids != self.config.pad_token_id
                if input_ids is not None
                else torch.ones(batch, length, dtype=torch.bool, device=inputs_embeds.device)
            )
        input_mask = attention_mask = attention_mask.bool()
        order = align_rows(attention_mask)
        if order is not None:  # left padding: real positions first
            attention_mask = attention_mask.gather(1, order)
            inputs_embeds = inputs_embeds.gather(1, order[..., None].expand_as(inputs_embeds))

        # Pad: every row with N to its own multiple of 2^D (real for the model), the batch to a multiple of 2^D.
        block = self.config.block_size
        padded_length = -(-length // block) * block
        lengths = attention_mask.sum(1)  # (B,), real positions come first
        positions = torch.arange(padded_length, device=inputs_embeds.device)
        mask = positions < (-(-lengths // block) * block)[:, None]  # (B, P): computed on
        n_embedding = word_embeddings.weight[N_TOKEN_ID].to(inputs_embeds.dtype)
        x = F.pad(inputs_embeds, (0, 0, 0, padded_length - length))
        x = torch.where((positions < lengths[:, None])[..., None], x, n_embedding)  # (B, P, token_embed_dim)
        condition = self.species_condition(species_ids, batch)

        all_hidden_states, all_attentions = (), ()
        level_mask = None if bool(mask.all()) else mask[..., None]  # (B, P, 1); None: every position is real
        if level_mask is not None:
            x = torch.where(level_mask, x, 0)
        embedded, chunk_size = x, self.config.tower_chunk_size
        x = chunked_convolution(self.stem, lambda low, high: embedded[:, low:high], padded_length, chunk_size)
        skips, masks = [], []  # (B, P, C_0) first
        for block_module in self.down_blocks:
            skips.append(x)
            masks.append(level_mask)
            x = block_module(x, level_mask, condition)  # (B, length_i, C_i+1), before pooling
            all_hidden_states += (x,) if output_hidden_states else ()
            x = (x[:, 0::2] + x[:, 1::2]).div_(2)  # (B, length_i / 2, C_i+1): the average pool, in the model's dtype
            level_mask = None if level_mask is None else level_mask[:, ::2]

        # The transformer at 1/2^D: keys outside the mask are left out of attention.
        attention_bias = None
        if level_mask is not None and not bool(level_mask.all()):
            attention_bias = torch.zeros(level_mask.shape[:2], device=x.device)
            attention_bias = attention_bias.masked_fill(~level_mask[..., 0], torch.finfo(torch.float32).min)
            attention_bias = attention_bias[:, None, None, :]  # (B, 1, 1, P / 2^D)
        position_embeddings = self.rotary(torch.arange(x.shape[1], device=x.device)[None])
        for layer in self.layers:
            x, weights = layer(x, attention_bias, position_embeddings, condition, output_attentions)
            all_hidden_states += (x,) if output_hidden_states else ()
            all_attentions += (weights,)
        bottleneck = x  # (B, P / 2^D, E)

        for block_module in self.up_blocks:
            skip, level_mask = skips.pop(), masks.pop()
            x = block_module(x, skip if self.config.use_skip_connection else None, level_mask, condition)
            all_hidden_states += (x,) if output_hidden_states else ()

        last_hidden_state = x[:, :length]  # (B, L, C_0)
        if order is not None:  # back to the input's order
            last_hidden_state = torch.zeros_like(last_hidden_state).scatter(
                1, order[..., None].expand_as(last_hidden_state), last_hidden_state
            )
        if not bool(input_mask.all()):
            last_hidden_state = torch.where(input_mask[..., None], last_hidden_state, 0)
        return NucleotideTransformerV3ModelOutput(
            last_hidden_state=last_hidden_state,
            bottleneck_hidden_state=bottleneck,
            hidden_states=all_hidden_states if output_hidden_states else None,
            attentions=all_attentions if output_attentions else None,
        )


class Ntv3LMHead(nn.Module):
    """`decoder(gelu(x))`: the original's masked-LM head (no LayerNorm)."""

    def __init__(self, config):
        super().__init__()
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(gelu(hidden_states))


class NucleotideTransformerV3ForMaskedLM(NucleotideTransformerV3PreTrainedModel):
    """NTv3 with its masked-LM head: one distribution over the 11 tokens per base.

    Example:
        >>> from multimolecule import NucleotideTransformerV3Config, NucleotideTransformerV3ForMaskedLM
        >>> config = NucleotideTransformerV3Config(hidden_size=16, embed_dim=16, num_downsamples=2,
        ...                                        num_hidden_layers=1, num_attention_heads=2, head_dim=8)
        >>> model = NucleotideTransformerV3ForMaskedLM(config)
        >>> output = model(torch.tensor([[6, 2, 8, 9, 6]]), labels=torch.tensor([[-100, 7, -100, -100, -100]]))
        >>> output.logits.shape, output.loss.dim()
        (torch.Size([1, 5, 11]), 0)
    """

    accepts_loss_kwargs = True

    def __init__(self, config: NucleotideTransformerV3Config):
        super().__init__(config)
        self.model = NucleotideTransformerV3Model(config)
        self.lm_head = Ntv3LMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head.decoder = new_embeddings

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        **kwargs,
    ) -> MaskedLMOutput:
        r"""
        labels: (B, L) ids of the original tokens at masked positions, -100 elsewhere.
        num_items_in_batch: Labels in the whole (accumulated) batch, to divide the summed loss by.
        """
        outputs = self.model(
            input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds, return_dict=True, **kwargs
        )
        logits = self.lm_head(outputs.last_hidden_state)  # (B, L, vocab_size)
        loss = None
        if labels is not None:
            labels = labels.to(logits.device)
            labelled = labels != -100
            loss_sum = F.cross_entropy(logits[labelled].float(), labels[labelled], reduction="sum")
            loss = labelled_mean(loss_sum, labelled, num_items_in_batch)
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


@dataclass
class NucleotideTransformerV3TrackOutput(ModelOutput):
    """The post-trained model's outputs.

    Args:
        logits: (B, L, vocab_size) masked-LM logits.
        tracks: (B, crop, max tracks) functional-track predictions (softplus) of each sequence's species, on the
            central `keep_target_center_fraction` of the input; zero beyond that species' tracks
            (`config.bigwig_tracks[species]` names them).
        annotations: (B, crop, bed elements, 2) genome-annotation logits (absent, present).
        species_logits: (B, species table) the species predicted from the bottleneck (mean over its length).
        last_hidden_state, hidden_states, attentions: as the backbone's.
    """

    logits: torch.Tensor | None = None
    tracks: torch.Tensor | None = None
    annotations: torch.Tensor | None = None
    species_logits: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class Ntv3TrackHead(nn.Module):
    """`decoder(LN(x))`, on the cropped embedding."""

    def __init__(self, config, outputs: int):
        super().__init__()
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=TOWER_LAYER_NORM_EPS)
        self.decoder = nn.Linear(config.hidden_size, outputs)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.layer_norm(hidden_states))


def center_crop(length: int, fraction: float) -> slice:
    """The central `fraction` of `length` positions, as the original crops: `int(length · fraction)` positions
    starting at `(length - kept) // 2`.

    Example:
        >>> center_crop(64, 0.375)
        slice(20, 44, None)
    """
    kept = int(length * fraction)
    start = (length - kept) // 2
    return slice(start, start + kept)


class NucleotideTransformerV3ForTrackPrediction(NucleotideTransformerV3PreTrainedModel):
    """A post-trained NTv3: masked-LM logits, per-species functional tracks (bigwig) and genome annotations (BED)
    for the central part of the input, conditioned on a species.

    Example:
        >>> from multimolecule import NucleotideTransformerV3Config, NucleotideTransformerV3ForTrackPrediction
        >>> config = NucleotideTransformerV3Config(
        ...     hidden_size=16, embed_dim=16, num_downsamples=2, num_hidden_layers=1, num_attention_heads=2,
        ...     head_dim=8, species=["human", "mouse"], bigwig_tracks={"human": ["a", "b", "c"], "mouse": ["d"]},
        ...     bed_elements=["exon", "intron"])
        >>> model = NucleotideTransformerV3ForTrackPrediction(config)
        >>> output = model(torch.randint(6, 11, (2, 64)), species_ids=torch.tensor([6, 7]))
        >>> output.tracks.shape, output.annotations.shape  # the central 24 of 64 bases
        (torch.Size([2, 24, 3]), torch.Size([2, 24, 2, 2]))
    """

    def __init__(self, config: NucleotideTransformerV3Config):
        super().__init__(config)
        if not config.num_species:
            raise ValueError("track prediction needs a post-trained config (config.species is empty)")
        self.model = NucleotideTransformerV3Model(config)
        self.lm_head = Ntv3LMHead(config)
        tracks = config.bigwig_tracks or {}
        self.bigwig_heads = nn.ModuleList(Ntv3TrackHead(config, len(tracks.get(name, []))) for name in config.species)
        self.bed_head = Ntv3TrackHead(config, 2 * len(config.bed_elements or []))
        self.species_head = nn.Linear(config.embed_dim, NUM_SPECIES_SPECIAL_TOKENS + config.num_species)
        self.post_init()

    def tracks_of(self, species: str) -> list[str]:
        """The names of the tracks `tracks[..., :n]` holds for `species`."""
        return list((self.config.bigwig_tracks or {}).get(species, []))

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        species_ids: torch.Tensor | None = None,
        **kwargs,
    ) -> NucleotideTransformerV3TrackOutput:
        r"""
        species_ids: (B,) or one id: each sequence's species (`config.species[i]` has id `6 + i`).
        """
        outputs = self.model(
            input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            species_ids=species_ids,
            return_dict=True,
            **kwargs,
        )
        embedding = outputs.last_hidden_state  # (B, L, C_0)
        cropped = embedding[:, center_crop(embedding.shape[1], self.config.keep_target_center_fraction)]
        heads = torch.as_tensor(species_ids, device=embedding.device).reshape(-1).expand(embedding.shape[0])
        heads = heads - NUM_SPECIES_SPECIAL_TOKENS  # (B,)
        width = max(head.decoder.out_features for head in self.bigwig_heads)
        tracks = cropped.new_zeros(*cropped.shape[:2], width)  # (B, crop, max tracks)
        for index, head in enumerate(self.bigwig_heads):
            rows = heads == index
            if bool(rows.any()):
                tracks[rows, :, : head.decoder.out_features] = F.softplus(head(cropped[rows]))
        annotations = self.bed_head(cropped).unflatten(-1, (-1, 2))  # (B, crop, elements, 2)
        species_logits = self.species_head(outputs.bottleneck_hidden_state.mean(dim=1))
        return NucleotideTransformerV3TrackOutput(
            logits=self.lm_head(embedding),
            tracks=tracks,
            annotations=annotations,
            species_logits=species_logits,
            last_hidden_state=embedding,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


class NucleotideTransformerV3ForSequencePrediction(SequencePredictionMixin, NucleotideTransformerV3PreTrainedModel):
    """NTv3 with a sequence-level head (mean over bases by default).

    Example:
        >>> from multimolecule import NucleotideTransformerV3Config, NucleotideTransformerV3ForSequencePrediction
        >>> config = NucleotideTransformerV3Config(hidden_size=16, embed_dim=16, num_downsamples=2,
        ...                                        num_hidden_layers=1, num_attention_heads=2, head_dim=8)
        >>> NucleotideTransformerV3ForSequencePrediction(config)(torch.tensor([[6, 7, 8, 9, 6]])).logits.shape
        torch.Size([1, 2])
    """


class NucleotideTransformerV3ForTokenPrediction(TokenPredictionMixin, NucleotideTransformerV3PreTrainedModel):
    """NTv3 with a per-base head.

    Example:
        >>> from multimolecule import NucleotideTransformerV3Config, NucleotideTransformerV3ForTokenPrediction
        >>> config = NucleotideTransformerV3Config(hidden_size=16, embed_dim=16, num_downsamples=2,
        ...                                        num_hidden_layers=1, num_attention_heads=2, head_dim=8)
        >>> NucleotideTransformerV3ForTokenPrediction(config)(torch.tensor([[6, 7, 8, 9, 6]])).logits.shape
        torch.Size([1, 5, 2])
    """
