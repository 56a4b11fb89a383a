"""Interactive charts for the HTML report, as plotly figure specs (plain dicts of ``data`` and ``layout``).

Every chart is drawn from the report's detail tables, so a report read back from JSON draws the same
pictures. The page embeds plotly.js once and draws these specs in the browser; building dicts (not
``plotly.graph_objects``) keeps rendering a report to milliseconds and needs no Python plotting
library. Each function returns a spec, or None when its table is absent.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

COLOURS = {"real": "#1f4e79", "synthetic": "#e07b00", "holdout": "#8c8c8c"}
TABLES = ("real", "holdout", "synthetic")
TOP_PAIRS = 10
FONT = {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12}

Figure = dict[str, Any]


def _layout(height: int, **extra: Any) -> dict[str, Any]:
    return {"height": height, "margin": {"l": 50, "r": 10, "t": 30, "b": 40}, "font": FONT,
            "legend": {"orientation": "h", "y": 1.12, "x": 0}, "plot_bgcolor": "#fff",
            "xaxis": {"automargin": True, "gridcolor": "#eee"}, "yaxis": {"automargin": True, "gridcolor": "#eee"},
            **extra}


def _round(values, digits: int = 4) -> list:
    return [None if v is None or (isinstance(v, float) and not math.isfinite(v)) else round(float(v), digits)
            for v in values]


def column_distribution(marginals: pd.DataFrame, column: str) -> Figure | None:
    """One column: share of rows per bin (numeric, as lines) or category (bars) for real, holdout, synthetic."""
    part = marginals[marginals["column"] == column]
    if part.empty:
        return None
    numeric = part["kind"].iloc[0] == "numeric"
    used = set(part.loc[part["share"] > 0, "order"])      # empty "(other)" / "(missing)" bins are noise
    part = part[part["order"].isin(used)]
    traces = []
    for table in TABLES:
        rows = part[part["table"] == table].sort_values("order")
        if rows.empty:
            continue
        trace = {"name": table, "x": rows["bin"].astype(str).tolist(), "y": _round(rows["share"]),
                 "marker": {"color": COLOURS[table]},
                 "hovertemplate": f"{table}<br>%{{x}}: %{{y:.1%}}<extra></extra>"}
        if numeric:
            trace.update(type="scatter", mode="lines", line={"shape": "hvh", "width": 2, "color": COLOURS[table]})
        else:
            trace.update(type="bar")
        traces.append(trace)
    layout = _layout(260, barmode="group", yaxis={"tickformat": ".0%", "automargin": True, "gridcolor": "#eee",
                                                  "title": {"text": "share of rows"}},
                     xaxis={"automargin": True, "type": "category", "tickangle": -35 if not numeric else 0,
                            "nticks": 8 if numeric else None})
    return {"data": traces, "layout": layout}


def association_matrices(associations: pd.DataFrame) -> Figure | None:
    """Real and synthetic association matrices side by side (Spearman ρ for numeric pairs, Cramér's V otherwise)."""
    if associations is None or associations.empty:
        return None
    names = list(dict.fromkeys([*associations["column_a"], *associations["column_b"]]))
    index = {name: i for i, name in enumerate(names)}
    traces = []
    for position, source in enumerate(("real", "synthetic")):
        matrix = np.eye(len(names))
        for row in associations.itertuples(index=False):
            value = getattr(row, source)
            matrix[index[row.column_a], index[row.column_b]] = matrix[index[row.column_b], index[row.column_a]] = value
        axis = "" if position == 0 else "2"
        traces.append({"type": "heatmap", "z": [_round(r, 3) for r in matrix], "x": names, "y": names,
                       "xaxis": f"x{axis}", "yaxis": f"y{axis}", "zmin": -1, "zmax": 1, "colorscale": "RdBu",
                       "reversescale": True, "showscale": position == 1, "name": source,
                       "hovertemplate": f"{source}<br>%{{y}} × %{{x}}: %{{z:.3f}}<extra></extra>"})
    tick = {"automargin": True, "tickfont": {"size": 11}}
    layout = _layout(560, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                     xaxis={**tick, "domain": [0.0, 0.45], "tickangle": -45},
                     yaxis={**tick, "autorange": "reversed"},
                     xaxis2={**tick, "domain": [0.55, 1.0], "tickangle": -45},
                     yaxis2={**tick, "autorange": "reversed", "anchor": "x2", "showticklabels": False},
                     annotations=[{"text": "real", "x": 0.225, "y": 1.06, "xref": "paper", "yref": "paper",
                                   "showarrow": False, "font": {"size": 14}},
                                  {"text": "synthetic", "x": 0.775, "y": 1.06, "xref": "paper", "yref": "paper",
                                   "showarrow": False, "font": {"size": 14}}])
    return {"data": traces, "layout": layout}


def top_pairs(associations: pd.DataFrame, n: int = TOP_PAIRS) -> pd.DataFrame:
    """The ``n`` column pairs whose association differs most between real and synthetic data."""
    if associations is None or associations.empty:
        return pd.DataFrame(columns=["pair", "measure", "real", "synthetic", "difference"])
    ranked = associations.assign(size=associations["difference"].abs()).sort_values("size", ascending=False).head(n)
    return pd.DataFrame({"pair": [f"{a} × {b}" for a, b in zip(ranked["column_a"], ranked["column_b"])],
                         "measure": ranked["measure"].tolist(), "real": ranked["real"].tolist(),
                         "synthetic": ranked["synthetic"].tolist(), "difference": ranked["difference"].tolist()})


def pair_differences(pairs: pd.DataFrame) -> Figure | None:
    """Grouped bars: real against synthetic association for the pairs that differ most."""
    if pairs.empty:
        return None
    ordered = pairs.iloc[::-1]
    traces = [{"type": "bar", "orientation": "h", "name": source, "y": ordered["pair"].tolist(),
               "x": _round(ordered[source], 3), "marker": {"color": COLOURS[source]},
               "hovertemplate": f"{source}: %{{x:.3f}}<extra>%{{y}}</extra>"} for source in ("real", "synthetic")]
    return {"data": traces, "layout": _layout(60 + 34 * len(pairs), barmode="group",
                                              xaxis={"automargin": True, "gridcolor": "#eee",
                                                     "title": {"text": "association (Spearman ρ or Cramér's V)"}})}


def detection_attributions(attributions: pd.DataFrame | None) -> Figure | None:
    """Bars: detection AUC lost when each column is shuffled (the columns that give synthetic data away)."""
    if attributions is None or attributions.empty or "auc_drop" not in attributions:
        return None
    ordered = attributions.sort_values("auc_drop")
    trace = {"type": "bar", "orientation": "h", "y": ordered["column"].tolist(), "x": _round(ordered["auc_drop"]),
             "marker": {"color": COLOURS["synthetic"]}, "hovertemplate": "%{y}: %{x:.4f}<extra></extra>"}
    return {"data": [trace], "layout": _layout(60 + 22 * len(ordered), showlegend=False,
                                               xaxis={"automargin": True, "gridcolor": "#eee",
                                                      "title": {"text": "detection AUC lost when shuffled"}})}


def detection_slices(slices: pd.DataFrame | None) -> Figure | None:
    """Bars: the share of synthetic rows in the slices the detector tells apart most easily (0.5 = mixed)."""
    if slices is None or slices.empty:
        return None
    ordered = slices.iloc[::-1]
    labels = [f"{c} = {s}" for c, s in zip(ordered["column"], ordered["slice"])]
    trace = {"type": "bar", "orientation": "h", "y": labels, "x": _round(ordered["synthetic_share"]),
             "marker": {"color": COLOURS["synthetic"]}, "customdata": list(zip(ordered["n_real"].astype(int).tolist(),
                                                                               ordered["n_synthetic"].astype(int).tolist())),
             "hovertemplate": "%{y}<br>synthetic share %{x:.1%}<br>real %{customdata[0]}, synthetic "
                              "%{customdata[1]}<extra></extra>"}
    layout = _layout(60 + 26 * len(ordered), showlegend=False,
                     xaxis={"automargin": True, "gridcolor": "#eee", "range": [0, 1], "tickformat": ".0%",
                            "title": {"text": "synthetic share of the slice (50%: mixed)"}},
                     shapes=[{"type": "line", "x0": 0.5, "x1": 0.5, "y0": 0, "y1": 1, "yref": "paper",
                              "line": {"dash": "dot", "color": "#555"}}])
    return {"data": [trace], "layout": layout}


def dcr_distributions(histograms: pd.DataFrame | None) -> Figure | None:
    """Distance to the closest training row: synthetic rows against holdout rows."""
    if histograms is None or histograms.empty or "from" not in histograms:
        return None
    traces = []
    for source, part in histograms.groupby("from", sort=False):
        centres = (part["bin_low"].to_numpy() + part["bin_high"].to_numpy()) / 2
        traces.append({"type": "scatter", "mode": "lines", "name": f"{source} → training",
                       "x": _round(centres), "y": _round(part["share"]),
                       "line": {"shape": "hvh", "width": 2, "color": COLOURS.get(str(source), COLOURS["real"])},
                       "hovertemplate": f"{source}: distance %{{x:.3f}}, %{{y:.1%}} of rows<extra></extra>"})
    return {"data": traces, "layout": _layout(300, xaxis={"automargin": True, "gridcolor": "#eee",
                                                          "title": {"text": "distance to the closest training row"}},
                                              yaxis={"automargin": True, "gridcolor": "#eee", "tickformat": ".0%",
                                                     "title": {"text": "share of rows"}})}
