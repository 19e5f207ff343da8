"""Building blocks shared by FIRF and the baselines: masked pooling, a masked Transformer
encoder, sinusoidal positions and batch checks.

Convention: ``mask`` is (B, L) float or bool with 1 = observed. Anything at a masked position
is treated as absent: it is zeroed before use and never attended to, so changing it cannot
change an output.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from firf.batch import Batch
from firf.errors import InputError
from firf.modalities import MODALITIES


def check_batch(batch: Batch, dims: dict[str, int]) -> None:
    """Raise InputError when a batch cannot be fed to a model built for ``dims``."""
    for m in MODALITIES:
        for key in (m, f"{m}_mask", f"{m}_lengths"):
            if key not in batch:
                raise InputError(f"batch has no '{key}'; build batches with firf.data collate")
        x, mask = batch[m], batch[f"{m}_mask"]
        if x.dim() != 3 or x.shape[-1] != dims[m]:
            raise InputError(
                f"{m} features have shape {tuple(x.shape)}, but this model expects "
                f"(batch, frames, {dims[m]}); were they made by the extractor it was trained with?"
            )
        if mask.shape != x.shape[:2]:
            raise InputError(
                f"{m}_mask has shape {tuple(mask.shape)}, expected {tuple(x.shape[:2])}"
            )
        if not torch.isfinite(x[mask > 0]).all():
            raise InputError(f"{m} features contain NaN or infinite values at observed frames")


def masked_features(x: Tensor, mask: Tensor) -> Tensor:
    """Zero masked frames. ``where`` rather than multiply: NaN * 0 would still be NaN."""
    return torch.where(mask.unsqueeze(-1) > 0, x, torch.zeros((), dtype=x.dtype, device=x.device))


def clip_mask(lengths: Tensor, length: int) -> Tensor:
    """(B, length) float mask of the frames inside each clip, observed or not."""
    frames = torch.arange(length, device=lengths.device)
    return (frames.unsqueeze(0) < lengths.unsqueeze(1)).float()


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """(B, L, D) -> (B, D) mean over observed positions; zero for a row with none observed."""
    count = (mask > 0).sum(1, keepdim=True).clamp(min=1).to(x.dtype)
    return masked_features(x, mask).sum(1) / count


def pool_frames(x: Tensor, mask: Tensor, stride: int) -> tuple[Tensor, Tensor]:
    """Average non-overlapping windows of ``stride`` observed frames.

    Windows start at frame 0, so a sample's tokens do not depend on how much padding follows.
    A window is observed when any of its frames is.
    """
    if stride == 1:
        return x, mask
    batch, length, dim = x.shape
    windows = math.ceil(length / stride)
    pad = windows * stride - length
    x = F.pad(x, (0, 0, 0, pad)).reshape(batch, windows, stride, dim)
    mask = F.pad(mask, (0, pad)).reshape(batch, windows, stride)
    pooled = masked_mean(x.reshape(-1, stride, dim), mask.reshape(-1, stride))
    return pooled.reshape(batch, windows, dim), (mask.sum(-1) > 0).to(mask.dtype)


def sinusoidal_positions(length: int, dim: int, device: torch.device) -> Tensor:
    """(length, dim) fixed sin/cos positions; any length, nothing to learn or outgrow."""
    position = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim)
    )
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)[:, : dim // 2]
    return table


def key_padding(mask: Tensor) -> Tensor:
    """Key padding for attention (True = ignore) from an observed-mask.

    A row with no observed key would softmax over nothing and return NaN, so such a row
    attends to every position instead; callers discard its outputs through the mask.
    """
    padded = mask <= 0
    return padded & ~padded.all(dim=1, keepdim=True)


def mlp(d_in: int, d_hidden: int, d_out: int, dropout: float = 0.0) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(d_in, d_hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_hidden, d_out)
    )


class Block(nn.Module):
    """Pre-norm Transformer block with key padding.

    Dropout sits on the residual branches only: dropout on the attention weights draws a random
    number per head, query and key, which was a fifth of CPU training time for no clear gain.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.attn_ln = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.mlp_ln = nn.LayerNorm(d_model)
        self.mlp = mlp(d_model, 4 * d_model, d_model, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, padding: Tensor) -> Tensor:
        h = self.attn_ln(x)
        attended = self.attn(h, h, h, key_padding_mask=padding, need_weights=False)[0]
        x = x + self.drop(attended)
        return x + self.drop(self.mlp(self.mlp_ln(x)))


