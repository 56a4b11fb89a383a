"""Align synthetic rows to a target distribution, and refine them where a detector tells them from real rows.

- :func:`align_table`: classifier density-ratio weights (cross-fitted, clipped, effective sample size
  reported), importance resampling to exactly ``n`` rows, optional optimal transport of numeric columns;
  the discrepancy to the target before and after.
- :func:`align_step` / :func:`refine_step`: the same ratio as a row step of any model's sampling
  (``model.sample(n, steps=[...])``), before the privacy step: discriminator rejection sampling toward a
  target sample, or toward the real training rows.
- :func:`conditional_align`: condition the model on the target's values of its shifted column(s), and a
  ratio step for what remains (when the target lies mostly outside the model's mass).
- :func:`adapt`: refit a generator with a small target sample up-weighted.
- :func:`align_files`: the ``synthloop align`` command as one call (files in, aligned file and provenance out).

See ``docs/align.md``.
"""

from synthloop.align.adapt import adapt
from synthloop.align.conditional import ConditionalAlignment, conditional_align
from synthloop.align.files import AlignFilesResult, align_files
from synthloop.align.measure import Discrepancy, discrepancy
from synthloop.align.steps import RatioStep, StepReport, align_step, refine_step
from synthloop.align.table import METHODS, AlignResult, align_table

__all__ = ["METHODS", "AlignFilesResult", "AlignResult", "ConditionalAlignment", "Discrepancy", "RatioStep",
           "StepReport", "adapt", "align_files", "align_step", "align_table", "conditional_align", "discrepancy",
           "refine_step"]
