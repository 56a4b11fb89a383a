"""One way to run independent tasks: in this process, on a local process pool, or on Ray.

Search trials and sample partitions are independent tasks that may hang or crash, so the unit here
is a *job* that can be waited on with a deadline and killed. :class:`Runner` gives the same four
calls over both backends:

- ``submit(fn, *args)`` starts ``fn(*args)`` and returns a :class:`Job`;
- ``wait(jobs, timeout)`` returns the jobs that finished (result or error) within ``timeout``;
- ``result(job)`` returns its value or re-raises its error as :class:`TaskFailed`;
- ``kill(job)`` stops it now (a hanging trial past its share of a budget).

``local`` forks one process per job on Linux (spawns elsewhere), so a job that hangs in native code
is still killed outright, and a crash (segfault, out of memory) is reported, not inherited. ``ray``
uses an already-initialised cluster (``ray.init(address=...)`` before the call, or ``RAY_ADDRESS``,
points it at one) or starts a local Ray with ``n_jobs`` CPUs (``pip install 'synthloop[distributed]'``).

:func:`map_seeded` is the simple case: ``fn(item, seed)`` for every item, with seeds spawned from one
root (``SeedSequence(seed).spawn``), so the results do not depend on the backend or the worker count.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synthloop.errors import ConfigError, SynthloopError, require

BACKENDS = ("local", "ray")


class TaskFailed(SynthloopError, RuntimeError):
    """A task raised, crashed or was killed; the message holds the worker's error."""


def task_seeds(seed: int | None, n: int) -> list[int]:
    """``n`` independent 62-bit seeds spawned from ``seed`` (the same for any backend and worker count)."""
    children = np.random.SeedSequence(seed).spawn(n)
    return [int(child.generate_state(1, np.uint64)[0] >> np.uint64(2)) for child in children]


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ConfigError(f"Unknown backend '{backend}'; choose one of {', '.join(BACKENDS)}.")
    return backend


@dataclass(eq=False)
class Job:
    """One submitted task: its handle on the backend and, once finished, its outcome."""

    handle: Any
    started: float = field(default_factory=time.monotonic)
    done: bool = False
    value: Any = None
    error: str | None = None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Runner:
    """Submit, wait for, and kill jobs on the ``local`` pool or on ``ray``; use it as a context manager."""

    def __init__(self, backend: str = "local", n_jobs: int | None = None):
        self.backend = check_backend(backend)
        self.n_jobs = max(1, n_jobs or os.cpu_count() or 1)
        self._live: list[Job] = []
        self._remote: dict[Callable[..., Any], Any] = {}
        if backend == "ray":
            self._ray = require("ray", "distributed", "The Ray backend")
            if not self._ray.is_initialized():
                # RAY_ADDRESS names a running cluster: join it (Ray refuses num_cpus there); else start a local one
                local = {} if os.environ.get("RAY_ADDRESS") else {"num_cpus": self.n_jobs, "include_dashboard": False}
                self._ray.init(log_to_driver=False, **local)
        else:
            import multiprocessing

            self._context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        for job in list(self._live):
            self.kill(job)

    # ------------------------------------------------------------------ the four calls
    def submit(self, fn: Callable[..., Any], *args: Any) -> Job:
        if self.backend == "ray":
            if fn not in self._remote:      # exported to the cluster once per function, not once per task
                self._remote[fn] = self._ray.remote(num_cpus=1, max_retries=0)(fn)
            job = Job(self._remote[fn].remote(*args))
        else:
            receive, send = self._context.Pipe(duplex=False)
            process = self._context.Process(target=_child, args=(send, fn, args), daemon=True)
            process.start()
            send.close()
            job = Job((process, receive))
        self._live.append(job)
        return job

    def wait(self, jobs: Sequence[Job], timeout: float | None = None) -> list[Job]:
        """The jobs among ``jobs`` that have finished, waiting up to ``timeout`` seconds for at least one."""
        pending = [job for job in jobs if not job.done]
        if pending:
            if self.backend == "ray":
                self._wait_ray(pending, timeout)
            else:
                self._wait_local(pending, timeout)
        return [job for job in jobs if job.done]

    def result(self, job: Job) -> Any:
        if not job.done:
            self.wait([job])
        if job.error is not None:
            raise TaskFailed(job.error)
        return job.value

    def kill(self, job: Job, reason: str = "killed") -> None:
        if not job.done:
            if self.backend == "ray":
                with contextlib.suppress(Exception):
                    self._ray.cancel(job.handle, force=True)
            else:
                process, receive = job.handle
                process.kill()
                process.join(5)
                receive.close()
            job.done, job.error = True, reason
        with contextlib.suppress(ValueError):
            self._live.remove(job)

    # ------------------------------------------------------------------ backends
    def _wait_local(self, pending: list[Job], timeout: float | None) -> None:
        from multiprocessing.connection import wait

        ready = wait([job.handle[1] for job in pending], timeout)
        for job in pending:
            process, receive = job.handle
            if receive not in ready:
                continue
            try:
                ok, payload = receive.recv()
            except (EOFError, OSError):     # the process died without a word: a crash or out of memory
                process.join(5)
                ok, payload = False, f"the worker process died (exit code {process.exitcode})"
            process.join(5)
            receive.close()
            job.done = True
            job.value, job.error = (payload, None) if ok else (None, payload)
            with contextlib.suppress(ValueError):
                self._live.remove(job)

    def _wait_ray(self, pending: list[Job], timeout: float | None) -> None:
        ray = self._ray
        ready, _ = ray.wait([job.handle for job in pending], num_returns=1, timeout=timeout)
        ready_ids = set(ready)
        for job in pending:
            if job.handle not in ready_ids:
                continue
            try:
                job.value = ray.get(job.handle)
            except Exception as exc:        # RayTaskError wraps the task's own error and traceback
                job.error = f"{type(exc).__name__}: {exc}"
            job.done = True
            with contextlib.suppress(ValueError):
                self._live.remove(job)


