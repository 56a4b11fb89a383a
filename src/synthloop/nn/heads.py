"""Layout-aware output heads: activations, reconstruction losses and decoding over a table's spans.

A :class:`SpanIndex` gathers every categorical span of a layout into one padded ``(spans, max_size)``
index, so a softmax, Gumbel-softmax or cross-entropy over *all* categorical spans is a single tensor
op instead of a Python loop over columns (the reason per-step overhead stays flat as tables widen).
Continuous spans use ``tanh`` (mode-specific values lie in [-1, 1]) or the identity (diffusion).

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
    """Where the continuous values and the categorical blocks of a layout sit in the encoded matrix."""

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
        for row, positions in enumerate(blocks):
            index[row, : len(positions)] = torch.tensor(positions)
            mask[row, : len(positions)] = True
        self.block_index = index.to(device)                                                # (spans, max_size)
        self.block_mask = mask.to(device)
        self.block_sizes = mask.sum(dim=1).to(device)                                      # (spans,)
        order = torch.cat([self.continuous, self.block_index[self.block_mask]])
        if sorted(order.tolist()) != list(range(self.width)):
            raise ValueError("The layout's spans do not cover the encoded width exactly once.")
        self.inverse_order = torch.argsort(order)                                          # (width,)

    @property
    def n_blocks(self) -> int:
        return int(self.block_index.shape[0])

    def blocks(self, x: torch.Tensor, fill: float = _PAD_LOGIT) -> torch.Tensor:
        """The categorical blocks of ``x`` as ``(batch, spans, max_size)``, padding set to ``fill``."""
        return x[:, self.block_index].masked_fill(~self.block_mask, fill)

    def assemble(self, continuous: torch.Tensor, blocks: torch.Tensor) -> torch.Tensor:
        """Inverse of splitting: continuous ``(batch, n_continuous)`` + blocks → ``(batch, width)``."""
        flat = torch.cat([continuous, blocks[:, self.block_mask]], dim=1)
        return flat[:, self.inverse_order]


def gumbel_softmax(logits: torch.Tensor, tau: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Relaxed one-hot samples along the last dim (Jang et al., 2017); padded logits stay at 0 probability."""
    uniform = torch.rand(logits.shape, generator=generator, device=logits.device).clamp_(1e-10, 1.0 - 1e-7)
    return torch.softmax((logits - torch.log(-torch.log(uniform))) / tau, dim=-1)


def activate(raw: torch.Tensor, index: SpanIndex, *, tau: float = 0.2, gumbel: bool = True) -> torch.Tensor:
    """Generator output heads: tanh on continuous values, (Gumbel-)softmax on each categorical span."""
    logits = index.blocks(raw)                                                   # (batch, spans, max_size)
    probs = gumbel_softmax(logits, tau) if gumbel else torch.softmax(logits, dim=-1)
    return index.assemble(torch.tanh(raw[:, index.continuous]), probs)


def reconstruction_loss(raw: torch.Tensor, target: torch.Tensor, index: SpanIndex,
                        sigma: torch.Tensor) -> torch.Tensor:
    """TVAE's loss per row: Gaussian NLL of ``tanh(raw)`` on continuous values, cross-entropy per span.

    ``sigma`` holds one learned scale per continuous value (Xu et al., 2019).
    """
    mean = torch.tanh(raw[:, index.continuous])
    squared = (target[:, index.continuous] - mean) ** 2 / (2 * sigma**2)        # (batch, n_continuous)
    gaussian = squared.sum(dim=1) + torch.log(sigma).sum()
    log_probs = torch.log_softmax(index.blocks(raw), dim=-1)
    cross_entropy = -(index.blocks(target, fill=0.0) * log_probs).sum(dim=(1, 2))
    return (gaussian + cross_entropy).mean()


def condition_loss(raw: torch.Tensor, cond: torch.Tensor, index: SpanIndex, block_of_cond: torch.Tensor) -> torch.Tensor:
    """Cross-entropy between the generated spans and the condition vector (CTGAN's generator penalty).

    ``cond`` is ``(batch, spans_in_cond, max_size)``; ``block_of_cond`` says which layout block each
    condition span is. Rows with an all-zero condition contribute nothing.
    """
    log_probs = torch.log_softmax(index.blocks(raw)[:, block_of_cond], dim=-1)  # (batch, cond spans, max)
    log_probs = log_probs[..., : cond.shape[2]]      # condition spans may be narrower than the widest block
    return -(cond * log_probs).sum(dim=(1, 2)).mean()


def decode(raw: torch.Tensor, index: SpanIndex, *, continuous: str = "tanh", sample: bool = False,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Network output → encoded rows: continuous via ``tanh``/identity, each span a one-hot (argmax or sampled)."""
    values = raw[:, index.continuous]
    if continuous == "tanh":
        values = torch.tanh(values)
    logits = index.blocks(raw)                                                   # (batch, spans, max_size)
    if sample:
        probs = torch.softmax(logits, dim=-1).reshape(-1, logits.shape[-1])
        chosen = torch.multinomial(probs, 1, generator=generator).reshape(logits.shape[:2])
    else:
        chosen = logits.argmax(dim=-1)                                           # (batch, spans)
    one_hot = torch.nn.functional.one_hot(chosen, logits.shape[-1]).to(raw.dtype)
    return index.assemble(values, one_hot)
