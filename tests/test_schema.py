import numpy as np
import pandas as pd
import pytest

import synthloop as sl
from synthloop.errors import DataError, SchemaError
from synthloop.schema import FixedCombinations, Inequality, Predicate, Range


def test_infer_adult_kinds(adult_small):
    schema = sl.Schema.infer(adult_small, target="income")
    assert schema["age"].kind == "numeric" and schema["age"].integer
    assert schema["workclass"].kind == "categorical" and schema["workclass"].nullable
    assert schema["income"].categories == ("<=50K", ">50K")
    assert schema.target == "income"


def test_infer_special_kinds():
    frame = pd.DataFrame({
        "user_id": np.arange(50), "flag": [True, False] * 25, "const": ["x"] * 50,
        "empty": [np.nan] * 50, "when": pd.date_range("2020-01-01", periods=50, freq="D"),
        "name": [f"person {i}" for i in range(50)], "score": np.linspace(0, 1, 50),
    })
    kinds = {c.name: c.kind for c in sl.Schema.infer(frame).columns}
    assert kinds == {"user_id": "id", "flag": "boolean", "const": "constant", "empty": "constant",
                     "when": "datetime", "name": "id", "score": "numeric"}


def test_model_frame_round_trip_keeps_dtypes_and_labels(penguins):
    schema = sl.Schema.infer(penguins)
    back = schema.from_model_frame(schema.to_model_frame(penguins))
    pd.testing.assert_frame_equal(back, penguins)


def test_json_round_trip_with_constraints(adult_small):
    schema = sl.Schema.infer(adult_small).with_constraints(
        Range("age", 18, 80), Inequality("education_num", "age"),
        FixedCombinations(("education", "education_num")), Predicate("hours_per_week <= 99"))
    assert sl.Schema.from_json(schema.to_json()) == schema


def test_validate_lists_every_problem(adult_small):
    schema = sl.Schema.infer(adult_small)
    bad = adult_small.drop(columns=["race"]).assign(age=adult_small["age"].astype(object))
    bad.loc[0, "age"] = "abc"
    bad["extra"] = 1
    with pytest.raises(SchemaError) as info:
        schema.validate(bad)
    message = str(info.value)
    assert "'race'" in message and "'age'" in message and "extra" in message and "3 problems" in message


@pytest.mark.parametrize("frame, fragment", [
    (pd.DataFrame(), "no columns"),
    (pd.DataFrame({"a": []}), "no rows"),
    (pd.DataFrame([[1, 2]], columns=["a", "a"]), "duplicate"),
])
def test_bad_tables_are_refused(frame, fragment):
    with pytest.raises(DataError, match=fragment):
        sl.Schema.infer(frame)


def test_infinite_values_are_named():
    with pytest.raises(SchemaError, match="'x' has 1 infinite"):
        sl.Schema.infer(pd.DataFrame({"x": [1.0, np.inf, 2.0]}))


def test_invalid_schema_json_is_explained():
    with pytest.raises(SchemaError, match="columns"):
        sl.Schema.from_json('{"target": null}')
    with pytest.raises(SchemaError, match="not valid JSON"):
        sl.Schema.from_json("{")


def test_all_missing_column_declared_numeric_is_accepted():
    frame = pd.DataFrame({"x": [np.nan] * 5, "y": [1, 2, 3, 4, 5]})
    column = sl.Schema.infer(frame, kinds={"x": "numeric"})["x"]
    assert column.kind == "numeric" and column.nullable and column.low is None
