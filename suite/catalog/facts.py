"""What the catalog needs to know about an architecture's structure, without building it: a shipped table.

Expanding `swft@*` or `ttl@layer3.*`, checking `swft@9` against a 6-block model, and listing the architectures
need each model's parameter blocks, its cut points and the variants of every strategy on it. Computing them means
importing timm and torch and building the model on the meta device (about 45 s for the registered architectures),
so `facts.json` beside this module holds them for every architecture in `suite.models.catalog`, computed with the
timm version it names. Any other model (`timm:<name>`), or a different timm, is computed live and cached for the
process. `python -m suite.catalog.facts` rewrites the table; tests compare it with the live computation.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import metadata
from importlib.resources import files
from pathlib import Path
from typing import Any

from suite.models.catalog import ARCHITECTURES, ArchSpec
from suite.strategies import STRATEGIES, VariantSpace

FACTS_FILE = "facts.json"


@dataclass(frozen=True)
class ArchFacts:
    """One timm model's structure: its parameter blocks (stem → head) and each strategy's variants on it; for the
    registered architectures also its size and cost with a 2-class head (what `run --dry-run` estimates from)."""

    timm: str
    blocks: tuple[str, ...]
    variants: dict[str, VariantSpace]
    params: int | None = None
    features: int | None = None
    """The head's input width: the size of one cached feature vector."""
    gmacs: float | None = None
    """fvcore GMACs of one forward pass at `macs_size` px."""
    macs_size: int | None = None

    def space(self, strategy: str) -> VariantSpace:
        return self.variants.get(strategy, VariantSpace())

    def to_json(self) -> dict[str, Any]:
        spaces = {
            name: {"search": list(s.search), "valid": list(s.valid), "excluded": s.excluded}
            for name, s in self.variants.items()
            if s.valid or s.excluded
        }
        cost = {k: getattr(self, k) for k in ("params", "features", "gmacs", "macs_size") if getattr(self, k)}
        return {"blocks": list(self.blocks), "variants": spaces, **cost}

    @classmethod
    def from_json(cls, timm_name: str, data: dict[str, Any]) -> ArchFacts:
        spaces = {
            name: VariantSpace(tuple(s["search"]), tuple(s["valid"]), dict(s["excluded"]))
            for name, s in data["variants"].items()
        }
        cost = {k: data.get(k) for k in ("params", "features", "gmacs", "macs_size")}
        return cls(timm_name, tuple(data["blocks"]), spaces, **cost)


@lru_cache(maxsize=64)
def meta_model(timm_name: str):
    """A weightless build on the meta device: its structure (blocks, cut points) without memory or init cost."""
    import timm
    import torch

    with torch.device("meta"):
        return timm.create_model(timm_name, pretrained=False, num_classes=2)


def live_facts(timm_name: str) -> ArchFacts:
    """Computed from the model itself (imports timm and torch)."""
    from suite.models.blocks import param_blocks

    model = meta_model(timm_name)
    spaces = {name: cls.variant_space(model) for name, cls in STRATEGIES.items()}
    return ArchFacts(timm_name, tuple(b.name for b in param_blocks(model)), spaces)


def cost_facts(spec: ArchSpec) -> dict[str, Any]:
    """Params and head width (2-class head), and fvcore GMACs at the catalog input size, of a random-weight build."""
    import timm
    import torch

    from suite.profiling.counts import count_macs

    with torch.device("meta"):
        meta = timm.create_model(spec.timm_name, pretrained=False, num_classes=2)
    real = timm.create_model(spec.timm_name, pretrained=False, num_classes=2).eval()
    macs = count_macs(real, spec.input_size, counters=("fvcore",))
    return {
        "params": sum(p.numel() for p in meta.parameters()),
        "features": int(meta.num_features),
        "gmacs": round(macs["fvcore"], 4) if macs.get("fvcore") is not None else None,
        "macs_size": spec.input_size,
    }


def timm_version() -> str:
    try:
        return metadata.version("timm")
    except metadata.PackageNotFoundError:
        return "not installed"


@cache
def shipped() -> dict[str, Any]:
    """The table as shipped (empty when it is missing or was computed with another timm)."""
    try:
        table = json.loads(files("suite.catalog").joinpath(FACTS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return table if table.get("timm") == timm_version() else {}


@lru_cache(maxsize=256)
def facts(timm_name: str) -> ArchFacts:
    """From the shipped table when it has the model, else computed live."""
    known = shipped().get("architectures", {}).get(timm_name)
    return ArchFacts.from_json(timm_name, known) if known else live_facts(timm_name)


@cache
def preprocessing(spec: ArchSpec) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std the weights expect, from the table, else from timm's pretrained config."""
    known = shipped().get("preprocessing", {}).get(spec.pretrained_id)
    if known:
        return tuple(known["mean"]), tuple(known["std"])
    from suite.models.weights import preprocessing as live

    return live(spec)


def _specs() -> list[ArchSpec]:
    return [spec for _, spec in ARCHITECTURES.items()]


def compute_table() -> dict[str, Any]:
    """The whole table, live: every registered architecture's facts and preprocessing."""
    from suite.models.weights import preprocessing as live
    from suite.models.weights import pretrained_cfg

    archs = {s.timm_name: {**live_facts(s.timm_name).to_json(), **cost_facts(s)} for s in _specs()}
    prep = {}
    for s in _specs():
        cfg = pretrained_cfg(s)
        where = {"hf_hub_id": cfg.hf_hub_id, "url": cfg.url} if cfg is not None else {}
        prep[s.pretrained_id] = {**dict(zip(("mean", "std"), map(list, live(s)))), **where}
    return {"timm": timm_version(), "architectures": archs, "preprocessing": prep}


def weights_source(spec: ArchSpec) -> dict[str, Any]:
    """Where the weights of a registered architecture come from (hub id, URL), from the table; {} if unknown."""
    known = shipped().get("preprocessing", {}).get(spec.pretrained_id, {})
    return {k: known.get(k) for k in ("hf_hub_id", "url") if known.get(k)}


def write_table(path: Path | None = None) -> Path:
    path = path or Path(__file__).with_name(FACTS_FILE)
    path.write_text(json.dumps(compute_table(), indent=1, sort_keys=True) + "\n")
    return path


if __name__ == "__main__":
    print(f"wrote {write_table(Path(sys.argv[1]) if len(sys.argv) > 1 else None)}")
