"""How the neural parts run: device, CPU threads and random streams (no global state).

- **Device**: ``"auto"`` picks CUDA when available; the parameter validator has already said what
  is available when a wrong one was asked for (:class:`synthloop.synthesizers.params.Device`).
- **Threads**: torch's CPU kernels split their sums differently with a different thread count, so
  the *weights* of a fit depend on it (measured: ctgan on Adult differs after one epoch between 1 and
  2 threads). A seeded fit therefore runs on a fixed count, ``threads`` when given, else
  :data:`SEEDED_THREADS`, and never on a count read from the machine's momentary load; the count
  used is recorded with the model (``fit_threads_``). An unseeded fit, where reproducibility is
  not asked for, uses the idle cores (:func:`default_threads`).
- **Random streams**: every draw of a net (noise, dropout masks, shuffles, Gumbel noise) takes the
  model's explicit ``torch.Generator`` (:func:`torch_generator`). Only the layers' initial weights,
  drawn by torch's ``nn.init`` without a generator argument, come from a forked and seeded global
  stream (:func:`seeded`), which is restored afterwards.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

import torch
from torch import nn

from synthloop.nn.blocks import Dropout

#: Threads of a seeded fit (and its samples) when ``threads`` is not given: one thread gives the same
#: weights on every machine and under any load, and on a busy machine it is also the fastest
#: (spinning OpenMP peers: 0.08 s/step with one thread vs 1.35 s with two on a loaded 2-core box).
SEEDED_THREADS = 1


def resolve_device(device: str) -> torch.device:
    """``"auto"`` picks CUDA when it is available, else the CPU; anything else is passed to torch."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def run_threads(requested: int | None, *, seeded: bool) -> int:
    """The thread count of a fit or sample: ``requested``, else fixed for a seeded run, else the idle cores."""
    if requested is not None:
        return int(requested)
    return SEEDED_THREADS if seeded else default_threads()


def torch_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """An explicit torch generator on ``device``, seeded; pass it to every random op that takes one."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed) % 2**63)
    return generator


def use_generator(nets: dict[str, nn.Module] | nn.Module, generator: torch.Generator) -> None:
    """Point every module with a ``generator`` attribute (our Dropout) at the model's generator."""
    for net in nets.values() if isinstance(nets, dict) else [nets]:
        for module in net.modules():
            if isinstance(module, Dropout):
                module.generator = generator


def randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """``torch.randn_like`` from an explicit generator (``randn_like`` itself takes none)."""
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def rand_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """``torch.rand_like`` from an explicit generator."""
    return torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """The idle cores this process may use, between 1 and 8.

    Small MLPs stop scaling beyond a few threads, and on a busy machine extra OpenMP threads make
    each step many times slower (they spin waiting for descheduled peers; measured 0.08 s/step with
    one thread vs 1.35 s with two on a loaded 2-core box), so cores busy with other work right now
    are subtracted. "Right now" is read from the kernel's CPU counters over 50 ms, not from the load
    average: that one-minute average still counts a job that just finished (often the previous
    command of the same pipeline) and would halve the threads on an idle 2-core machine. A reading
    is reused for a few seconds, so sampling that regenerates rows in rounds does not wait each time.
    """
    now = time.monotonic()
    if _THREADS_READING and now - _THREADS_READING[0] < _THREADS_READING_SECONDS:
        return _THREADS_READING[1]
    cores = available_cores()
    threads = max(1, min(8, cores, round(cores - _busy_cores(cores) + 0.49)))
    _THREADS_READING[:] = [now, threads]
    return threads


# (when, threads) of the last reading of the idle cores; a busy/idle change shows after this many seconds.
_THREADS_READING: list = []
_THREADS_READING_SECONDS = 5.0


def _busy_cores(cores: int, window: float = 0.05) -> float:
    """Cores busy over the next ``window`` seconds (from /proc/stat; the load average elsewhere)."""
    try:
        before = _cpu_times()
        time.sleep(window)
        after = _cpu_times()
    except (OSError, ValueError):
        try:
            return os.getloadavg()[0]
        except OSError:  # pragma: no cover - not available
            return 0.0
    total = sum(after) - sum(before)
    idle = (after[3] + after[4]) - (before[3] + before[4])          # idle + iowait
    return cores * (1 - idle / total) if total > 0 else 0.0


def _cpu_times() -> list[int]:
    with open("/proc/stat", encoding="ascii") as stat:
        return [int(field) for field in stat.readline().split()[1:]]


@contextlib.contextmanager
def torch_threads(n_threads: int | None = None) -> Iterator[None]:
    """Run with ``n_threads`` intra-op threads (default: :func:`default_threads`); restores the setting after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, n_threads or default_threads()))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Initialise layers from torch's global CPU RNG reproducibly, restoring the caller's state after.

    ``nn.Linear`` and friends draw their initial weights without a generator argument; everything a
    model draws after construction takes its explicit generator instead.
    """
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
