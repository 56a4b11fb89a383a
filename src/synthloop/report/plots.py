"""Static plots for the HTML report, drawn from the report's detail tables (so a report read back from
JSON draws the same pictures): marginal overlays, the association-difference heatmap, detection
attributions, DCR histograms. Each returns PNG bytes (small: low dpi, few colours) or None."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd

COLOURS = {"real": "#1f4e79", "synthetic": "#e07b00", "holdout": "#7f7f7f"}
DPI = 72
MAX_MARGINALS = 16


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(figsize=(width, height))


def _png(plt, fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)     # fixed layouts: "tight" boxes cost a second draw
    plt.close(fig)
    return buffer.getvalue()


def marginal_overlays(marginals: pd.DataFrame | None) -> bytes | None:
    """Small multiples: per column, the share of rows per bin / category for each table."""
    if marginals is None or marginals.empty:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    columns = list(dict.fromkeys(marginals["column"]))[:MAX_MARGINALS]
    n_cols = 4
    n_rows = math.ceil(len(columns) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(12, 2.4 * n_rows), squeeze=False)
    for ax, name in zip(axes.ravel(), columns):
        part = marginals[marginals["column"] == name]
        bins = part[part["table"] == "real"].sort_values("order")
        keep = bins["share"].to_numpy() > 0
        for table in ("real", "holdout", "synthetic"):
            shares = part[part["table"] == table].sort_values("order")["share"].to_numpy()
            if len(shares) == 0:
                continue
            positions = np.arange(len(shares))
            shown = keep | (shares > 0)
            if (part["kind"].iloc[0]) == "numeric":
                ax.step(positions[shown], shares[shown], where="mid", color=COLOURS[table], label=table, linewidth=1.4)
            else:
                offset = {"real": -0.27, "holdout": 0.0, "synthetic": 0.27}[table]
                ax.bar(positions[shown] + offset, shares[shown], width=0.27, color=COLOURS[table], label=table)
        labels = bins["bin"].tolist()
        step = max(1, len(labels) // 6)
        ax.set_xticks(range(0, len(labels), step), [str(label)[:10] for label in labels[::step]], rotation=45,
                      fontsize=7, ha="right")
        ax.set_title(name, fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes.ravel()[len(columns):]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    fig.subplots_adjust(left=0.05, right=0.99, top=1 - 0.35 / n_rows, bottom=0.7 / (2.4 * n_rows), hspace=0.9, wspace=0.25)
    return _png(plt, fig)


def association_heatmap(associations: pd.DataFrame | None) -> bytes | None:
    """Heatmap of synthetic − real association (Spearman ρ or Cramér's V) for every column pair."""
    if associations is None or associations.empty:
        return None
    names = list(dict.fromkeys([*associations["column_a"], *associations["column_b"]]))
    index = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(names), len(names)))
    for row in associations.itertuples(index=False):
        matrix[index[row.column_a], index[row.column_b]] = matrix[index[row.column_b], index[row.column_a]] = row.difference
    plt, fig, ax = _figure(7.0, 6.0)
    fig.subplots_adjust(left=0.22, bottom=0.22, right=0.98, top=0.98)
    limit = max(0.1, float(np.abs(matrix).max()))
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    fig.colorbar(image, ax=ax, shrink=0.8, label="synthetic − real association")
    return _png(plt, fig)


def detection_attributions(attributions: pd.DataFrame | None) -> bytes | None:
    """Bar chart: AUC lost when each column is shuffled (columns that give synthetic data away)."""
    if attributions is None or attributions.empty:
        return None
    ordered = attributions.sort_values("auc_drop")
    height = 0.25 * len(ordered) + 1.0
    plt, fig, ax = _figure(6.0, height)
    fig.subplots_adjust(left=0.28, right=0.97, top=1 - 0.2 / height, bottom=0.6 / height)
    ax.barh(ordered["column"], ordered["auc_drop"], color=COLOURS["synthetic"])
    ax.set_xlabel("detection AUC lost when the column is shuffled", fontsize=8)
    ax.tick_params(labelsize=7)
    return _png(plt, fig)


def dcr_histograms(histograms: pd.DataFrame | None) -> bytes | None:
    """Distance to the closest training row: synthetic rows against holdout rows."""
    if histograms is None or histograms.empty:
        return None
    plt, fig, ax = _figure(6.0, 3.0)
    fig.subplots_adjust(left=0.13, right=0.97, top=0.95, bottom=0.17)
    for source, part in histograms.groupby("from", sort=False):
        centres = (part["bin_low"].to_numpy() + part["bin_high"].to_numpy()) / 2
        ax.step(centres, part["share"], where="mid", label=f"{source} → training",
                color=COLOURS.get(str(source), COLOURS["real"]), linewidth=1.5)
    ax.set_xlabel("distance to closest training row (encoded space)", fontsize=8)
    ax.set_ylabel("share of rows", fontsize=8)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)
    return _png(plt, fig)
