"""Histology adapters: BACH (class folders of TIFFs) and MIDOG 2022 (patches around annotated cells)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import Field

from suite.data.adapters import Options, adapter, list_files
from suite.data.lock import LockEntry
from suite.errors import UserError


class BachOptions(Options):
    photos: str = Field("Photos", description="the folder holding Normal/, Benign/, InSitu/, Invasive/")


@adapter("bach", BachOptions)
def bach(root: Path, opts: BachOptions, entry: LockEntry) -> pd.DataFrame:
    """BACH / ICIAR 2018 microscopy (Aresta et al. 2019): 400 H&E TIFFs, 2048×1536, 100 per class.

    Layout (iciar2018-challenge.grand-challenge.org): `<root>/Photos/{Normal,Benign,InSitu,Invasive}/b001.tif`,
    the root being `ICIAR2018_BACH_Challenge/`. No patient ids are published, so splits cannot group by patient.
    """
    paths = list_files(root, opts.photos, [".tif", ".tiff"])
    return pd.DataFrame({"path": paths, "label": [p.split("/")[-2] for p in paths]})


class MidogOptions(Options):
    annotations: str = Field(
        "MIDOG2022_training.json", description="the challenge's COCO-style annotation file"
    )
    images: str = Field("", description="the folder holding the .tiff images, relative to the root")
    patch: int = Field(128, ge=16, description="side of the square patch cut around each annotated cell")
    bbox: Literal["xyxy", "xywh"] = Field("xyxy", description="MIDOG writes boxes as [x1, y1, x2, y2]")


def _centre(box: list[float], kind: str) -> tuple[float, float]:
    x, y, a, b = box
    return ((x + a) / 2, (y + b) / 2) if kind == "xyxy" else (x + a / 2, y + b / 2)


@adapter("midog2022", MidogOptions, columns=("patient", "tumor_type"))
def midog2022(root: Path, opts: MidogOptions, entry: LockEntry) -> pd.DataFrame:
    """MIDOG 2022 (Aubreville et al.) as Peng et al.'s binary task: mitotic figures vs non-mitotic look-alikes.

    Layout (midog2022.grand-challenge.org, zenodo 6547151): `<root>/MIDOG2022_training.json` with `images`
    (`id`, `file_name` like `001.tiff`, `tumor_type`), `annotations` (`image_id`, `category_id`, `bbox`) and
    `categories` (`mitotic figure`, `non-mitotic figure`); `<root>/001.tiff`, ... Each annotation becomes a
    `patch`×`patch` crop centred on its box (member `box:x0,y0,x1,y1`); the patient is the image (one case each).
    """
    file = root / opts.annotations
    if not file.is_file():
        raise UserError(f"annotation file {file} not found; check the dataset root")
    try:
        coco = json.loads(file.read_text())
        images = {im["id"]: im for im in coco["images"]}
        names = {c["id"]: c["name"] for c in coco["categories"]}
        annotations = coco["annotations"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(f"{file}: not a COCO-style MIDOG annotation file ({exc})") from None
    half, rows = opts.patch // 2, []
    for ann in annotations:
        image = images[ann["image_id"]]
        path = f"{opts.images.strip('/')}/{image['file_name']}".lstrip("/")
        cx, cy = _centre(ann["bbox"], opts.bbox)
        x0, y0 = round(cx) - half, round(cy) - half
        rows.append(
            {
                "path": path,
                "label": names[ann["category_id"]],
                "patient": Path(image["file_name"]).stem,
                "tumor_type": str(image.get("tumor_type", "")),
                "member": f"box:{x0},{y0},{x0 + opts.patch},{y0 + opts.patch}",
            }
        )
    return pd.DataFrame(rows).sort_values(["path", "member"], kind="stable", ignore_index=True)
