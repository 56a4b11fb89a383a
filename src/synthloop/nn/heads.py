"""Layout-aware output heads: activations, reconstruction losses and decoding over a table's spans.

The heads work on the encoded width directly, with *segment* operations: every categorical span is
one segment and every continuous value a segment of its own, so a softmax, Gumbel-softmax, argmax or
cross-entropy over all categorical spans is a handful of whole-matrix ops (a per-segment max, one
``exp``, one small matmul with the segment membership matrix) instead of a Python loop over columns
or a gather into a padded ``(spans, max_size)`` block, whose backward (an accumulating scatter) cost
more than the network's matmuls at Adult's shapes. Continuous spans use ``tanh`` (mode-specific
values lie in [-1, 1]) or the identity (diffusion).

References: Xu et al., "Modeling Tabular Data using Conditional GAN", NeurIPS 2019 (Gumbel-softmax
heads with temperature 0.2, TVAE's Gaussian/cross-entropy reconstruction loss); Jang et al., 2017
(Gumbel-softmax).
"""

from __future__ import annotations

from typing import Any

import torch


class SpanIndex:
    """Where the continuous values and the categorical spans of a layout sit in the encoded matrix.

    Every categorical span is a *segment* (ids ``0 .. n_blocks - 1``, in layout order) and every
    continuous value a segment of its own (the ids after), so per-span softmaxes, log-sum-exps and
    argmaxes are whole-width tensor ops.
    """

    def __init__(self, layout: Any, device: torch.device | str = "cpu"):
        self.width = int(layout.width)
        self.spans = tuple(layout.spans)
        continuous = [p for span in self.spans if span.kind == "continuous" for p in range(span.slice.start, span.slice.stop)]
        categorical = [span for span in self.spans if span.kind == "categorical"]
        self.n_blocks = len(categorical)
        segment_of = torch.full((self.width,), -1, dtype=torch.long)
        for block, span in enumerate(categorical):
            segment_of[span.slice] = block
        segment_of[continuous] = torch.arange(self.n_blocks, self.n_blocks + len(continuous))
        if (segment_of < 0).any() or len(set(continuous)) != len(continuous):
            raise ValueError("The layout's spans do not cover the encoded width exactly once.")
        n_segments = self.n_blocks + len(continuous)
        self.continuous = torch.tensor(continuous, dtype=torch.long, device=device)         # (n_continuous,)
        self.segment_of = segment_of.to(device)                                            # (width,)
        self.membership = torch.nn.functional.one_hot(segment_of, n_segments).float().to(device)  # (width, segments)
        self.is_continuous = self.segment_of >= self.n_blocks                              # (width,)
        self.categorical_mask = (~self.is_continuous).float()                              # (width,)
        self.segment_sizes = self.membership.sum(dim=0)                                    # (segments,)
        self._positions = torch.arange(self.width, device=device)

    def _segment_reduce(self, x: torch.Tensor, reduce: str, initial: float) -> torch.Tensor:
        out = torch.full((len(x), self.membership.shape[1]), initial, device=x.device, dtype=x.dtype)
        return out.scatter_reduce_(1, self.segment_of.expand(len(x), -1), x, reduce)       # (batch, segments)

    def segment_logsumexp(self, x: torch.Tensor) -> torch.Tensor:
        """log Σ exp(x) over each segment: ``(batch, width)`` → ``(batch, segments)``."""
        with torch.no_grad():       # the shift only keeps exp() finite; log-sum-exp does not depend on it
            shift = self._segment_reduce(x, "amax", -torch.inf)
        total = torch.exp(x - shift.index_select(1, self.segment_of)) @ self.membership.to(x.dtype)
        return shift + torch.log(total)

    def segment_softmax(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax within each segment, at every position (continuous positions, alone in theirs, get 1)."""
        return torch.exp(x - self.segment_logsumexp(x).index_select(1, self.segment_of))

    @torch.no_grad()
    def segment_one_hot(self, scores: torch.Tensor) -> torch.Tensor:
        """One-hot of each segment's highest score (the first on a tie), at every position."""
        best = self._segment_reduce(scores, "amax", -torch.inf).index_select(1, self.segment_of)
        candidates = torch.where(scores >= best, self._positions, self.width)              # positions holding a max
        first = self._segment_reduce(candidates, "amin", self.width).index_select(1, self.segment_of)
        return (self._positions == first).to(scores.dtype)


def _gumbel_noise(like: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard Gumbel noise shaped like ``like`` (Jang et al., 2017)."""
    uniform = torch.rand(like.shape, generator=generator, device=like.device).clamp_(1e-10, 1.0 - 1e-7)
    return -torch.log(-torch.log(uniform))


def activate(raw: torch.Tensor, index: SpanIndex, *, tau: float = 0.2, gumbel: bool = True,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Generator output heads: tanh on continuous values, (Gumbel-)softmax on each categorical span."""
    logits = (raw + _gumbel_noise(raw, generator)) / tau if gumbel else raw
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
    scores = raw + _gumbel_noise(raw, generator) if sample else raw   # Gumbel-max: a draw from softmax(raw)
    values = torch.tanh(raw) if continuous == "tanh" else raw
    return torch.where(index.is_continuous, values, index.segment_one_hot(scores))
