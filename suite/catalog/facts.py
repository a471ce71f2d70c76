"""What the catalog needs to know about an architecture's structure, without building it: a shipped table.

Expanding `swft@*` or `ttl@layer3.*`, checking `swft@9` against a 6-block model, and listing the architectures
need each model's parameter blocks, its cut points and the variants of every strategy on it. Computing them means
importing timm and torch and building the model on the meta device (about 45 s for the registered architectures),
so `facts.json` beside this module holds them for every architecture in `suite.models.catalog`, computed with the
timm and torchvision versions it names, keyed by model id (the timm name, or `torchvision:<builder>`). Any other
model (`timm:<name>`), or a different timm or torchvision, is computed live and cached for the process.
`python -m suite.catalog.facts` rewrites the table; tests compare it with the live computation.
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

from suite.models.catalog import ARCHITECTURES, TIMM, ArchSpec
from suite.strategies import STRATEGIES, VariantSpace

FACTS_FILE = "facts.json"


@dataclass(frozen=True)
class ArchFacts:
    """One model's structure: its parameter blocks (stem → head) and each strategy's variants on it; for the
    registered architectures also its size and cost with a 2-class head (what `run --dry-run` estimates from)."""

    timm: str
    """The model id: the timm name, or `torchvision:<builder>`."""
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
            | ({"unsupported": s.unsupported} if s.unsupported else {})
            for name, s in self.variants.items()
            if s.valid or s.excluded or s.unsupported
        }
        cost = {k: getattr(self, k) for k in ("params", "features", "gmacs", "macs_size") if getattr(self, k)}
        return {"blocks": list(self.blocks), "variants": spaces, **cost}

    @classmethod
    def from_json(cls, model_id: str, data: dict[str, Any]) -> ArchFacts:
        spaces = {
            name: VariantSpace(
                tuple(s["search"]), tuple(s["valid"]), dict(s["excluded"]), s.get("unsupported", "")
            )
            for name, s in data["variants"].items()
        }
        cost = {k: data.get(k) for k in ("params", "features", "gmacs", "macs_size")}
        return cls(model_id, tuple(data["blocks"]), spaces, **cost)


@lru_cache(maxsize=64)
def meta_model(model_id: str):
    """A weightless build on the meta device: its structure (blocks, cut points) without memory or init cost."""
    import timm
    import torch

    with torch.device("meta"):
        spec = next((s for s in _specs() if s.model_id == model_id and s.family != TIMM), None)
        if spec is None:
            return timm.create_model(model_id, pretrained=False, num_classes=2)
        from suite.models.build import random_model

        return random_model(spec, 2)


def live_facts(model_id: str) -> ArchFacts:
    """Computed from the model itself (imports timm and torch)."""
    from suite.models.blocks import param_blocks

    model = meta_model(model_id)
    spaces = {name: cls.variant_space(model) for name, cls in STRATEGIES.items()}
    return ArchFacts(model_id, tuple(b.name for b in param_blocks(model)), spaces)


def cost_facts(spec: ArchSpec) -> dict[str, Any]:
    """Params and head width (2-class head), and fvcore GMACs at the catalog input size, of a random-weight build."""
    from suite.models.build import random_model
    from suite.profiling.counts import count_macs

    meta = meta_model(spec.model_id)
    real = random_model(spec, 2).eval()
    macs = count_macs(real, spec.input_size, counters=("fvcore",))
    return {
        "params": sum(p.numel() for p in meta.parameters()),
        "features": int(meta.num_features),
        "gmacs": round(macs["fvcore"], 4) if macs.get("fvcore") is not None else None,
        "macs_size": spec.input_size,
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def timm_version() -> str:
    return _version("timm")


def versions() -> dict[str, str]:
    """The libraries whose models the table describes: timm's and torchvision's."""
    return {"timm": timm_version(), "torchvision": _version("torchvision")}


@cache
def shipped() -> dict[str, Any]:
    """The table as shipped (empty when it is missing or was computed with another timm or torchvision)."""
    try:
        table = json.loads(files("suite.catalog").joinpath(FACTS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return table if all(table.get(k) == v for k, v in versions().items()) else {}


@lru_cache(maxsize=256)
def facts(model_id: str) -> ArchFacts:
    """From the shipped table when it has the model (`ArchSpec.model_id`), else computed live."""
    known = shipped().get("architectures", {}).get(model_id)
    return ArchFacts.from_json(model_id, known) if known else live_facts(model_id)


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
    from suite.models import torchvision_nets
    from suite.models.weights import preprocessing as live
    from suite.models.weights import pretrained_cfg

    archs = {s.model_id: {**live_facts(s.model_id).to_json(), **cost_facts(s)} for s in _specs()}
    prep = {}
    for s in _specs():
        cfg = pretrained_cfg(s)
        where = {"hf_hub_id": cfg.hf_hub_id, "url": cfg.url} if cfg is not None else {}
        if (
            s.family != TIMM
        ):  # torchvision's weights name their own URL (kept in torch hub's checkpoints folder)
            where = {"url": torchvision_nets.weights_of(s).url}
        prep[s.pretrained_id] = {**dict(zip(("mean", "std"), map(list, live(s)))), **where}
    return {**versions(), "architectures": archs, "preprocessing": prep}


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
