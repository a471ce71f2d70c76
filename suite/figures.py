"""A matplotlib figure as PNG and PDF bytes with fixed metadata, so the same figure gives the same bytes.

Every figure the suite draws (the report's plots, the significance section's CD diagrams, the analyses' CAM grids
and SVCCA curves) goes through here: PNG for the markdown and the HTML page, PDF for papers. Matplotlib stamps its
version ("Software" in PNG; "Creator", "Producer" and "CreationDate" in PDF); dropping those leaves nothing that
depends on the clock or the version, which tests/test_report.py checks. Bytes are returned, not written: the
caller writes every file of a report only after all of them rendered (nothing is half-written).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = ("png", "pdf")
METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}


def figure_bytes(fig: Figure, dpi: int = 100, **savefig: Any) -> dict[str, bytes]:
    """{"png": ..., "pdf": ...} of `fig` (an Agg canvas is attached if it has none)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if fig.canvas is None or type(fig.canvas).__name__ == "FigureCanvasBase":
        FigureCanvasAgg(fig)
    out = {}
    for fmt in FORMATS:
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata=METADATA[fmt], **savefig)
        out[fmt] = buffer.getvalue()
    return out


def figure_files(png: Path, rendered: dict[str, bytes]) -> dict[Path, bytes]:
    """The files of one figure: `x.png` and, beside it, `x.pdf`."""
    return {png.with_suffix(f".{fmt}"): data for fmt, data in rendered.items()}
