"""`--compare OLD_RESULTS_DIR`: the nightly regression check of one results folder against an older one.

Cells are matched by what they are (dataset, architecture, source, strategy with variant, sweep point, seed),
not by cell id, so a changed default elsewhere in the config still compares. Per group of seeds it flags:
- a metric whose mean moved by more than k·SE of the difference, SE = √(SE_new² + SE_old²); when that SE is
  unavailable (one seed) or zero (identical seeds), a move larger than `abs_tol`;
- a batch-1 latency that changed by more than `latency_pct` % on the same device (other devices: not compared);
- a peak memory that changed by more than `memory_pct` % on the same kind of memory;
- a parameter or MAC count that changed at all (the model itself changed);
- a cell that fails now and did not fail before.
Every flag has a direction: higher is better for the metrics that say so (accuracy, AUROC, ...), lower is better for
latency, memory, parameters and MACs. Only changes for the worse are regressions and make `medtl-bench report` exit
non-zero; improvements are listed apart and never fail the nightly job (else the baseline could never move).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from suite.document import Block, Bullets, Heading, Para, table
from suite.matrix.report import CompareConfig
from suite.report.collect import Collected
from suite.report.naming import higher_is_better, metric_label, source_label
from suite.report.stats import mean_se

GROUP = ["dataset", "architecture", "source", "strategy", "sweep"]


@dataclass
class Comparison:
    """Changes beyond their limits: `flags` for the worse (regressions), `better` for the better."""

    flags: list[list[str]] = field(default_factory=list)
    better: list[list[str]] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)
    info: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> int:
        """The regressions: what fails the nightly job."""
        return len(self.flags)

    def flag(
        self,
        kind: str,
        key: tuple,
        what: str,
        old: str,
        new: str,
        change: str,
        limit: str,
        worse: bool = True,
    ) -> None:
        dataset, arch, source, strategy, sweep = key
        where = [dataset, arch, source_label(source), strategy + (f" ({sweep})" if sweep else "")]
        row = [*where, what, old, new, change, limit]
        if worse:
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
            self.flags.append(row)
        else:
            self.better.append(row)


def _groups(frame: pd.DataFrame) -> dict[tuple, pd.DataFrame]:
    if frame.empty:
        return {}
    return {key: group for key, group in frame.groupby(GROUP, sort=False)}


def _split(new: pd.DataFrame, old: pd.DataFrame) -> str:
    both = pd.concat([new, old])
    return "test" if bool(both.get("has_test", pd.Series([True])).fillna(False).astype(bool).any()) else "val"


def _metrics(cmp: Comparison, key: tuple, new: pd.DataFrame, old: pd.DataFrame, cfg: CompareConfig) -> None:
    split = _split(new, old)
    for metric in new["metrics"].iloc[0]:
        column = f"{split}_{metric}"
        if column not in new or column not in old:
            continue
        a, b = mean_se(old[column]), mean_se(new[column])
        if not (a.defined and b.defined):
            continue
        delta = b.mean - a.mean
        se = math.sqrt(a.se**2 + b.se**2) if not (math.isnan(a.se) or math.isnan(b.se)) else math.nan
        limit, why = (cfg.k * se, f"{cfg.k:g}·SE") if se > 0 else (cfg.abs_tol, "abs_tol")
        if abs(delta) > limit:
            worse = (delta > 0) != higher_is_better(metric)
            cmp.flag(
                "metric",
                key,
                f"{split} {metric_label(metric)} ({'worse' if worse else 'better'})",
                f"{a.mean:.4f} (n={a.n})",
                f"{b.mean:.4f} (n={b.n})",
                f"{delta:+.4f}",
                f"{why} = {limit:.4f}",
                worse=worse,
            )


def _latency(cmp: Comparison, key: tuple, new: pd.DataFrame, old: pd.DataFrame, cfg: CompareConfig) -> None:
    devices = {d for d in pd.concat([new, old]).get("latency_device", pd.Series(dtype=str)).fillna("") if d}
    a, b = mean_se(old.get("latency_ms", [])), mean_se(new.get("latency_ms", []))
    if not (a.defined and b.defined):
        return
    if len(devices) > 1:
        cmp.info.append(
            f"latency not compared for {' / '.join(map(str, key[:4]))}: devices {sorted(devices)}"
        )
        return
    pct = (b.mean - a.mean) / a.mean * 100 if a.mean else math.nan
    if not math.isnan(pct) and abs(pct) > cfg.latency_pct:
        cmp.flag(
            "latency",
            key,
            f"batch-1 latency ({'slower' if pct > 0 else 'faster'})",
            f"{a.mean:.2f} ms",
            f"{b.mean:.2f} ms",
            f"{pct:+.1f}%",
            f"±{cfg.latency_pct:g}%",
            worse=pct > 0,
        )


def _memory(cmp: Comparison, key: tuple, new: pd.DataFrame, old: pd.DataFrame, cfg: CompareConfig) -> None:
    kinds = {k for k in pd.concat([new, old]).get("memory_kind", pd.Series(dtype=str)).fillna("") if k}
    a, b = mean_se(old.get("memory_peak_bytes", [])), mean_se(new.get("memory_peak_bytes", []))
    if len(kinds) > 1 or not (a.defined and b.defined) or not a.mean:
        return
    pct = (b.mean - a.mean) / a.mean * 100
    if abs(pct) > cfg.memory_pct:
        mib = 1024**2
        kind = next(iter(kinds), "")
        what = f"peak memory{f' ({kind})' if kind else ''}, {'more' if pct > 0 else 'less'}"
        old_s, new_s = f"{a.mean / mib:,.1f} MiB", f"{b.mean / mib:,.1f} MiB"
        cmp.flag("memory", key, what, old_s, new_s, f"{pct:+.1f}%", f"±{cfg.memory_pct:g}%", worse=pct > 0)


def _counts(cmp: Comparison, key: tuple, new: pd.DataFrame, old: pd.DataFrame) -> None:
    """Parameters and MACs: any change means the model changed; more is worse, fewer is better."""
    for kind, column, what in (("params", "params_total", "parameters"), ("macs", "macs_fvcore", "GMACs")):
        a, b = mean_se(old.get(column, [])), mean_se(new.get(column, []))
        if a.defined and b.defined and a.mean != b.mean:
            fmt = ",.0f" if kind == "params" else ",.4f"
            old_s, new_s, change = f"{a.mean:{fmt}}", f"{b.mean:{fmt}}", f"{b.mean - a.mean:+{fmt}}"
            more = b.mean > a.mean
            cmp.flag(
                kind, key, f"{what} ({'more' if more else 'fewer'})", old_s, new_s, change, "any", worse=more
            )


def _failures(cmp: Comparison, key: tuple, new: pd.DataFrame, old: pd.DataFrame) -> None:
    before = dict(zip(old["seed"], old["status"]))
    for seed, status, error in zip(new["seed"], new["status"], new["error"]):
        if status == "failed" and before.get(seed) != "failed":
            was = before.get(seed, "absent")
            cmp.flag("failing", key, f"seed {seed} fails", was, "failed", str(error)[:80], "—")


def compare(new: Collected, old: Collected, cfg: CompareConfig) -> Comparison:
    cmp = Comparison()
    new_groups, old_groups = _groups(new.frame), _groups(old.frame)
    compared = 0
    for key, group in new_groups.items():
        if key not in old_groups:
            _failures(cmp, key, group, group.iloc[0:0])
            continue
        prev = old_groups[key]
        ok_new, ok_old = group[group["status"] == "ok"], prev[prev["status"] == "ok"]
        compared += 1
        _failures(cmp, key, group, prev)
        if ok_new.empty or ok_old.empty:
            continue
        _metrics(cmp, key, ok_new, ok_old, cfg)
        _latency(cmp, key, ok_new, ok_old, cfg)
        _memory(cmp, key, ok_new, ok_old, cfg)
        _counts(cmp, key, ok_new, ok_old)
    fresh = sum(k not in old_groups for k in new_groups)
    gone = sum(k not in new_groups for k in old_groups)
    cmp.info.insert(
        0, f"{compared} group(s) compared; {fresh} new (no old results); {gone} no longer present"
    )
    return cmp


def regression_section(cmp: Comparison, old_label: str, cfg: CompareConfig) -> list[Block]:
    """What was flagged against the old results, with the limits used, and what was compared."""
    blocks: list[Block] = [
        Heading(2, f"Regression check against `{old_label}`"),
        Para(
            f"Flags: metric mean moved by more than {cfg.k:g}·SE of the difference (or {cfg.abs_tol:g} when SE is "
            f"unavailable or zero); batch-1 latency changed by more than {cfg.latency_pct:g}% on the same device; "
            f"peak memory changed by more than {cfg.memory_pct:g}%; parameter or MAC count changed; a cell fails "
            "that did not fail before. Only changes for the worse are regressions; improvements are listed apart. "
            "Metric values as fractions."
        ),
    ]
    headers = ["Dataset", "Architecture", "Source", "Strategy", "What", "Old", "New", "Change", "Limit"]
    if not cmp.flagged:
        blocks.append(Para("**No regression.**"))
    else:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(cmp.kinds.items()))
        blocks.append(table(headers, cmp.flags, f"**{cmp.flagged} regression(s)** ({kinds})."))
    if cmp.better:
        blocks.append(table(headers, cmp.better, f"**{len(cmp.better)} improvement(s)** (not a failure)."))
    return [*blocks, Bullets(tuple(cmp.info))]