def _child(send, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """In a local worker: run ``fn(*args)`` and send ``(ok, value or error text)`` to the parent."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)    # Ctrl-C reaches the parent, which kills the jobs
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # die with the parent
    try:
        outcome = (True, fn(*args))
    except BaseException as exc:  # everything is reported to the parent as text
        outcome = (False, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}")
    send.send(outcome)
    send.close()


def map_tasks(fn: Callable[..., Any], args: Sequence[tuple[Any, ...]], *, backend: str = "local",
              n_jobs: int | None = None, on_done: Callable[[int, Any], None] | None = None) -> list[Any]:
    """``[fn(*a) for a in args]`` with at most ``n_jobs`` running at once; results in the order of ``args``.

    ``on_done(index, value)`` is called as each task finishes. The first failure kills the other
    tasks and raises :class:`TaskFailed`.
    """
    results: list[Any] = [None] * len(args)
    with Runner(backend, n_jobs) as runner:
        queue = iter(enumerate(args))
        running: dict[Job, int] = {}
        for index, task in itertools.islice(queue, runner.n_jobs):
            running[runner.submit(fn, *task)] = index
        while running:
            for job in runner.wait(list(running)):
                index = running.pop(job)
                results[index] = runner.result(job)
                if on_done is not None:
                    on_done(index, results[index])
                for next_index, task in itertools.islice(queue, 1):
                    running[runner.submit(fn, *task)] = next_index
    return results


def map_seeded(fn: Callable[[Any, int], Any], items: Sequence[Any], *, seed: int | None = 0,
               backend: str = "local", n_jobs: int | None = None,
               on_done: Callable[[int, Any], None] | None = None) -> list[Any]:
    """``[fn(item, seed_i) for each item]``, ``seed_i`` from :func:`task_seeds`; see :func:`map_tasks`."""
    seeds = task_seeds(seed, len(items))
    return map_tasks(fn, list(zip(items, seeds, strict=True)), backend=backend, n_jobs=n_jobs, on_done=on_done)
