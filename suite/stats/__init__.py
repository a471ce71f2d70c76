"""Significance-aware comparison of fine-tuning strategies: "which strategy should I use, and is it real?".

Pure functions on the report's frame (one row per finished cell). The tests and why:

- Per dataset × backbone, each strategy vs the baseline (`ft`): paired differences over seeds with a percentile
  bootstrap 95% CI, and a two-sided paired t-test, Holm-corrected over the strategies of that table. With n = 3
  seeds every rank/sign test has a smallest p of 0.25 and can never be significant; the t-test can (critical
  t = 4.30 at 2 df) at the price of a normality assumption. See `suite.stats.paired`.
- Across datasets: Friedman + Nemenyi (autorank) with CD diagrams per backbone and pooled (Demšar 2006); see
  `suite.stats.ranks`. The Recommendation table per modality × backbone is in `suite.stats.recommend`.
- Too little evidence (thresholds in `SignificanceConfig`): fewer than 3 paired seeds → no per-dataset test; fewer
  than 5 datasets (autorank's own floor) or 3 strategies → no Friedman test; the section says so in words.

Entry points: `significance_blocks(frame, config, plots_dir, metrics) -> document blocks` (the report's section, its
figures kept for the report to write) and `render_significance(...) -> markdown` (the same, standalone).
"""

from __future__ import annotations

from suite.stats.render import render_significance, significance_blocks

__all__ = ["render_significance", "significance_blocks"]
