"""Where the lab's chains run: this process, a local process pool, or a Ray cluster.

Chains are independent (one policy, one seed); the generations inside a chain are sequential by
nature. The local pool forks on Linux (so a plain script without ``if __name__ == "__main__":``
works) and spawns elsewhere; Ray uses an already-initialised cluster, or starts a local one with
``n_jobs`` CPUs (``synthloop[distributed]``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from synthloop.errors import ConfigError, require
from synthloop.lab.chain import ChainSpec, run_chain

BACKENDS = ("local", "ray")


def run_chains(specs: Sequence[ChainSpec], *, backend: str = "local", n_jobs: int | None = None) -> list[list[dict[str, Any]]]:
    """Run every chain and return their result rows, in the order of ``specs``."""
    if backend not in BACKENDS:
        raise ConfigError(f"Unknown lab backend '{backend}'; choose one of {', '.join(BACKENDS)}.")
    n_jobs = max(1, min(n_jobs or os.cpu_count() or 1, len(specs)))
    if backend == "ray":
        return _run_ray(specs, n_jobs)
    if n_jobs == 1:
        return [run_chain(spec) for spec in specs]
    return _run_pool(specs, n_jobs)


def _run_pool(specs: Sequence[ChainSpec], n_jobs: int) -> list[list[dict[str, Any]]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=context) as pool:
        return list(pool.map(run_chain, specs))


def _run_ray(specs: Sequence[ChainSpec], n_jobs: int) -> list[list[dict[str, Any]]]:
    ray = require("ray", "distributed", "The lab's Ray backend")
    if not ray.is_initialized():
        ray.init(num_cpus=n_jobs, include_dashboard=False, log_to_driver=False)
    remote_chain = ray.remote(num_cpus=1)(run_chain)
    return ray.get([remote_chain.remote(spec) for spec in specs])
