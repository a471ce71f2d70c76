"""Model size: parameters (total and trainable) and MACs per 1×3×S×S image, counted by fvcore and by thop.

Both counters count multiply-accumulates (one fused multiply-add = 1), which is what the papers report as
"FLOPs"/"MACs"; `torch.utils.flop_counter` and DeepSpeed count FLOPs = 2 × MACs and are not used. Each figure is
stored under its counter's name because the counters disagree by design (REFERENCE.md):
- fvcore traces the graph (aten ops). It skips element-wise ops, pooling it has no handle for, and
  `scaled_dot_product_attention`; the skipped ops are recorded in `unsupported_ops`.
- thop hooks leaf modules of known types. It counts BatchNorm and LayerNorm modules but no functional ops, so the
  same network counts differently when built by torchvision (separate BN modules) and by timm (fused BN-act
  modules, which thop does not know): the suite's timm DenseNet-121 gives 2.834 G, torchvision's 2.897 G.

The traps in REFERENCE.md are handled here, so every caller gets comparable numbers: counting happens on a deep copy
in eval mode, with timm's fused attention switched off (fvcore cannot count the fused kernel, and ViT-B/16 would
lose 0.7 GMACs), with grad enabled and every parameter requiring grad (under no-grad, torch's MultiheadAttention
takes a fast path that no counter sees), and thop runs on its own copy after fvcore has finished tracing (thop
leaves hooks and `total_ops` buffers behind, which fvcore would otherwise trace and count).
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import torch
from torch import nn

COUNTERS = ("fvcore", "thop")


def count_params(model: nn.Module) -> dict[str, int]:
    """Total and trainable (`requires_grad`) parameter counts, as the model stands now."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable}


def counting_copy(model: nn.Module) -> nn.Module:
    """A deep copy set up for counting: eval mode, fused attention off, every parameter requiring grad."""
    net = copy.deepcopy(model).eval()
    for module in net.modules():
        if hasattr(module, "fused_attn"):  # timm's Attention blocks read this flag at every forward
            module.fused_attn = False
    for p in net.parameters():
        p.requires_grad_(True)
    return net


def _fvcore(net: nn.Module, x: torch.Tensor) -> tuple[float, dict[str, int]]:
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # fvcore's torch.jit use is deprecated in recent torch; it still works
        return _fvcore_count(net, x)


def _fvcore_count(net: nn.Module, x: torch.Tensor) -> tuple[float, dict[str, int]]:
    from fvcore.nn import FlopCountAnalysis

    with torch.enable_grad():
        analysis = FlopCountAnalysis(net, (x,))
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        total = analysis.total()  # traces now: the analysis is lazy
    return float(total), {op: int(n) for op, n in sorted(analysis.unsupported_ops().items())}


def _thop(net: nn.Module, x: torch.Tensor) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # thop imports distutils
        from thop import profile

    macs, _ = profile(copy.deepcopy(net), inputs=(x,), verbose=False)
    return float(macs)


def count_macs(model: nn.Module, image_size: int, counters: tuple[str, ...] = COUNTERS) -> dict[str, Any]:
    """GMACs of one forward pass at 1×3×`image_size`×`image_size`, per counter, on the model's device.

    A counter that fails (a model it cannot trace) gives None and its error under `errors`, so a trained cell is
    never lost to a counting problem.
    """
    unknown = [c for c in counters if c not in COUNTERS]
    if unknown:
        raise ValueError(f"unknown MAC counter {unknown[0]!r}; valid: {', '.join(COUNTERS)}")
    net = counting_copy(model)
    param = next(net.parameters(), None)
    x = torch.zeros(1, 3, image_size, image_size, device=param.device if param is not None else "cpu")
    out: dict[str, Any] = {"image_size": image_size, "unsupported_ops": {}}
    errors: dict[str, str] = {}
    for counter in counters:
        try:
            if counter == "fvcore":
                macs, out["unsupported_ops"] = _fvcore(net, x)
            else:
                macs = _thop(net, x)
            out[counter] = macs / 1e9
        except Exception as exc:  # any tracing failure: recorded, never fatal
            out[counter] = None
            errors[counter] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    if errors:
        out["errors"] = errors
    return out


def mac_warnings(macs: dict[str, Any]) -> list[str]:
    """Notes for the result: counters that failed, and attention that fvcore could not count."""
    notes = [f"MACs: {name} failed: {error}" for name, error in macs.get("errors", {}).items()]
    sdpa = macs.get("unsupported_ops", {}).get("aten::scaled_dot_product_attention")
    if sdpa:
        notes.append(f"MACs: fvcore skipped {sdpa} fused attention call(s); its figure omits attention MACs")
    return notes
