"""Adapters for clinical photographs: Kaggle diabetic retinopathy (fundus) and ISIC 2020 (dermoscopy)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import Field

from suite.data.adapters import Options, adapter, read_table, require_columns
from suite.data.lock import LockEntry
from suite.errors import UserError


class KaggleDrOptions(Options):
    labels: str = "trainLabels.csv"
    images: str = Field("train", description="the folder holding the images, relative to the root")
    suffix: str = ".jpeg"


@adapter("kaggle-dr", KaggleDrOptions, columns=("patient", "eye"))
def kaggle_dr(root: Path, opts: KaggleDrOptions, entry: LockEntry) -> pd.DataFrame:
    """Kaggle Diabetic Retinopathy Detection (2015) training set: 35,126 fundus photographs graded 0–4.

    Layout (kaggle.com/c/diabetic-retinopathy-detection/data): `<root>/trainLabels.csv` with columns `image`
    (`10_left`) and `level` (0–4), images in `<root>/train/10_left.jpeg`. The patient is the number before
    `_left`/`_right`: both eyes of a person share it.
    """
    file = root / opts.labels
    table = read_table(file)
    require_columns(table, ["image", "level"], file)
    side = table["image"].str.rsplit("_", n=1)
    bad = side.str.len() != 2
    if bad.any():
        raise UserError(f"{file}: image name {table['image'][bad].iloc[0]!r} is not <patient>_<left|right>")
    return pd.DataFrame(
        {
            "path": opts.images.strip("/") + "/" + table["image"] + opts.suffix,
            "label": table["level"].str.strip(),
            "patient": side.str[0],
            "eye": side.str[1],
        }
    )


class IsicOptions(Options):
    ground_truth: str = "ISIC_2020_Training_GroundTruth.csv"
    duplicates: str | None = Field("ISIC_2020_Training_Duplicates.csv", description="null: keep duplicates")
    drop: Literal["image_name_1", "image_name_2"] = Field(
        "image_name_2", description="which image of each duplicate pair to leave out"
    )
    images: str = Field("train", description="the folder holding the JPEGs, relative to the root")
    suffix: str = ".jpg"


@adapter("isic2020", IsicOptions, columns=("patient", "lesion", "diagnosis"))
def isic2020(root: Path, opts: IsicOptions, entry: LockEntry) -> pd.DataFrame:
    """ISIC 2020 melanoma challenge training set (Rotemberg et al. 2021), duplicate list excluded.

    Layout (challenge2020.isic-archive.com): `<root>/ISIC_2020_Training_GroundTruth.csv` (`image_name`,
    `patient_id`, `lesion_id` in v2, `sex`, `age_approx`, `anatom_site_general_challenge`, `diagnosis`,
    `benign_malignant`, `target`), `<root>/ISIC_2020_Training_Duplicates.csv` (`image_name_1`, `image_name_2`:
    425 pairs) and the JPEGs in `<root>/train/ISIC_0015719.jpg`. 33,126 − 425 = 32,701 images (Davila et al.).
    """
    file = root / opts.ground_truth
    table = read_table(file)
    require_columns(table, ["image_name", "patient_id", "target"], file)
    notes = []
    if opts.duplicates:
        dup_file = root / opts.duplicates
        dups = read_table(dup_file)
        require_columns(dups, ["image_name_1", "image_name_2"], dup_file)
        drop = set(dups[opts.drop])
        unknown = drop - set(table["image_name"])
        if unknown:
            notes.append(
                f"{len(unknown)} duplicate(s) listed in {opts.duplicates} are not in {opts.ground_truth}"
            )
        before = len(table)
        table = table[~table["image_name"].isin(drop)]
        notes.append(f"{before - len(table)} duplicate image(s) left out ({opts.drop} of {opts.duplicates})")
    index = pd.DataFrame(
        {
            "path": opts.images.strip("/") + "/" + table["image_name"] + opts.suffix,
            "label": table["target"].str.strip(),
            "patient": table["patient_id"],
            "lesion": table.get("lesion_id", pd.Series("", index=table.index)),
            "diagnosis": table.get("diagnosis", pd.Series("", index=table.index)),
        }
    ).reset_index(drop=True)
    index.attrs["notes"] = notes
    return index
