"""The leaderboard's header: what was run, when, by which code on which data and hardware, and how complete it is.

Everything comes from the result files (dates from `finished_at`, never the clock), so the header is reproducible.
"""

from __future__ import annotations

import pandas as pd

from suite.matrix import LoadedMatrix
from suite.report.collect import Collected
from suite.report.select import Row


def _counted(values: pd.Series) -> str:
    """`a (3 cells), b (1 cell)` for several values, or just `a` when all cells agree."""
    counts = values[values != ""].value_counts(sort=False)
    if counts.empty:
        return "unknown"
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(items) == 1:
        return items[0][0]
    return ", ".join(f"{v} ({n} cell{'s' if n > 1 else ''})" for v, n in items)


def _environment(ran: pd.DataFrame) -> pd.Series:
    def describe(r: pd.Series) -> str:
        threads = "" if pd.isna(r.get("threads")) else f", {r['threads']:g} threads"
        device = f"GPU {r['gpu']}" if r.get("gpu") else f"CPU ({r.get('cpu') or '?'}{threads})"
        return f"torch {r.get('torch') or '?'}, timm {r.get('timm') or '?'}, CUDA {r.get('cuda') or 'none'}, {device}"

    return ran.apply(describe, axis=1) if not ran.empty else pd.Series(dtype=str)


def compute_text(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def header(matrix: LoadedMatrix, collected: Collected, rows: list[Row]) -> list[str]:
    frame = collected.frame
    status = frame["status"].value_counts() if not frame.empty else pd.Series(dtype=int)
    ok, failed, missing = (int(status.get(s, 0)) for s in ("ok", "failed", "missing"))
    ran = frame[frame["status"] == "ok"] if not frame.empty else frame
    dates = sorted(d[:10] for d in frame.get("finished_at", pd.Series(dtype=str)).fillna("") if d)
    dated = f"{dates[0]}" + (f" to {dates[-1]}" if dates and dates[-1] != dates[0] else "") if dates else "—"
    shas = (
        ran["git_sha"].str[:10] + ran["git_dirty"].map({True: "+dirty", False: ""}) if not ran.empty else ran
    )
    locks = ran["lock_digest"].str[:12] if not ran.empty else ran
    incomplete = sum(not r.complete for r in rows)
    stale = (
        f"; {collected.stale} stale result file(s) ignored (their config changed)" if collected.stale else ""
    )
    datasets = ", ".join(dict.fromkeys(frame["dataset"])) if not frame.empty else "—"
    lines = [f"# Leaderboard: {matrix.name}", ""]
    if matrix.spec.description:
        lines += [matrix.spec.description.strip(), ""]
    lines += [
        f"- Matrix: `{matrix.path.name}`; datasets: {datasets}; results dated {dated}",
        f"- Code: git {_counted(shas) if not ran.empty else '—'}; "
        f"datasets.lock {_counted(locks) if not ran.empty else '—'}",
        f"- Environment: {_counted(_environment(ran)) if not ran.empty else '—'}",
        f"- Compute: {compute_text(float(frame['compute_s'].fillna(0).sum()) if not frame.empty else 0.0)}"
        " summed over cells",
        f"- Cells: {ok} finished, {failed} failed, {missing} missing (of {len(frame)}){stale}; "
        f"table rows: {len(rows)}, {incomplete} incomplete (†)",
        "- Numbers: mean (SE) over seeds, SE = sample std (ddof 1) / √n; variants and sweep points chosen on "
        "validation, reported on test; † fewer finished seeds than asked, ‡ metric undefined in some seeds.",
        "",
    ]
    return lines
