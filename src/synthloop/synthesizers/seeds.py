"""One seed tree per fit: every random stream of a fit is a named child of one ``SeedSequence``.

``fit`` reads ``self.seed`` once and builds a :class:`SeedTree`; below it nothing re-reads the seed
and nothing touches a global random state. Each part draws from its own child:

- ``model``: what the model learns from (tree splits, batches, training-by-sampling);
- ``encoder``: the table encoder (the mode-specific normaliser's mixture fits);
- ``calibration``: the privacy reference's cross-fitting, so that building it, or not, never shifts
  the model's own stream;
- ``torch``: the explicit ``torch.Generator`` of the neural nets (noise, dropout masks, shuffles);
- ``domains``, ``count``: the noise of a DP model's purchases before training (bounds and category
  sets, the row count; :mod:`synthloop.privacy.domains`).

Children are spawned by name, not by position of first use (``SeedSequence.spawn`` keyed by the
name's index in :data:`CHILDREN`), so adding a consumer does not change what the others draw.
An unseeded fit draws its root from the operating system's entropy, as NumPy does.
"""

from __future__ import annotations

import numpy as np

#: The named children of a fit's seed; new names go at the end so existing streams stay put.
CHILDREN = ("model", "encoder", "calibration", "torch", "domains", "count")


class SeedTree:
    """The root ``SeedSequence`` of one fit and its named children."""

    def __init__(self, seed: int | None):
        #: Whether the caller asked for a reproducible fit (a seeded fit also fixes its thread count).
        self.seeded = seed is not None
        self.root = np.random.SeedSequence(seed)
        self._children = dict(zip(CHILDREN, self.root.spawn(len(CHILDREN)), strict=True))

    def sequence(self, name: str) -> np.random.SeedSequence:
        """The child ``SeedSequence`` called ``name`` (one of :data:`CHILDREN`)."""
        try:
            return self._children[name]
        except KeyError:
            raise KeyError(f"no seed child '{name}'; children: {', '.join(CHILDREN)}") from None

    def generator(self, name: str) -> np.random.Generator:
        """A fresh NumPy generator on the child ``name`` (the same stream each time it is asked for)."""
        return np.random.default_rng(self.sequence(name))

    def integer(self, name: str) -> int:
        """A 62-bit integer from the child ``name``: for APIs that take an int seed (torch, scikit-learn)."""
        return int(self.sequence(name).generate_state(1, np.uint64)[0] >> np.uint64(2))
