"""Efficiency in Peng et al.'s layout (their Tables 1-3): the primary metrics beside P (M), MACs (G) and T (ms).

P is the parameter count of the model as the strategy left it (TTL and TF shrink it), MACs come from the named
counter (`report.macs_counter`), T is the batch-1 median latency, with its device in the caption. A trainable-
parameter column is added (LP and LoRA train a small share of P). When `make bench-latency` wrote the matrix's
latency.json, its median is a further column, T bench: every network timed in one process, interleaved with the
others, where T comes from the training process of the cell that first measured the network (suite/profiling/
shared.py). Bold: the best of each column in the table; in the two latency columns only where the fastest row's
interquartile interval is clear of every slower row's (`clear_winners`): two networks whose intervals overlap are
not told apart, so nothing is marked.
"""

from __future__ import annotations

import math

from suite.data.lock import lock_entry
from suite.document import Block, Heading, Table
from suite.document import table as make_table
from suite.errors import UserError
from suite.matrix.report import ReportConfig
from suite.report.context import ReportContext
from suite.report.naming import arrow, higher_is_better, metric_label, source_label
from suite.report.select import Row, ordered
from suite.report.stats import Stat, mean_se
from suite.report.tables.format import (
    EMPTY,
    Notes,
    decimals_of,
    emphasise,
    factor_of,
    fmt_stat,
    unit_text,
    winners,
)
from suite.report.tables.registry import table
from suite.results.latency import BatchOneLatency
from suite.results.latency import interval as latency_interval
from suite.strategies import STRATEGIES


@table("efficiency", scope="dataset", order=30)
def efficiency_section(ctx: ReportContext) -> list[Block]:
    return [
        Heading(3, "Efficiency (Peng layout)"),
        efficiency_table(ctx.rows, ctx.metrics, ctx.config, ctx.bench),
    ]


def _sig(value: float) -> str:
    """Three significant figures, as Peng prints P and MACs (23.5, 8.55, 0.402)."""
    return EMPTY if math.isnan(value) else f"{value:.3g}"


def _device(rows: list[Row]) -> tuple[str, bool]:
    """The latency device (and threads) for the caption, and whether it is the same for every row."""
    found = set()
    for row in rows:
        ok = row.ok
        for device, threads in zip(ok.get("latency_device", []), ok.get("latency_threads", [])):
            if device:
                found.add(device + ("" if math.isnan(threads) else f", {threads:g} threads"))
    if len(found) == 1:
        return found.pop(), True
    return ("device per row" if found else "not measured"), False


def _bench_key(row: Row, bench: BatchOneLatency) -> tuple | None:
    """The benchmarked network this row trained (a strategy counts if it reshapes it), or None."""
    cells = row.ok if row.n_ok else row.cells
    changes_network = row.base in STRATEGIES and STRATEGIES.get(row.base).changes_network()
    strategy = str(cells["strategy"].iloc[0]) if changes_network else None
    try:  # a report must render without the dataset's lock entry; then the match ignores the head size
        num_classes: int | None = lock_entry(row.dataset).num_classes
    except (UserError, OSError):
        num_classes = None
    return bench.key_of(row.architecture, int(cells["image_size"].iloc[0]), num_classes, strategy)


def _bench_stat(row: Row, bench: BatchOneLatency) -> Stat:
    """The latency benchmark's median for the network this row trained."""
    key = _bench_key(row, bench)
    return mean_se([] if key is None else [bench.median_ms[key]])  # not benchmarked: an empty cell, not "n/a"


def _bench_interval(row: Row, bench: BatchOneLatency) -> tuple[float, float]:
    key = _bench_key(row, bench)
    return (math.nan, math.nan) if key is None else bench.interval_ms[key]


def _run_interval(row: Row) -> tuple[float, float]:
    """The interval of a row's per-run latency: from the lowest lower quartile to the highest upper quartile over
    its seeds (median ± IQR/2 each, as a result records median and IQR only)."""
    ok = row.ok
    if not row.chosen or "latency_ms" not in ok or ok["latency_ms"].isna().all():
        return math.nan, math.nan
    iqr = ok["latency_iqr_ms"] if "latency_iqr_ms" in ok else [math.nan] * len(ok)
    spans = [
        latency_interval({"median_ms": m, "iqr_ms": None if math.isnan(q) else q})
        for m, q in zip(ok["latency_ms"], iqr)
        if not math.isnan(m)
    ]
    return min(lo for lo, _ in spans), max(hi for _, hi in spans)


def clear_winners(
    best: set[tuple], values: dict[tuple, float], intervals: dict[tuple, tuple[float, float]]
) -> set[tuple]:
    """The fastest rows `best`, kept only when no slower row's interval overlaps any of theirs (rows tied as printed
    are one measurement, e.g. the same network, and share the mark)."""
    others = [k for k, v in values.items() if k not in best and not math.isnan(v)]
    for k in best:
        lo, hi = intervals[k]
        for o in others:
            o_lo, o_hi = intervals[o]
            if not (o_lo > hi or o_hi < lo):
                return set()
    return best


