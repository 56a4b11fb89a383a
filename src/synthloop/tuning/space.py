"""What a search may try: the candidate models and each one's declared search space.

Every synthesizer declares ``search_space(trial) -> params`` (``Synthesizer.search_space``). The
search names each parameter in Optuna as ``MODEL.PARAM``: two models may declare the same name with
different choices (``batch_size`` of ctgan and tvae), and Optuna's storage refuses one name with two
sets of choices in one study. A trial whose ``params`` are empty runs the model's defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from synthloop.errors import ConfigError

#: The model choice, recorded as an Optuna parameter so the sampler conditions on it.
MODEL_PARAM = "model"


class Prefixed:
    """An Optuna trial seen through a prefix: ``suggest_int("min_leaf", ...)`` records ``cart.min_leaf``."""

    def __init__(self, trial: Any, prefix: str):
        self._trial, self._prefix = trial, prefix

    def suggest_int(self, name: str, *args: Any, **kwargs: Any) -> int:
        return self._trial.suggest_int(f"{self._prefix}.{name}", *args, **kwargs)

    def suggest_float(self, name: str, *args: Any, **kwargs: Any) -> float:
        return self._trial.suggest_float(f"{self._prefix}.{name}", *args, **kwargs)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self._trial.suggest_categorical(f"{self._prefix}.{name}", list(choices))


def check_candidates(models: Sequence[str] | str | None) -> tuple[str, ...]:
    """The candidate model names (default: every registered model); an unknown name is a ConfigError."""
    from synthloop.synthesizers import REGISTRY

    if models is None:
        return tuple(REGISTRY.names())
    names = [m.strip() for m in models.split(",")] if isinstance(models, str) else [str(m) for m in models]
    names = [n for n in dict.fromkeys(names) if n]
    if not names:
        raise ConfigError("No candidate models given; name at least one (see: synthloop models).")
    for name in names:
        REGISTRY.target(name)        # raises ConfigError with a did-you-mean
    return tuple(names)


def suggest(trial: Any, model: str) -> dict[str, Any]:
    """Parameters for ``model`` drawn from its declared space, with their plain (unprefixed) names."""
    from synthloop.synthesizers import get_class

    return dict(get_class(model).search_space(Prefixed(trial, model)))


def plain_params(params: dict[str, Any], model: str) -> dict[str, Any]:
    """An Optuna trial's recorded parameters for ``model``, without the prefix and the model choice."""
    prefix = f"{model}."
    return {key[len(prefix):]: value for key, value in params.items() if key.startswith(prefix)}


class _Probe:
    """Answers every suggestion with its first option; used to ask whether a model declares a space."""

    def suggest_int(self, name: str, low: int, *args: Any, **kwargs: Any) -> int:
        return low

    def suggest_float(self, name: str, low: float, *args: Any, **kwargs: Any) -> float:
        return low

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return next(iter(choices))


def has_space(model: str) -> bool:
    """Whether ``model`` declares any searchable parameter (else its defaults are its only trial)."""
    from synthloop.synthesizers import get_class

    return bool(get_class(model).search_space(_Probe()))
