"""Trainer callbacks: what happens around the fit loop without the loop knowing (progress, logging, …).

The :class:`~synthloop.nn.trainer.Trainer` calls each hook of each callback in order:

- ``on_build(model)``: the nets and optimizers exist (before any checkpoint is restored);
- ``on_train_begin(trainer, start_epoch)``: training starts, or resumes at ``start_epoch`` > 0;
- ``on_batch_end(epoch, step, n_steps, losses)``: one optimisation step is done;
- ``on_epoch_end(epoch, losses)``: an epoch is done, with its mean losses;
- ``on_train_end(history)``: the loop is over (also after Ctrl-C, before the interrupt propagates).

A callback must not draw random numbers or change the model: a fit with or without callbacks
learns the same weights. The progress bar is one callback; a future workbench streams losses
through another.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any


class Callback:
    """Base class with every hook a no-op; override the ones you need."""

    def on_build(self, model: Any) -> None:
        """The model's nets and optimizers were just built."""

    def on_train_begin(self, trainer: Any, start_epoch: int) -> None:
        """Training starts at ``start_epoch`` (> 0 when resumed from a checkpoint)."""

    def on_batch_end(self, epoch: int, step: int, n_steps: int, losses: dict[str, float]) -> None:
        """Step ``step`` (1-based) of ``n_steps`` in ``epoch`` finished with ``losses``."""

    def on_epoch_end(self, epoch: int, losses: dict[str, float]) -> None:
        """Epoch ``epoch`` (0-based) finished; ``losses`` are its means."""

    def on_train_end(self, history: list[dict[str, float]]) -> None:
        """The loop is over; ``history`` holds one dict of mean losses per epoch."""


class ProgressBar(Callback):
    """A rich progress bar on stderr with the losses, and a line saying when a fit resumes."""

    def __init__(self, description: str):
        self.description = description
        self._context: Any = None
        self._bar = self._task = None

    def on_train_begin(self, trainer: Any, start_epoch: int) -> None:
        if start_epoch:
            from rich.console import Console

            where = f" ({trainer.checkpoint_path})" if trainer.checkpoint_path is not None else ""
            Console(stderr=True).print(f"{self.description}: resuming from epoch {start_epoch} of {trainer.epochs}"
                                       f"{where}", style="dim", highlight=False)
        self._context = progress_bar(self.description, trainer.epochs, start_epoch, unit="epoch", show_losses=True)
        self._bar, self._task = self._context.__enter__()

    def on_batch_end(self, epoch: int, step: int, n_steps: int, losses: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=epoch + min(step / max(n_steps, 1), 1.0))

    def on_epoch_end(self, epoch: int, losses: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=epoch + 1,
                             losses="  ".join(f"{k} {v:.4g}" for k, v in losses.items()))

    def on_train_end(self, history: list[dict[str, float]]) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
        self._context = self._bar = self._task = None


def progress_bar(description: str, total: int, start: int = 0, *, unit: str, show_losses: bool = False):
    """A rich progress bar on stderr as a context giving ``(bar, task)``; ``(None, None)`` off a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return nullcontext((None, None))
    columns = [TextColumn("[bold]{task.description}"), BarColumn(bar_width=24),
               TextColumn(f"{unit} {{task.completed:.0f}}/{{task.total:.0f}}"), TimeElapsedColumn(), TimeRemainingColumn()]
    if show_losses:
        columns.append(TextColumn("{task.fields[losses]}"))
    return _BarContext(Progress(*columns, console=console), description, total, start)


class _BarContext:
    def __init__(self, bar: Any, description: str, total: int, start: int):
        self.bar, self.description, self.total, self.start = bar, description, total, start

    def __enter__(self) -> tuple[Any, Any]:
        from rich.errors import LiveError

        try:
            self.bar.__enter__()
        except LiveError:                      # another live display owns this console: go on without a bar
            self.bar = None
            return None, None
        task = self.bar.add_task(self.description, total=self.total, completed=self.start, losses="")
        return self.bar, task

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
