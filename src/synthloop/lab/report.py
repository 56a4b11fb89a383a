"""The lab's HTML page: one plot per measure across generations, a line per policy (mean ± sd over seeds).

It renders through the report package's templates (``report/templates/lab.html.j2``), with the same
self-contained conventions as the evaluation report: inline CSS, matplotlib PNGs inlined as base64.
"""

from __future__ import annotations

import base64
import io
import math
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from synthloop.errors import require
from synthloop.io.atomic import atomic_write
from synthloop.lab.measures import goals

if TYPE_CHECKING:
    from synthloop.lab.run import LabResult

TEMPLATE = "lab.html.j2"
_TITLES = {
    "tail_share": "Tail share beyond real 1st/99th percentiles",
    "variance_ratio": "Variance ratio (generated / real)",
    "category_coverage": "Category coverage",
    "rare_category_survival": "Rare-category survival (< 1% in real training data)",
    "detection_auc_split": "Detection AUC, one split (0.5 = indistinguishable)",
    "tstr_auc": "Train synthetic, test real (AUC)",
}
_GOAL_TEXT = {"real": "closer to the dashed real line is better", "max": "higher is better", "min": "lower is better"}


def plot_measure(result: LabResult, name: str) -> bytes:
    """PNG of one measure across generations, one line per policy, band = ± 1 sd over seeds."""
    require("matplotlib", "lab", "The lab's HTML report")
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(figsize=(6.0, 3.6), dpi=100)
    stats = result.results.groupby(["policy", "generation"], sort=False)[name].agg(["mean", "std"]).reset_index()
    for policy, part in stats.groupby("policy", sort=False):
        line = axes.plot(part["generation"], part["mean"], marker="o", label=policy)[0]
        spread = part["std"].fillna(0.0)
        axes.fill_between(part["generation"], part["mean"] - spread, part["mean"] + spread,
                          color=line.get_color(), alpha=0.15)
    if math.isfinite(result.reference.get(name, float("nan"))):
        axes.axhline(result.reference[name], color="black", linestyle="--", linewidth=1, label="fresh real sample")
    axes.set_xlabel("generation")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(_TITLES.get(name, name), fontsize=11)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def render_report(result: LabResult) -> str:
    """The whole page as an HTML string."""
    jinja2 = require("jinja2", "report", "The lab's HTML report")
    measures = [m for m in result.measures if not result.results[m].isna().all()]
    goal = goals()
    figures = [(name, _TITLES.get(name, name), _GOAL_TEXT[goal[name]],
                base64.b64encode(plot_measure(result, name)).decode("ascii")) for name in measures]
    means, medians = result.final("mean"), result.final("median")
    final = [(policy, [f"{means.loc[policy, m]:.3f} ({medians.loc[policy, m]:.3f})" for m in measures])
             for policy in means.index]
    reference = [f"{result.reference.get(m, float('nan')):.3f}" for m in measures]
    config = dict(result.config)
    meta = [(key, config[key]) for key in ("synthesizer", "generations", "seeds", "n_rows") if key in config]
    template_text = (resources.files("synthloop.report") / "templates" / TEMPLATE).read_text(encoding="utf-8")
    template = jinja2.Environment(autoescape=True).from_string(template_text)
    return template.render(title="Model-collapse lab", meta=meta, privacy=result.privacy, measures=measures,
                           final=final, reference=reference, figures=figures)


def write_report(result: LabResult, path: str | Path) -> Path:
    """Write the page atomically."""
    with atomic_write(path, suffix=".html") as tmp:
        tmp.write_text(render_report(result), encoding="utf-8")
    return Path(path)
