"""The lab's HTML page: one plot per measure across generations, a line per policy (mean ± sd over seeds).

Plots are matplotlib PNGs inlined as base64, so the page is one self-contained file.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

from synthloop.errors import require
from synthloop.io.atomic import atomic_write
from synthloop.lab.measures import GOALS, MEASURES

if TYPE_CHECKING:
    from synthloop.lab.run import LabResult

_TITLES = {
    "tail_mass": "Tail mass beyond real 1st/99th percentiles",
    "variance_ratio": "Variance ratio (generated / real)",
    "category_coverage": "Category coverage",
    "rare_category_survival": "Rare-category survival (< 1% in real)",
    "detection_auc": "Detection AUC (0.5 = indistinguishable)",
    "tstr": "Train synthetic, test real",
}
_GOAL_TEXT = {"real": "closer to the dashed real line is better", "max": "higher is better", "min": "lower is better"}


def plot_measure(result: LabResult, name: str) -> bytes:
    """PNG of one measure across generations, one line per policy, band = ± 1 sd over seeds."""
    require("matplotlib", "lab", "The lab's HTML report")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(figsize=(6.0, 3.6), dpi=100)
    stats = result.results.groupby(["policy", "generation"])[name].agg(["mean", "std"]).reset_index()
    for policy, part in stats.groupby("policy", sort=False):
        line = axes.plot(part["generation"], part["mean"], marker="o", label=policy)[0]
        spread = part["std"].fillna(0.0)
        axes.fill_between(part["generation"], part["mean"] - spread, part["mean"] + spread,
                          color=line.get_color(), alpha=0.15)
    if name in result.reference:
        axes.axhline(result.reference[name], color="black", linestyle="--", linewidth=1, label="real data")
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
    config = dict(result.config)
    sections = []
    for name in MEASURES:
        if name not in result.results or result.results[name].isna().all():
            continue
        png = base64.b64encode(plot_measure(result, name)).decode()
        sections.append(f"<section><h2>{html.escape(_TITLES.get(name, name))}</h2>"
                        f"<p class='goal'>{_GOAL_TEXT[GOALS[name]]}</p>"
                        f"<img alt='{name} across generations' src='data:image/png;base64,{png}'></section>")
    final = result.final().round(4).to_html(classes="final", border=0)
    meta = ", ".join(f"{k}: {html.escape(str(config.get(k)))}"
                     for k in ("synthesizer", "generations", "seeds", "n_rows") if k in config)
    return _PAGE.format(meta=meta, final=final, sections="\n".join(sections))


def write_report(result: LabResult, path: str | Path) -> Path:
    """Write the page atomically."""
    with atomic_write(path, suffix=".html") as tmp:
        tmp.write_text(render_report(result), encoding="utf-8")
    return Path(path)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>synthloop collapse lab</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #222; }}
main {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(620px, 1fr)); gap: 1em; }}
section {{ border: 1px solid #ddd; border-radius: 6px; padding: 0.5em 1em; }}
h2 {{ font-size: 1.05em; margin: 0.3em 0; }} .goal {{ color: #666; font-size: 0.85em; margin: 0; }}
table.final {{ border-collapse: collapse; font-size: 0.9em; }}
table.final td, table.final th {{ padding: 0.2em 0.8em; border-bottom: 1px solid #eee; text-align: right; }}
</style></head><body>
<h1>Model-collapse lab</h1>
<p>{meta}. Every generation is measured against a frozen real holdout that no generation trains on;
lines are means over seeds, bands ± 1 standard deviation, the dashed line is a real sample measured the same way.</p>
<h2>Last generation (mean over seeds)</h2>
{final}
<main>
{sections}
</main>
</body></html>
"""
