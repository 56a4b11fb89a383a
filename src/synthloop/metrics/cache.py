"""A scoped cache so metrics that share work (encodings, neighbour distances, fitted models) do it once.

``evaluate`` opens ``shared_cache()`` around all its metric calls; inside it ``memo(key, compute)``
returns the stored result for ``key``. Outside a scope nothing is cached, so a metric called on its
own always computes fresh. Keys use ``id()`` of the frames: valid because the scope holds a
reference to every frame for its whole life, and the frames are never mutated inside it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

_ACTIVE: ContextVar[dict[tuple, Any] | None] = ContextVar("synthloop_metric_cache", default=None)


@contextlib.contextmanager
def shared_cache() -> Iterator[dict[tuple, Any]]:
    """Open a cache scope; nested scopes reuse the outer one."""
    outer = _ACTIVE.get()
    if outer is not None:
        yield outer
        return
    store: dict[tuple, Any] = {}
    token = _ACTIVE.set(store)
    try:
        yield store
    finally:
        _ACTIVE.reset(token)
        store.clear()


def frame_key(*frames: object) -> tuple:
    """Identity of the frames (None-safe), for cache keys; the scope keeps them alive."""
    return tuple(None if f is None else id(f) for f in frames)


def rng_key(rng: np.random.Generator | None) -> str:
    """The generator's state before use: two fresh generators with the same seed share a key."""
    return "none" if rng is None else repr(rng.bit_generator.state)


def memo(key: tuple, compute: Callable[[], T], *, keep: tuple = ()) -> T:
    """Return the cached value for ``key`` in the active scope, computing it once.

    ``keep`` holds objects whose ``id`` is part of ``key`` so they outlive the scope's entry.
    """
    store = _ACTIVE.get()
    if store is None:
        return compute()
    if key not in store:
        store[key] = (compute(), keep)
    return store[key][0]
