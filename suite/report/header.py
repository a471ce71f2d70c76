"""The leaderboard's header: what was run, when, by which code on which data and hardware, and how complete it is.

Everything comes from the result files (dates from `finished_at`, never the clock), so the header is reproducible.
"""

from __future__ import annotations

import pandas as pd

from suite.document import Block, Bullets, Heading, Para
from suite.matrix import LoadedMatrix
from suite.report.collect import Collected
from suite.report.select import Row, report_split


def _counted(values: pd.Series) -> str:
    """`a (3 cells), b (1 cell)` for several values, or just `a` when all cells agree."""
    counts = values[values != ""].value_counts(sort=False)
    if counts.empty:
        return "unknown"
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(items) == 1:
        return items[0][0]
    return ", ".join(f"{v} ({n} cell{'s' if n > 1 else ''})" for v, n in items)


def _column(frame: pd.DataFrame, name: str, default: object = "") -> pd.Series:
    """A column, or `default` for every row when no result had the field (e.g. nothing finished yet)."""
    return (
        frame[name] if name in frame else pd.Series([default] * len(frame), index=frame.index, dtype=object)
    )


def _environment(ran: pd.DataFrame) -> pd.Series:
    def describe(r: pd.Series) -> str:
        threads = "" if pd.isna(r.get("threads")) else f", {r['threads']:g} threads"
        device = f"GPU {r['gpu']}" if r.get("gpu") else f"CPU ({r.get('cpu') or '?'}{threads})"
        return f"torch {r.get('torch') or '?'}, timm {r.get('timm') or '?'}, CUDA {r.get('cuda') or 'none'}, {device}"

    return ran.apply(describe, axis=1) if not ran.empty else pd.Series(dtype=str)


def compute_text(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def _untimed(done: pd.DataFrame) -> str:
    """Failed cells that recorded no time (killed, timed out) are not in the sum; say how many."""
    n = int(((done["status"] == "failed") & (done["compute_s"].fillna(0) == 0)).sum())
    return f" ({n} failed cell(s) recorded no time and are not included)" if n else ""


def _dates(frame: pd.DataFrame) -> str:
    dates = sorted(str(d)[:10] for d in _column(frame, "finished_at").fillna("") if d)
    if not dates:
        return "—"
    return dates[0] + (f" to {dates[-1]}" if dates[-1] != dates[0] else "")


def header(matrix: LoadedMatrix, collected: Collected, rows: list[Row]) -> list[Block]:
    """The title, the matrix's description and what the numbers rest on (code, data, environment, completeness)."""
    frame = collected.frame
    status = frame["status"].value_counts()
    ok, failed, missing = (int(status.get(s, 0)) for s in ("ok", "failed", "missing"))
    done = frame[frame["status"] != "missing"]  # failed cells record their code and data too
    dirty = _column(done, "git_dirty", False).map(lambda d: "+dirty" if d is True else "")
    shas = _column(done, "git_sha").fillna("").str[:10] + dirty
    locks = _column(done, "lock_digest").fillna("").str[:12]
    incomplete = sum(r.chosen and not r.complete for r in rows)
    stale = (
        f"; {collected.stale} stale result file(s) ignored (their config changed)" if collected.stale else ""
    )
    if collected.unreadable:
        stale += f"; {len(collected.unreadable)} unreadable result file(s), listed below"
    blocks: list[Block] = [Heading(1, f"Leaderboard: {matrix.name}")]
    if matrix.spec.description:
        blocks.append(Para(matrix.spec.description.strip()))
    items = [
        f"Matrix: `{matrix.path.name}`; datasets: {', '.join(dict.fromkeys(frame['dataset'])) or '—'}; "
        f"results dated {_dates(frame)}",
        f"Code: git {_counted(shas)}; datasets.lock {_counted(locks)}",
        f"Environment: {_counted(_environment(frame[frame['status'] == 'ok']))}",
        f"Compute: {compute_text(float(frame['compute_s'].fillna(0).sum()))} summed over cells{_untimed(done)}",
        f"Cells: {ok} finished, {failed} failed, {missing} missing (of {len(frame)}){stale}{_diverged(frame)}; "
        f"table rows: {len(rows)}, {incomplete} incomplete (†)",
        "Numbers: mean (SE) over seeds, SE = sample std (ddof 1) / √n; variants and sweep points chosen on "
        f"validation, {_reported_on(frame)}; ‼ diverged in some seeds, † fewer finished seeds than asked, "
        "‡ metric undefined in some seeds, § nothing to choose on validation.",
    ]
    return [*blocks, Bullets(tuple(items))]


def _diverged(frame: pd.DataFrame) -> str:
    n = int(_column(frame, "diverged", False).fillna(False).astype(bool).sum())
    return f", {n} diverged (‼)" if n else ""


def _reported_on(frame: pd.DataFrame) -> str:
    """Where the numbers come from: the held-out test split, or for datasets without one validation, not held out."""
    datasets = list(dict.fromkeys(frame["dataset"])) if not frame.empty else []
    without = [d for d in datasets if report_split(frame, d) == "val"]
    if not without:
        return "reported on the held-out test split"
    if len(without) == len(datasets):
        return "reported on validation, not held out (no dataset here has a test split)"
    return f"reported on the held-out test split, except {', '.join(without)}: validation, not held out (no test split)"
