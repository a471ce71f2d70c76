"""The GPU path, checked on the CPU: batched augmentation equals the per-image transforms it replaces, on any
device; the data goes onto the device when it fits and says why not when it does not."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

from suite.data.augment import augment, crop, rotate
from suite.data.dataset import Split, TaskData
from suite.matrix.schema import Augment, TrainConfig
from suite.train.device import place_data


def per_image(x: torch.Tensor, cfg: Augment) -> torch.Tensor:
    """The loop over images that suite/data/augment.py replaced (same draws, same order)."""
    n = x.shape[0]
    if cfg.hflip:
        x = torch.where((torch.rand(n) < 0.5)[:, None, None, None], x.flip(-1), x)
    if cfg.vflip:
        x = torch.where((torch.rand(n) < 0.5)[:, None, None, None], x.flip(-2), x)
    if cfg.crop_padding:
        p, (h, w) = cfg.crop_padding, x.shape[-2:]
        padded = F.pad(x, (p, p, p, p), mode="reflect" if x.is_floating_point() else "constant")
        offsets = torch.randint(0, 2 * p + 1, (n, 2))
        x = torch.stack([padded[i, :, a : a + h, b : b + w] for i, (a, b) in enumerate(offsets.tolist())])
    if cfg.rotate:
        angles = (torch.rand(n) * 2 - 1) * cfg.rotate
        x = torch.stack([TF.rotate(img, float(a)) for img, a in zip(x, angles)])
    return x


@pytest.mark.parametrize("size", [(64, 64), (32, 48), (31, 31)])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_batched_rotation_is_torchvisions_rotate_image_by_image(size, dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (12, 3, *size), generator=g).to(dtype)
    angles = (torch.rand(12, generator=g) * 2 - 1) * 30
    angles[:3] = torch.tensor([0.0, -0.0, 15.0])
    expected = torch.stack([TF.rotate(img, float(a)) for img, a in zip(x, angles)])
    assert torch.equal(rotate(x, angles), expected)


def test_batched_crop_is_the_window_of_each_padded_image():
    x = torch.randint(0, 256, (5, 3, 8, 10), dtype=torch.uint8)
    offsets = torch.tensor([[0, 0], [4, 4], [1, 3], [2, 0], [0, 4]])
    padded = F.pad(x, (2, 2, 2, 2))
    expected = torch.stack([padded[i, :, a : a + 8, b : b + 10] for i, (a, b) in enumerate(offsets.tolist())])
    assert torch.equal(crop(x, 2, offsets), expected)


@pytest.mark.parametrize(
    "cfg",
    [Augment(hflip=True), Augment(hflip=True, vflip=True, rotate=10, crop_padding=4), Augment(rotate=90)],
    ids=["fang", "peng", "wide-rotation"],
)
def test_a_seed_gives_the_images_the_per_image_loop_gave(cfg):
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    torch.manual_seed(7)
    expected = per_image(x, cfg)
    after_expected = torch.rand(1)
    torch.manual_seed(7)
    got = augment(x, cfg)
    assert torch.equal(got, expected)
    assert torch.equal(torch.rand(1), after_expected)  # the same number of draws: later batches are unchanged
    assert got.dtype == torch.uint8 and got.device == x.device


def test_augmentation_stays_on_the_batchs_device():
    """On a device other than the CPU (here torch's meta device) every transform runs there, draws included."""
    x = torch.empty(4, 3, 16, 16, dtype=torch.uint8, device="meta")
    out = augment(x, Augment(hflip=True, vflip=True, crop_padding=2, rotate=5))
    assert out.device.type == "meta" and out.shape == x.shape and out.dtype == torch.uint8


def data_of(n: int) -> TaskData:
    split = Split(
        torch.zeros(n, 3, 8, 8, dtype=torch.uint8),
        torch.zeros(n, dtype=torch.int64),
        [str(i) for i in range(n)],
    )
    return TaskData("d", None, {"train": split}, "digest", True)


def test_the_data_moves_to_the_device_when_it_fits():
    data = data_of(10)
    need = 10 * 3 * 8 * 8 + 10 * 8
    record = place_data(data, torch.device("meta"), free_bytes=lambda: 2 * need)
    assert record == {"device": "meta", "bytes": need, "free_bytes": 2 * need, "resident": True}
    assert data.splits["train"].images.device.type == "meta"
    assert data.splits["train"].targets.device.type == "meta"


def test_data_that_does_not_fit_stays_on_the_host_and_the_result_says_why():
    data = data_of(10)
    record = place_data(data, torch.device("meta"), free_bytes=lambda: 100)
    assert record["resident"] is False and "more than 50% of the" in record["why"]
    assert data.splits["train"].images.device.type == "cpu"


def test_on_the_cpu_nothing_moves():
    data = data_of(3)
    before = data.splits["train"].images
    assert place_data(data, torch.device("cpu")) == {"device": "cpu", "bytes": 3 * 192 + 24}
    assert data.splits["train"].images is before


def test_amp_and_channels_last_are_on_by_default_on_cuda_only():
    cfg = TrainConfig()
    assert cfg.uses_amp("cuda") and cfg.uses_channels_last("cuda")
    assert not cfg.uses_amp("cpu") and not cfg.uses_channels_last("cpu")
    off = TrainConfig(amp=False, channels_last=False)
    assert not off.uses_amp("cuda") and not off.uses_channels_last("cuda")
