"""Render a Report as one self-contained HTML file for a release decision: the verdict and its gates at
the top, score cards per family, then the evidence (per-column distributions, the column pairs that
differ most, association matrices, what gives the synthetic data away, distances to training rows).

Charts are interactive plotly figures. plotly.js comes from the ``plotly`` package (the ``report``
extra) and is embedded once, inline, gzip-compressed and base85-encoded: the full bundle is 4.8 MB,
1.47 MB compressed, 1.84 MB as base85 text (base64 made it 1.96 MB, and a report on Adult 2.02 MB),
which keeps a report on Adult under 2 MB. The page decodes and inflates it with the browser's own
``DecompressionStream`` and then draws the charts. Nothing is fetched from the network,
so the file opens anywhere and can be attached to a ticket.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import math
from importlib import resources

import pandas as pd

from synthloop.errors import require
from synthloop.report import plots
from synthloop.report.terminal import annotated_scores, format_value

FAMILY_ORDER = ("fidelity", "collapse", "detection", "utility", "privacy", "fairness")
HEADLINE = {"fidelity": ("tv_complement", "ks_complement"), "collapse": ("category_coverage", "range_coverage"),
            "detection": ("detection_auc",), "utility": ("tstr_auc", "tstr_r2"),
            "privacy": ("dcr_share", "membership_inference_auc"), "fairness": ("tstr_group_gap", "target_rate_gap")}
FAMILY_QUESTION = {"fidelity": "Do columns and pairs look like the real data?",
                   "collapse": "Are rare categories and tails kept?",
                   "detection": "Can a classifier tell synthetic rows from real ones?",
                   "utility": "Do models trained on it work on real data?",
                   "privacy": "Does it leak its training rows?",
                   "fairness": "Are groups treated as in the real data?"}
DETAIL_TABLES = ("tstr_auc", "tstr_r2", "calibration_ece", "attribute_inference_risk", "tstr_group_gap",
                 "target_rate_gap", "category_coverage", "tail_mass")
MAX_DETAIL_ROWS = 30
SECTIONS = ("verdict", "cards", "scores", "columns", "pairs", "matrices", "detection", "dcr", "details", "notes")


def render_html(report, *, title: str = "synthloop evaluation", decision=None) -> str:
    """The HTML page for ``report`` (``decision`` from ``report.decide``; the default gates when omitted)."""
    jinja2 = require("jinja2", "report", "The HTML report")
    template_text = (resources.files("synthloop.report") / "templates" / "report.html.j2").read_text(encoding="utf-8")
    environment = jinja2.Environment(autoescape=True)
    template = environment.from_string(template_text)
    decision = decision if decision is not None else report.decide()
    figures, evidence = _figures(report)
    return template.render(title=title, meta=report.meta, decision=decision, gates=_gate_rows(decision.gates),
                           cards=_cards(report), families=_families(report), columns=evidence["columns"],
                           pairs=evidence["pairs"], tables=_tables(report), sections=SECTIONS,
                           figures_json=jinja2.utils.markupsafe.Markup(_script_json(figures)),
                           plotly_packed=jinja2.utils.markupsafe.Markup(plotly_packed()),
                           plotly_bytes=len(_plotly_gzip()))


@functools.lru_cache(maxsize=1)
def _plotly_gzip() -> bytes:
    """plotly.js from the installed ``plotly`` package, gzip-compressed (mtime 0: the same bytes every time)."""
    require("plotly", "report", "The HTML report's charts")
    from plotly.offline import get_plotlyjs

    return gzip.compress(get_plotlyjs().encode("utf-8"), compresslevel=9, mtime=0)


@functools.lru_cache(maxsize=1)
def plotly_packed() -> str:
    """The compressed plotly.js as base85 text for an inline ``<script>`` block (5 characters per 4 bytes,
    where base64 takes 6 per 4: 122 KB less). Zero bytes pad it to whole groups; the page keeps the first
    ``data-bytes`` of the decoded bytes. The alphabet has ``<`` but no ``/``, so ``</script`` cannot occur."""
    return base64.b85encode(_plotly_gzip(), pad=True).decode("ascii")


def _script_json(figures: dict[str, dict]) -> str:
    # Inside <script>, "</" would end the element: escape it (JSON allows "\/").
    return json.dumps(figures, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def _gate_rows(gates: pd.DataFrame) -> list[dict]:
    return [{"gate": row.gate, "value": format_value(row.value), "threshold": format_value(row.threshold),
             "passed": bool(row.passed), "reason": row.reason, "severity": row.severity, "source": row.source}
            for row in gates.itertuples(index=False)]


def _families(report) -> list[tuple[str, list[dict]]]:
    annotated = annotated_scores(report.scores)
    order = [f for f in FAMILY_ORDER if f in set(annotated["family"])]
    return [(family, annotated[annotated["family"] == family].to_dict(orient="records")) for family in order]


def _cards(report) -> list[dict]:
    """One card per family: its headline score next to the holdout's, and how many scores are worse."""
    annotated = annotated_scores(report.scores)
    skipped = report.meta.get("families_skipped", {})
    cards = []
    for family in FAMILY_ORDER:
        rows = annotated[annotated["family"] == family]
        if rows.empty:
            if family in skipped:
                cards.append({"family": family, "question": FAMILY_QUESTION[family], "status": "skipped",
                              "skipped": skipped[family]})
            continue
        names = list(rows["metric"])
        headline = next((name for name in HEADLINE[family] if name in names), names[0])
        top = rows[rows["metric"] == headline].iloc[0]
        counts = rows["verdict"].value_counts().to_dict()
        status = "worse" if counts.get("worse") else "as-real"
        cards.append({"family": family, "question": FAMILY_QUESTION[family], "status": status, "metric": headline,
                      "value": top["value"], "interval": top["interval"], "baseline": top["baseline"],
                      "baseline_interval": top["baseline_interval"], "goal": top["goal"], "n": len(rows),
                      "worse": counts.get("worse", 0), "as_real": counts.get("as real", 0),
                      "better": counts.get("better", 0)})
    return cards


