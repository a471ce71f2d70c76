"""Interpretability and transferability analyses of finished cells (they read checkpoints; they never train).

- `cam`: LayerCAM / Grad-CAM maps per block on test images (Fang et al. 2025, METHODS.md §F);
- `svcca` + `transfer`: SVCCA between the features before and after fine-tuning, and the truncation point where
  they meet the random baseline (Peng et al. 2023, Appendix C.1, METHODS.md §P);
- `cells`: finished cells by id, slug or filters, and their models (through suite/assembly.py).
Figures and their manifests go where suite/results/layout.py says; the report links them.

This module stays import-light (no torch): the command-line parser reads MEDIUM_EFFECT.
"""

MEDIUM_EFFECT = 0.64
"""Vargha & Delaney (2000): an effect size A of at least 0.64 is medium; below it two distributions overlap."""