class Transformer(nn.Module):
    """A stack of blocks over (B, L, D) tokens; outputs at masked positions are zero."""

    def __init__(self, d_model: int, n_heads: int, layers: int, dropout: float):
        super().__init__()
        self.blocks = nn.ModuleList(Block(d_model, n_heads, dropout) for _ in range(layers))
        self.ln = nn.LayerNorm(d_model)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        padding = key_padding(mask)
        for block in self.blocks:
            x = block(x, padding)
        return masked_features(self.ln(x), mask)


class MaskedEncoder(nn.Module):
    """One modality's frames (B, L, d_m) -> tokens (B, L', D) and their mask (B, L').

    Standardisation of the input features, linear projection, optional frame pooling by
    ``stride``, sinusoidal positions, and a small Transformer that attends only to observed
    tokens.

    Raw extractor features span very different scales (Face Mesh coordinates vary by ~0.01
    around offsets near 1, a few Whisper dims by 10x the rest), so each input dimension is
    standardised with the training split's mean and std: buffers fitted by
    ``firf.model.standardize.fit_input_statistics`` and saved with the weights.

    No LayerNorm follows the projection: it would keep only the direction of a frame's
    deviation from the average and drop its size, which for faces is the expression's
    intensity (a face moved 1x, 2x or 3x as far from the average CK+ face scored identically,
    and a crying face, far outside CK+'s range, read as happy). The Transformer's blocks are
    pre-norm, so training stays stable without it.
    """

    def __init__(
        self,
        d_in: int,
        d_model: int,
        n_heads: int,
        layers: int,
        dropout: float,
        stride: int = 1,
        probe_from: int | None = None,
    ):
        super().__init__()
        self.stride = stride
        # Identity until fitted (firf.model.standardize.fit_input_statistics).
        self.register_buffer("input_mean", torch.zeros(d_in))
        self.register_buffer("input_scale", torch.ones(d_in))
        # A fixed linear readout of standardised dims probe_from.., appended as one channel:
        # fitted before training (firf.model.standardize.fit_audio_probe) with strong
        # regularisation, it carries a signal that the trained projection overfits away.
        self.probe_from = probe_from
        if probe_from is not None:
            if not 0 <= probe_from < d_in:
                raise InputError(f"probe_from must be in 0..{d_in - 1}; got {probe_from}")
            self.register_buffer("probe_weight", torch.zeros(d_in - probe_from))
            self.register_buffer("probe_bias", torch.zeros(()))
        self.proj = nn.Linear(d_in + (probe_from is not None), d_model)
        self.drop = nn.Dropout(dropout)
        self.transformer = Transformer(d_model, n_heads, layers, dropout)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        return self.encode(self.standardized(x, mask), mask)

    def encode(self, standardized: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Tokens and their mask from frames already standardised (``standardized``), so a
        caller that also needs them (FIRF's noise factor) computes them once."""
        x = standardized
        if self.probe_from is not None:
            x = torch.cat([x, masked_features(self.probe(x).unsqueeze(-1), mask)], dim=-1)
        x = self.proj(x)
        x, mask = pool_frames(x, mask, self.stride)
        x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device)
        return self.transformer(self.drop(x), mask), mask

    def standardized(self, x: Tensor, mask: Tensor) -> Tensor:
        """The input features standardised, zero at masked frames."""
        return masked_features((x - self.input_mean) / self.input_scale, mask)

    def probe(self, standardized: Tensor) -> Tensor:
        """(..., L): the fixed readout of each standardised frame; linear, so its mean over a
        clip's frames is the readout of the clip's mean frame (what it was fitted on)."""
        return standardized[..., self.probe_from :] @ self.probe_weight + self.probe_bias

    def deviations(self, standardized: Tensor, mask: Tensor) -> Tensor:
        """(B, L', d_m): each token's standardised input (``standardized``) minus the clip's
        mean over observed tokens (zero at masked tokens). Whatever is constant over a clip,
        its sentiment included, is gone from it by construction."""
        x, mask = pool_frames(standardized, mask, self.stride)
        return masked_features(x - masked_mean(x, mask).unsqueeze(1), mask)


def bounded(raw: Tensor, score_range: float) -> Tensor:
    """Squash a raw score into (-score_range, score_range) with slope 1 at zero.

    tanh rather than clamp: a clamped prediction past the bound gets zero gradient and stops
    learning; tanh keeps a gradient everywhere and is nearly linear over most of the range.
    """
    return score_range * torch.tanh(raw / score_range)