def efficiency_table(
    rows: list[Row], metrics: list[str], config: ReportConfig, bench: BatchOneLatency | None = None
) -> Table:
    decimals = decimals_of(config)
    counter = config.macs_counter
    device, uniform = _device(rows)
    bench = bench if bench and bench.median_ms else None
    columns = [
        *[(m, metric_label(m) + f" {arrow(m)}") for m in metrics],
        ("params_total", "P (M) ↓"),
        ("params_trainable", "Trainable (M) ↓"),
        (f"macs_{counter}", f"MACs (G, {counter}) ↓"),
        ("latency_ms", "T (ms) ↓"),
        *([("bench_ms", "T bench (ms) ↓")] if bench else []),
    ]
    multi_source = len({r.source for r in rows}) > 1
    order = sorted(
        rows, key=lambda r: (ordered(rows, lambda x: x.architecture).index(r.architecture), r.order)
    )
    stats: dict[tuple[int, str], Stat] = {}
    for i, row in enumerate(order):
        for key, _ in columns:
            if key == "bench_ms":
                stats[(i, key)] = _bench_stat(row, bench)
            else:
                stats[(i, key)] = row.metric(key) if key in metrics else row.stat(key)
    best = set()
    for key, _ in columns:
        higher = key in metrics and higher_is_better(key)
        values = {(i, key): _shown(stats[(i, key)], key, config) for i in range(len(order))}
        found = winners(values, higher, decimals if key in metrics else 6)
        if key in ("latency_ms", "bench_ms"):
            spans = {
                (i, key): _bench_interval(row, bench) if key == "bench_ms" else _run_interval(row)
                for i, row in enumerate(order)
            }
            found = clear_winners(found, values, spans)
        best |= found
    notes = Notes()
    body = []
    for i, row in enumerate(order):
        cells = [row.architecture] + ([source_label(row.source)] if multi_source else [])
        cells.append(row.full_label + notes.flag(row))
        for key, _ in columns:
            stat = stats[(i, key)]
            text = _text(stat, key, metrics, decimals, config, row, uniform)
            flag = notes.flag(row, stat, metric_label(key), incomplete=False) if key in metrics else ""
            cells.append(emphasise(text, (i, key) in best, False, flag))
        body.append(cells)
    headers = ["Architecture"] + (["Source"] if multi_source else []) + ["Method"] + [h for _, h in columns]
    caption = (
        f"Mean over seeds; metrics as mean (SE) ±SD {unit_text(config)} (Peng reports mean ± SD). MACs counted "
        f"by {counter} at the recorded input size; T is the median batch-1 latency of each run ({device}), averaged "
        "over seeds"
        + (
            f"; T bench is `make bench-latency`'s median for the same network ({bench.device}; latency.json)."
            if bench
            else "."
        )
    )
    unrecorded = all(
        not stats[(i, "latency_ms")].defined and not stats[(i, f"macs_{counter}")].defined
        for i in range(len(order))
    )
    extra = ["MACs and latency are not recorded in these results (suite/profiling writes them)."] * unrecorded
    return make_table(headers, body, caption, [*extra, *notes.items()])


def _value(stat: Stat, key: str, config: ReportConfig) -> float:
    if key.startswith("params"):
        return stat.mean / 1e6
    return (
        stat.mean * factor_of(key, config) if not key.startswith(("macs", "latency", "bench")) else stat.mean
    )


def _shown(stat: Stat, key: str, config: ReportConfig) -> float:
    """The value as printed, so that ties as printed share the bold."""
    value = _value(stat, key, config)
    if math.isnan(value) or key.startswith(("params", "macs")):
        return value if math.isnan(value) else float(_sig(value))
    return round(value, 2) if key in ("latency_ms", "bench_ms") else value


def _text(
    stat: Stat, key: str, metrics: list[str], decimals: int, config: ReportConfig, row: Row, uniform: bool
) -> str:
    if key in metrics:  # mean (SE) as everywhere, ±SD as Peng prints them
        factor = factor_of(key, config)
        sd = "" if math.isnan(stat.sd) else f" ±{stat.sd * factor:.{decimals}f}"
        return fmt_stat(stat, decimals, factor) + (sd if stat.defined else "")
    if key == "latency_ms":
        text = fmt_stat(stat, 2)
        devices = sorted({d for d in row.ok.get("latency_device", []) if d})
        return text + (f" [{', '.join(devices)}]" if devices and not uniform else "")
    if key == "bench_ms":
        return fmt_stat(stat, 2, se=False)
    return _sig(_value(stat, key, config))
