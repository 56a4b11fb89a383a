"""Where the lab's chains run: this process, a local process pool, or a Ray cluster.

Chains are independent (one policy, one seed); the generations inside a chain are sequential by
nature. The local pool forks on Linux (so a plain script without ``if __name__ == "__main__":``
works) and spawns elsewhere; Ray uses an already-initialised cluster, or starts a local one with
``n_jobs`` CPUs (``synthloop[distributed]``).

Stopping: SIGTERM to the process running the lab raises :class:`LabInterrupted` in it, and the pool
is terminated, so no worker keeps writing generation folders after the run was stopped; on Linux a
worker also dies with its parent (``PR_SET_PDEATHSIG``) when the parent is killed outright.
Progress events (policy, seed, generation) come back from the workers through a queue.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from synthloop.errors import ConfigError
from synthloop.lab.chain import ChainSpec, OnGeneration, run_chain

BACKENDS = ("local", "ray")
_POLL_SECONDS = 0.2
_events: Any = None  # the progress queue, in a pool worker


class LabInterrupted(KeyboardInterrupt):
    """The lab was asked to stop (SIGTERM); finished generations are kept and the run can be resumed."""


def run_chains(specs: Sequence[ChainSpec], *, backend: str = "local", n_jobs: int | None = None,
               on_generation: OnGeneration | None = None) -> list[list[dict[str, Any]]]:
    """Run every chain and return their result rows, in the order of ``specs``."""
    if backend not in BACKENDS:
        raise ConfigError(f"Unknown lab backend '{backend}'; choose one of {', '.join(BACKENDS)}.")
    n_jobs = max(1, min(n_jobs or os.cpu_count() or 1, len(specs)))
    with _sigterm_interrupts():
        if backend == "ray":
            return _run_ray(specs, n_jobs, on_generation)
        if n_jobs == 1:
            return [run_chain(spec, on_generation) for spec in specs]
        return _run_pool(specs, n_jobs, on_generation)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into :class:`LabInterrupted` in this (main) thread while chains run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise LabInterrupted("stopped by SIGTERM")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _worker_init(events) -> None:
    """In each pool worker: default signal handling, die with the parent, and report progress to ``events``."""
    global _events
    _events = events
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which terminates the pool
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _pool_chain(spec: ChainSpec) -> list[dict[str, Any]]:
    return run_chain(spec, lambda label, seed, generation: _events.put((label, seed, generation)))


def _run_pool(specs: Sequence[ChainSpec], n_jobs: int, on_generation: OnGeneration | None) -> list[list[dict[str, Any]]]:
    import multiprocessing

    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    events = context.Queue()
    pool = context.Pool(n_jobs, initializer=_worker_init, initargs=(events,))
    try:
        pending = pool.map_async(_pool_chain, specs, chunksize=1)
        while not pending.ready():
            _drain(events, on_generation, timeout=_POLL_SECONDS)
        results = pending.get()
        _drain(events, on_generation, timeout=0)
        pool.close()
        return results
    finally:
        pool.terminate()  # on an error or SIGTERM: stop every worker now (a no-op after a clean close)
        pool.join()


def _drain(events, on_generation: OnGeneration | None, *, timeout: float) -> None:
    """Pass every queued progress event on (waiting up to ``timeout`` for the first)."""
    try:
        event = events.get(timeout=timeout) if timeout else events.get_nowait()
        while True:
            if on_generation is not None:
                on_generation(*event)
            event = events.get_nowait()
    except queue.Empty:
        return


def _run_ray(specs: Sequence[ChainSpec], n_jobs: int, on_generation: OnGeneration | None) -> list[list[dict[str, Any]]]:
    """On Ray through :mod:`synthloop.parallel`, the backend search trials and sample partitions use too.

    Progress is reported per finished chain (Ray tasks have no event queue back to this process).
    """
    from synthloop.parallel import map_tasks

    def report(index: int, rows: list[dict[str, Any]]) -> None:
        for row in rows if on_generation is not None else ():
            on_generation(row["policy"], int(row["seed"]), int(row["generation"]))

    return map_tasks(run_chain, [(spec,) for spec in specs], backend="ray", n_jobs=n_jobs, on_done=report)
