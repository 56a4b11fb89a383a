"""Real datasets bundled with synthloop, loadable offline.

- ``adult``: UCI Adult / Census Income (Becker & Kohavi, 1996), 48,842 rows; CC BY 4.0,
  https://doi.org/10.24432/C5XW20. Missing values (``?`` in the source) are NaN.
- ``penguins``: Palmer Archipelago penguins (Gorman, Williams & Fraser, 2014; Horst et al.),
  344 rows with missing values; CC0.
- ``breast_cancer``, ``wine``: from scikit-learn (UCI, CC BY 4.0).

``split="train"`` and ``"test"`` give a fixed-seed (0) stratified 80/20 split on the target, so the
test split can serve as the real holdout that a synthesizer never sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Literal

import pandas as pd

from synthloop.errors import ConfigError
from synthloop.registry import unknown_name

Split = Literal["all", "train", "test"]


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    target: str | None
    task: Literal["classification", "regression"]
    source: str
    licence: str


_INFO = {
    "adult": DatasetInfo("adult", "income", "classification",
                         "UCI Adult (Becker & Kohavi 1996), doi:10.24432/C5XW20", "CC BY 4.0"),
    "penguins": DatasetInfo("penguins", "species", "classification",
                            "Palmer penguins (Gorman et al. 2014; Horst et al. 2020)", "CC0"),
    "breast_cancer": DatasetInfo("breast_cancer", "target", "classification",
                                 "UCI Breast Cancer Wisconsin via scikit-learn", "CC BY 4.0"),
    "wine": DatasetInfo("wine", "target", "classification", "UCI Wine via scikit-learn", "CC BY 4.0"),
}


def available() -> list[str]:
    """Names accepted by :func:`load`."""
    return sorted(_INFO)


def info(name: str) -> DatasetInfo:
    _check(name)
    return _INFO[name]


def load(name: str, *, split: Split = "all") -> pd.DataFrame:
    """Load a bundled dataset; ``split`` is ``all``, ``train`` (80%) or ``test`` (20%)."""
    _check(name)
    if split not in ("all", "train", "test"):
        raise ConfigError(f"Unknown split '{split}'; choose 'all', 'train' or 'test'.")
    data = _read(name)
    if split == "all":
        return data
    train, test = split_frame(data, target=_INFO[name].target)
    return train if split == "train" else test


def split_frame(data: pd.DataFrame, *, target: str | None = None, test_size: float = 0.2,
                seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified (on ``target`` when given) train/test split with a fixed seed; indexes reset."""
    from sklearn.model_selection import train_test_split

    stratify = data[target] if target is not None and data[target].nunique() > 1 else None
    train, test = train_test_split(data, test_size=test_size, random_state=seed, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _check(name: str) -> None:
    if name not in _INFO:
        raise unknown_name("dataset", name, available())


def _read(name: str) -> pd.DataFrame:
    if name in ("breast_cancer", "wine"):
        from sklearn import datasets as sk

        frame = getattr(sk, f"load_{name}")(as_frame=True).frame
        frame["target"] = frame["target"].astype(str)
        return frame
    with resources.as_file(resources.files(__package__) / "data" / f"{name}.csv.gz") as path:
        return pd.read_csv(path, keep_default_na=True)
