"""Render a Report as one self-contained HTML file: inline CSS, PNG plots inlined as base64, no scripts
and no network, so it opens anywhere and can be attached to a ticket."""

from __future__ import annotations

import base64
from importlib import resources

from synthloop.errors import require
from synthloop.report import plots
from synthloop.report.terminal import annotated_scores, format_value

FAMILY_ORDER = ("fidelity", "collapse", "detection", "utility", "privacy", "fairness")
DETAIL_TABLES = ("detection_slices", "tstr_auc", "tstr_r2", "calibration_ece", "attribute_inference_risk",
                 "tstr_group_gap", "target_rate_gap", "category_coverage", "tail_mass")
MAX_DETAIL_ROWS = 30


def render_html(report, *, title: str = "synthloop evaluation") -> str:
    """The HTML page for ``report``."""
    jinja2 = require("jinja2", "report", "The HTML report")
    require("matplotlib", "report", "The HTML report")
    template_text = (resources.files("synthloop.report") / "templates" / "report.html.j2").read_text(encoding="utf-8")
    environment = jinja2.Environment(autoescape=True)
    template = environment.from_string(template_text)
    return template.render(title=title, meta=report.meta, families=_families(report), figures=_figures(report),
                           tables=_tables(report))


def _families(report) -> list[tuple[str, list[dict]]]:
    annotated = annotated_scores(report.scores)
    order = [f for f in FAMILY_ORDER if f in set(annotated["family"])]
    return [(family, annotated[annotated["family"] == family].to_dict(orient="records")) for family in order]


def _figures(report) -> list[tuple[str, str, str]]:
    details = report.details
    drawn = [("Marginals: real, holdout and synthetic", "Share of rows per bin (numeric) or category.",
              plots.marginal_overlays(details.get("marginals"))),
             ("Pair trends: synthetic − real association", "Spearman ρ for numeric pairs, Cramér's V otherwise; "
              "white is a preserved relationship.", plots.association_heatmap(details.get("associations"))),
             ("What gives the synthetic data away", "Detection AUC lost when a column is shuffled.",
              plots.detection_attributions(details.get("detection_auc"))),
             ("Distance to the closest training row", "Synthetic rows should sit no closer to the training data "
              "than unseen real rows do.", plots.dcr_histograms(details.get("dcr_share")))]
    return [(heading, caption, base64.b64encode(png).decode("ascii")) for heading, caption, png in drawn if png]


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
