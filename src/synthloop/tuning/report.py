"""``OUT/search.html``: the chosen model, the Pareto front and every trial, in one small file.

The scatter is inline SVG drawn here (no chart library, nothing fetched): a search page should open
anywhere and stay a few kilobytes, however many trials it lists.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthloop.io.atomic import atomic_write

if TYPE_CHECKING:
    from synthloop.tuning.run import SearchResult

_W, _H, _PAD = 560, 360, 48


def write_html(result: SearchResult, path: str | Path) -> Path:
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text(render(result), encoding="utf-8")
    return path


def render(result: SearchResult) -> str:
    chosen = result.chosen
    head = ("<p>No model was chosen.</p>" if chosen is None else
            f"<p>Chosen: <b>{_e(chosen['model'])}</b> {_e(_params(chosen))} — trial {chosen['number']}, "
            f"detection AUC {_f(chosen.get('detection'))}, TSTR {_f(chosen.get('utility'))}, "
            f"DCR share {_f(chosen.get('dcr_share'))}; saved in <code>{_e(str(result.model_dir))}</code>.</p>")
    counts: dict[str, int] = {}
    for trial in result.trials:
        counts[trial["state"]] = counts.get(trial["state"], 0) + 1
    summary = ", ".join(f"{n} {state.lower()}" for state, n in sorted(counts.items()))
    notes = "".join(f"<li>{_e(n)}</li>" for n in result.notes)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>synthloop search</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}}tr.pareto{{background:#eef6ff}}
tr.chosen{{background:#d7f5d7}}code{{font-size:12px}}</style></head><body>
<h1>synthloop search</h1>{head}
<p>{len(result.trials)} trials ({summary}) in {result.seconds:.0f} s of a {result.budget:.0f} s budget.
Objectives: {_e(", ".join(result.objectives))}, read on the validation part of the training data;
privacy gate: DCR share ≤ {result.max_dcr_share:g}.</p>
{f"<ul>{notes}</ul>" if notes else ""}
<h2>Pareto front</h2>{_scatter(result)}
<h2>Trials</h2>{_table(result.trials)}
<script type="application/json" id="search-data">{_e(json.dumps(result.to_dict(), default=str))}</script>
</body></html>"""


def _scatter(result: SearchResult) -> str:
    points = [t for t in result.trials if t["state"] == "COMPLETE"]
    if not points:
        return "<p>No finished trial to plot.</p>"
    xs = [t["detection"] for t in points]
    ys = [t.get("utility", 0.0) for t in points]
    x0, x1 = min([*xs, 0.5]) - 0.01, max(xs) + 0.01
    y0, y1 = min(ys) - 0.01, max(ys) + 0.01

    def sx(x: float) -> float:
        return _PAD + (x - x0) / (x1 - x0) * (_W - 2 * _PAD)

    def sy(y: float) -> float:
        return _H - _PAD - (y - y0) / (y1 - y0) * (_H - 2 * _PAD)

    marks = []
    front = sorted((t for t in points if t.get("pareto")), key=lambda t: t["detection"])
    if len(front) > 1:
        line = " ".join(f"{sx(t['detection']):.1f},{sy(t.get('utility', 0.0)):.1f}" for t in front)
        marks.append(f'<polyline points="{line}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>')
    for t in points:
        colour = "#2ca02c" if t.get("chosen") else "#1f77b4" if t.get("pareto") else \
            "#bbb" if t.get("feasible", True) else "#d62728"
        title = f"trial {t['number']}: {t['model']} {_params(t)}"
        marks.append(f'<circle cx="{sx(t["detection"]):.1f}" cy="{sy(t.get("utility", 0.0)):.1f}" r="5" '
                     f'fill="{colour}"><title>{_e(title)}</title></circle>')
    axes = (f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#333"/>'
            f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_H - _PAD}" stroke="#333"/>'
            f'<text x="{_W / 2}" y="{_H - 10}" text-anchor="middle" font-size="12">detection AUC '
            f'({x0:.3f} – {x1:.3f}, lower is better)</text>'
            f'<text x="14" y="{_H / 2}" font-size="12" transform="rotate(-90 14 {_H / 2})" text-anchor="middle">'
            f'TSTR ({y0:.3f} – {y1:.3f}, higher is better)</text>')
    legend = ("<p style='font-size:12px'>green: chosen · blue: Pareto front · grey: dominated · red: fails the "
              "privacy gate</p>")
    return f'<svg width="{_W}" height="{_H}" role="img">{axes}{"".join(marks)}</svg>{legend}'


def _table(trials: list[dict[str, Any]]) -> str:
    columns = ("number", "model", "params", "state", "detection", "utility", "dcr_share", "fit_seconds", "seconds",
               "error")
    head = "".join(f"<th>{c}</th>" for c in columns)
    rows = []
    for t in trials:
        cls = "chosen" if t.get("chosen") else "pareto" if t.get("pareto") else ""
        cells = []
        for c in columns:
            value = _params(t) if c == "params" else t.get(c)
            cells.append(f"<td>{_f(value) if isinstance(value, float) else _e('' if value is None else str(value))}</td>")
        rows.append(f'<tr class="{cls}">{"".join(cells)}</tr>')
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _params(trial: dict[str, Any]) -> str:
    if trial.get("defaults"):
        return "(defaults)"
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial["params"].items())


def _f(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}"


def _e(text: str) -> str:
    return html.escape(text, quote=True)
