"""Layout-aware output heads: activations, reconstruction losses and decoding over a table's spans.

Training-time heads work on the encoded width directly, with *segment* operations: every categorical
span is one segment and every continuous value a segment of its own, so a softmax, Gumbel-softmax or
cross-entropy over all categorical spans is a handful of whole-matrix ops (a per-segment max, one
``exp``, one small matmul with the segment membership matrix) instead of a Python loop over columns
or a gather into a padded ``(spans, max_size)`` block, whose backward (an accumulating scatter) cost
more than the network's matmuls at Adult's shapes. Sampling-time decoding, with no backward, uses the
padded blocks of :class:`SpanIndex`. Continuous spans use ``tanh`` (mode-specific values lie in
[-1, 1]) or the identity (diffusion).

References: Xu et al., "Modeling Tabular Data using Conditional GAN", NeurIPS 2019 (Gumbel-softmax
heads with temperature 0.2, TVAE's Gaussian/cross-entropy reconstruction loss); Jang et al., 2017
(Gumbel-softmax).
"""

from __future__ import annotations

from typing import Any

import torch

# Logit given to padding slots: exp() of it is exactly 0 in float32, and it stays finite (no 0 * inf = nan).
_PAD_LOGIT = -1e9


class SpanIndex:
    """Where the continuous values and the categorical blocks of a layout sit in the encoded matrix.

    Two views of the same layout: *segments* over the encoded width (categorical spans first, as
    segments ``0 .. n_blocks - 1``, then one segment per continuous value), and padded *blocks*
    ``(n_blocks, max_size)`` for decoding and for diffusion's per-category arithmetic.
    """

    def __init__(self, layout: Any, device: torch.device | str = "cpu"):
        self.width = int(layout.width)
        continuous: list[int] = []
        blocks: list[list[int]] = []
        for span in layout.spans:
            positions = list(range(span.slice.start, span.slice.stop))
            if span.kind == "continuous":
                continuous += positions
            else:
                blocks.append(positions)
        self.spans = tuple(layout.spans)
        self.continuous = torch.tensor(continuous, dtype=torch.long, device=device)         # (n_continuous,)
        max_size = max((len(b) for b in blocks), default=1)
        index = torch.zeros(len(blocks), max_size, dtype=torch.long)
        mask = torch.zeros(len(blocks), max_size, dtype=torch.bool)
        segment_of = torch.full((self.width,), -1, dtype=torch.long)
        for row, positions in enumerate(blocks):
            index[row, : len(positions)] = torch.tensor(positions)
            mask[row, : len(positions)] = True
            segment_of[positions] = row
        segment_of[continuous] = torch.arange(len(blocks), len(blocks) + len(continuous))
        order = torch.cat([torch.tensor(continuous, dtype=torch.long), index[mask]])
        if sorted(order.tolist()) != list(range(self.width)) or (segment_of < 0).any():
            raise ValueError("The layout's spans do not cover the encoded width exactly once.")
        self.block_index = index.to(device)                                                # (spans, max_size)
        self.block_mask = mask.to(device)
        self.block_sizes = mask.sum(dim=1).to(device)                                      # (spans,)
        self._flat_block_index = index.reshape(-1).to(device)                              # (spans * max_size,)
        self._flat_valid = mask.reshape(-1).nonzero().squeeze(1).to(device)               # valid padded slots
        self.inverse_order = torch.argsort(order).to(device)                               # (width,)
        self.segment_of = segment_of.to(device)                                            # (width,)
        n_segments = len(blocks) + len(continuous)
        self.membership = torch.nn.functional.one_hot(segment_of, n_segments).float().to(device)  # (width, segments)
        self.is_continuous = (segment_of >= len(blocks)).to(device)                        # (width,)
        self.categorical_mask = (~self.is_continuous).float()                              # (width,)

    @property
    def n_blocks(self) -> int:
        return int(self.block_index.shape[0])

    def blocks(self, x: torch.Tensor, fill: float = _PAD_LOGIT) -> torch.Tensor:
        """The categorical blocks of ``x`` as ``(batch, spans, max_size)``, padding set to ``fill``."""
        gathered = x.index_select(1, self._flat_block_index).reshape(len(x), *self.block_index.shape)
        return gathered.masked_fill(~self.block_mask, fill)

    def assemble(self, continuous: torch.Tensor, blocks: torch.Tensor) -> torch.Tensor:
        """Inverse of splitting: continuous ``(batch, n_continuous)`` + blocks → ``(batch, width)``."""
        valid = blocks.reshape(len(blocks), -1).index_select(1, self._flat_valid)
        return torch.cat([continuous, valid], dim=1).index_select(1, self.inverse_order)

    # ------------------------------------------------------------------ segment operations
    def segment_logsumexp(self, x: torch.Tensor) -> torch.Tensor:
        """log Σ exp(x) over each segment: ``(batch, width)`` → ``(batch, segments)``."""
        with torch.no_grad():       # the shift only keeps exp() finite; log-sum-exp does not depend on it
            shift = torch.full((len(x), self.membership.shape[1]), -torch.inf, device=x.device, dtype=x.dtype)
            shift.scatter_reduce_(1, self.segment_of.expand(len(x), -1), x, "amax")
        total = torch.exp(x - shift.index_select(1, self.segment_of)) @ self.membership.to(x.dtype)
        return shift + torch.log(total)

    def segment_softmax(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax within each segment, at every position (continuous positions, alone in theirs, get 1)."""
        return torch.exp(x - self.segment_logsumexp(x).index_select(1, self.segment_of))


def _gumbel_noise(like: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard Gumbel noise shaped like ``like`` (Jang et al., 2017)."""
    uniform = torch.rand(like.shape, generator=generator, device=like.device).clamp_(1e-10, 1.0 - 1e-7)
    return -torch.log(-torch.log(uniform))


def activate(raw: torch.Tensor, index: SpanIndex, *, tau: float = 0.2, gumbel: bool = True) -> torch.Tensor:
    """Generator output heads: tanh on continuous values, (Gumbel-)softmax on each categorical span."""
    logits = (raw + _gumbel_noise(raw)) / tau if gumbel else raw
    return torch.where(index.is_continuous, torch.tanh(raw), index.segment_softmax(logits))


def reconstruction_loss(raw: torch.Tensor, target: torch.Tensor, index: SpanIndex,
                        sigma: torch.Tensor) -> torch.Tensor:
    """TVAE's loss per row: Gaussian NLL of ``tanh(raw)`` on continuous values, cross-entropy per span.

    ``sigma`` holds one learned scale per continuous value (Xu et al., 2019).
    """
    mean = torch.tanh(raw.index_select(1, index.continuous))
    squared = (target.index_select(1, index.continuous) - mean) ** 2 / (2 * sigma**2)   # (batch, n_continuous)
    gaussian = squared.sum(dim=1) + torch.log(sigma).sum()
    # Cross-entropy of a one-hot target: log Σ exp over each span minus the target's logit.
    normaliser = index.segment_logsumexp(raw)[:, : index.n_blocks].sum(dim=1)
    cross_entropy = normaliser - (target * index.categorical_mask * raw).sum(dim=1)
    return (gaussian + cross_entropy).mean()


def condition_loss(raw: torch.Tensor, cond_target: torch.Tensor, index: SpanIndex) -> torch.Tensor:
    """Cross-entropy between the generated spans and the condition (CTGAN's generator penalty).

    ``cond_target`` is ``(batch, width)``: a one at each conditioned category's position, zeros
    elsewhere; only the spans it sets contribute, and rows with no condition contribute nothing.
    """
    conditioned = cond_target @ index.membership.to(raw.dtype)                                  # (batch, segments) 0/1
    normaliser = (conditioned * index.segment_logsumexp(raw)).sum(dim=1)
    return (normaliser - (cond_target * raw).sum(dim=1)).mean()


def decode(raw: torch.Tensor, index: SpanIndex, *, continuous: str = "tanh", sample: bool = False,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Network output → encoded rows: continuous via ``tanh``/identity, each span a one-hot (argmax or sampled)."""
    values = raw.index_select(1, index.continuous)
    if continuous == "tanh":
        values = torch.tanh(values)
    logits = index.blocks(raw)                                                   # (batch, spans, max_size)
    if sample:                 # Gumbel-max: argmax(logits + Gumbel noise) is a draw from softmax(logits)
        logits = logits + _gumbel_noise(logits, generator)
    chosen = logits.argmax(dim=-1)                                               # (batch, spans)
    one_hot = torch.nn.functional.one_hot(chosen, logits.shape[-1]).to(raw.dtype)
    return index.assemble(values, one_hot)