def _figures(report) -> tuple[dict[str, dict], dict]:
    details = report.details
    figures: dict[str, dict] = {}
    columns = []
    marginals = details.get("marginals")
    scores = _column_scores(details)
    if marginals is not None and not marginals.empty:
        for i, name in enumerate(dict.fromkeys(marginals["column"])):
            figure = plots.column_distribution(marginals, name)
            if figure is not None:
                figures[f"column-{i}"] = figure
                columns.append({"id": f"column-{i}", "name": name, "score": scores.get(name, "")})
    pairs = plots.top_pairs(details.get("associations"))
    for key, figure in (("pairs-chart", plots.pair_differences(pairs)),
                        ("matrices-chart", plots.association_matrices(details.get("associations"))),
                        ("detection-attributions", plots.detection_attributions(details.get("detection_auc"))),
                        ("detection-slices", plots.detection_slices(details.get("detection_slices"))),
                        ("dcr-chart", plots.dcr_distributions(details.get("dcr_share")))):
        if figure is not None:
            figures[key] = figure
    pair_rows = [{"pair": row.pair, "measure": "Spearman ρ" if row.measure == "spearman" else "Cramér's V",
                  "real": format_value(row.real), "synthetic": format_value(row.synthetic),
                  "difference": format_value(row.difference)} for row in pairs.itertuples(index=False)]
    return figures, {"columns": columns, "pairs": pair_rows}


def _column_scores(details) -> dict[str, str]:
    """Per column, its KS or TV complement (1 = same distribution as the real column)."""
    found = {}
    for metric in ("ks_complement", "tv_complement"):
        table = details.get(metric)
        if table is None or metric not in table:
            continue
        for row in table.itertuples(index=False):
            value = getattr(row, metric)
            if isinstance(value, float) and math.isfinite(value):
                found[row.column] = f"{metric.split('_')[0].upper()} complement {value:.3f}"
    return found


def _tables(report) -> list[tuple[str, list[str], list[list[str]]]]:
    out = []
    for name in DETAIL_TABLES:
        table = report.details.get(name)
        if table is None or table.empty:
            continue
        head = table.head(MAX_DETAIL_ROWS)
        rows = [[format_value(v) if isinstance(v, float) else str(v) for v in row] for row in head.itertuples(index=False)]
        out.append((name, [str(c) for c in head.columns], rows))
    return out


__all__ = ["render_html"]
