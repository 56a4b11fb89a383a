"""Synthetic environments: streams of windows drawn from a fitted synthesizer (or a table) with named,
composable drift scenarios and ground-truth change points, for testing monitors and retraining loops.

``Scenario.from_toml("scenario.toml")``; ``stream(model, scenario)`` yields :class:`Window` values;
``write_stream(model, scenario, "stream/")`` writes them with ``truth.json``. Drifts and schedules
are loop values (``to_config``/``from_config``); :func:`available` lists them.
"""

from synthloop.loop.values import available as _available
from synthloop.simulate.drifts import (
    CategoryShift,
    ConceptShift,
    Correlation,
    Drift,
    MeanShift,
    Missingness,
    NewCategory,
    Outliers,
    PriorShift,
    Scale,
)
from synthloop.simulate.scenario import Scenario, Window, stream, write_stream
from synthloop.simulate.schedules import Gradual, Incremental, Recurring, Schedule, Seasonal, Sudden


def available() -> dict[str, list[str]]:
    """The drift and schedule names a scenario file may use."""
    return {"drift": _available("drift"), "schedule": _available("schedule")}


__all__ = ["CategoryShift", "ConceptShift", "Correlation", "Drift", "Gradual", "Incremental", "MeanShift",
           "Missingness", "NewCategory", "Outliers", "PriorShift", "Recurring", "Scale", "Scenario", "Schedule",
           "Seasonal", "Sudden", "Window", "available", "stream", "write_stream"]
