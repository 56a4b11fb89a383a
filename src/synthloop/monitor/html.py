"""A drift timeline as one self-contained HTML page (``report/templates/drift.html.j2``).

Charts are small inline SVGs drawn here (no script, no network): the C2ST AUC of each window with
its interval, the monitored model's estimated and realised AUC, and a column × window grid shaded
by effect size with drifted cells marked. Extra sections (a refit, a lineage listing) can be
appended as (heading, rows) tables, so a closed loop shows on one page.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from synthloop.errors import require
from synthloop.io.atomic import atomic_write
from synthloop.monitor.report import DriftReport

TEMPLATE = "drift.html.j2"
WIDTH, HEIGHT, PAD = 640, 200, 36


def _line_chart(series: dict[str, list[float | None]], *, low: float, high: float, title: str,
                bands: list[tuple[float, float] | None] | None = None, marks: Sequence[bool] = ()) -> str:
    """An SVG line chart of equally spaced windows; None values leave gaps; ``marks`` ring drifted windows."""
    n = max((len(v) for v in series.values()), default=0)
    if n == 0:
        return ""
    span = max(high - low, 1e-9)

    def x(i: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (min(max(v, low), high) - low) / span

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
             f'aria-label="{title}"><title>{title}</title>',
             f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>',
             f'<text x="4" y="{y(high) + 4:.0f}" font-size="10">{high:g}</text>',
             f'<text x="4" y="{y(low) + 4:.0f}" font-size="10">{low:g}</text>']
    if bands:
        for i, band in enumerate(bands):
            if band is not None:
                parts.append(f'<line x1="{x(i):.1f}" y1="{y(band[0]):.1f}" x2="{x(i):.1f}" y2="{y(band[1]):.1f}" '
                             'stroke="#9ab" stroke-width="3"/>')
    colours = ["#1f5fa8", "#d2691e", "#2e8b57"]
    for k, (label, values) in enumerate(series.items()):
        colour = colours[k % len(colours)]
        points = [f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values) if v is not None]
        if points:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(points)}"/>')
        parts.append(f'<text x="{PAD + 120 * k}" y="14" font-size="11" fill="{colour}">{label}</text>')
    for i, marked in enumerate(marks):
        if marked:
            parts.append(f'<circle cx="{x(i):.1f}" cy="{HEIGHT - PAD + 8}" r="4" fill="#c0392b"/>')
    parts.append(f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="10" text-anchor="end">window →</text></svg>')
    return "".join(parts)


def _grid(reports: Sequence[DriftReport]) -> tuple[list[str], list[tuple[str, list[tuple[str, str, str]]]]]:
    """Rows (column) × windows of (text, background colour, tooltip)."""
    names = [c.column for c in reports[0].columns] if reports else []
    rows = []
    for name in names:
        cells = []
        for report in reports:
            found = report.column(name)
            shade = min(found.effect / 0.3, 1.0)
            colour = f"rgba(192,57,43,{0.15 + 0.85 * shade:.2f})" if found.drifted else \
                f"rgba(31,95,168,{0.6 * shade:.2f})"
            tip = "; ".join(found.reasons) or f"{found.effect_name} {found.effect:.3f}"
            cells.append((f"{found.effect:.2f}{' ●' if found.drifted else ''}", colour, tip))
        rows.append((name, cells))
    return [r.window for r in reports], rows


def render_drift_html(reports: Sequence[DriftReport], *, title: str = "synthloop drift monitor",
                      sections: Sequence[tuple[str, list[str], list[list[str]]]] = ()) -> str:
    """The page for a timeline of reports (oldest first); ``sections`` are extra (heading, header, rows) tables."""
    jinja2 = require("jinja2", "report", "The drift report")
    template_text = (resources.files("synthloop.report") / "templates" / TEMPLATE).read_text(encoding="utf-8")
    template = jinja2.Environment(autoescape=True).from_string(template_text)
    markup = jinja2.utils.markupsafe.Markup
    marks = [r.drifted for r in reports]
    joint = [r.joint for r in reports]
    charts = []
    if any(j is not None for j in joint):
        charts.append(("Joint drift: classifier two-sample AUC (0.5 = same distribution)", markup(_line_chart(
            {"C2ST AUC": [None if j is None else j.auc for j in joint]}, low=0.4, high=1.0,
            title="C2ST AUC per window", bands=[None if j is None else j.interval for j in joint], marks=marks))))
    performance = [r.performance for r in reports]
    if any(p is not None and p.estimated_auc is not None for p in performance):
        charts.append(("Model AUC: estimated without labels (CBPE) and realised", markup(_line_chart(
            {"estimated": [None if p is None else p.estimated_auc for p in performance],
             "realised": [None if p is None else p.realised_auc for p in performance]},
            low=0.5, high=1.0, title="model AUC per window", marks=marks))))
    windows, grid = _grid(reports)
    rows = [{"window": r.window, "rows": f"{r.n_rows:,}", "verdict": "DRIFT" if r.drifted else "ok",
             "alarms": list(r.alarms), "seconds": f"{r.seconds:.2f}"} for r in reports]
    reference = reports[0] if reports else None
    return template.render(title=title, reference=reference, rows=rows, charts=charts, windows=windows, grid=grid,
                           sections=sections, n_drifted=sum(marks))


def write_drift_html(reports: Sequence[DriftReport], path: str | Path, **kwargs) -> Path:
    """Write :func:`render_drift_html` atomically to ``path``."""
    path = Path(path)
    page = render_drift_html(reports, **kwargs)
    with atomic_write(path, suffix=".html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
