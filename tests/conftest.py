from pathlib import Path

import pandas as pd
import pytest

import synthloop as sl


@pytest.fixture(scope="session")
def adult_train() -> pd.DataFrame:
    return sl.datasets.load("adult", split="train")


@pytest.fixture(scope="session")
def adult_small(adult_train) -> pd.DataFrame:
    """2,000 Adult rows: real data, small enough for fast tests."""
    return adult_train.sample(2000, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="session")
def penguins() -> pd.DataFrame:
    return sl.datasets.load("penguins")


@pytest.fixture
def penguins_csv(tmp_path, penguins) -> Path:
    """The penguins table as a CSV file, for the command-line tests."""
    path = tmp_path / "penguins.csv"
    penguins.to_csv(path, index=False)
    return path
