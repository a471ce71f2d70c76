"""Radiology adapters: CheXpert, MURA, BIMCV-COVID19+/− (X-ray) and the figshare T1w brain-tumour MRI set."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import Field

from suite.data.adapters import Options, adapter, list_files, read_table, require_columns
from suite.data.lock import LockEntry
from suite.errors import UserError

Uncertain = Literal["ones", "zeros", "ignore"]


class CheXpertOptions(Options):
    files: dict[str, str] = Field(
        {"train": "train.csv", "val": "valid.csv"}, description="split → the CheXpert CSV that holds it"
    )
    labels: list[str] = Field(
        ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"],
        description="CSV columns used as labels (default: the 5 competition labels of Irvin et al.)",
    )
    uncertain: Uncertain = Field(
        "ones", description="-1 labels: U-Ones, U-Zeros, or U-Ignore (drop the image)"
    )
    uncertain_per_label: dict[str, Uncertain] = Field({}, description="per-label override of `uncertain`")
    views: Literal["all", "frontal"] = "all"
    per_patient: Literal["all", "first"] = Field(
        "all", description="`first`: one image per patient (the first CSV row), as Davila's Table 2 counts"
    )


def _strip_release_folder(path: str, prefix: str) -> str:
    """CSV paths start with the release folder (`CheXpert-v1.0-small/train/...`); the root is that folder."""
    head, _, rest = path.partition("/")
    return rest if head.startswith(prefix) and rest else path


def _joined(flags: pd.DataFrame) -> pd.Series:
    """Per row, the names of the true columns joined by `|` (vectorised: CheXpert has 224k rows)."""
    out = pd.Series("", index=flags.index, dtype=object)
    for name in flags.columns:
        out = out + flags[name].map({True: f"{name}|", False: ""})
    return out.str.rstrip("|")


@adapter("chexpert", CheXpertOptions, columns=("patient", "study", "split", "view"))
def chexpert(root: Path, opts: CheXpertOptions, entry: LockEntry) -> pd.DataFrame:
    """CheXpert v1.0 (Irvin et al. 2019): `train.csv`/`valid.csv` with `Path`, `Frontal/Lateral` and one column per
    observation holding 1.0 / 0.0 / -1.0 (uncertain) / blank (not mentioned → negative).

    Layout (stanfordmlgroup.github.io/competitions/chexpert): `<root>/train.csv`, `<root>/valid.csv`,
    `<root>/train/patient00001/study1/view1_frontal.jpg`; the CSV paths carry the release folder
    (`CheXpert-v1.0-small/...`), which is the root.
    """
    frames, dropped = [], 0
    for split, name in opts.files.items():
        table = read_table(root / name)
        require_columns(table, ["Path", "Frontal/Lateral", *opts.labels], root / name)
        if opts.views == "frontal":
            table = table[table["Frontal/Lateral"] == "Frontal"]
        paths = table["Path"].map(lambda p: _strip_release_folder(p, "CheXpert"))
        positive = pd.DataFrame(index=table.index)
        keep = pd.Series(True, index=table.index)
        for label in opts.labels:
            value = pd.to_numeric(table[label].str.strip().replace("", "0"), errors="coerce").fillna(0)
            policy = opts.uncertain_per_label.get(label, opts.uncertain)
            positive[label] = (value == 1) | ((value == -1) & (policy == "ones"))
            if policy == "ignore":
                keep &= value != -1
        dropped += int((~keep).sum())
        frame = pd.DataFrame(
            {
                "path": paths,
                "label": _joined(positive),
                "patient": paths.str.split("/").str[1],
                "study": paths.str.split("/").str[1:3].str.join("/"),
                "split": split,
                "view": table["Frontal/Lateral"],
            }
        )[keep]
        if opts.per_patient == "first":
            frame = frame.drop_duplicates("patient", keep="first")
        frames.append(frame)
    index = pd.concat(frames, ignore_index=True)
    if dropped:
        index.attrs["notes"] = [f"{dropped} image(s) with an uncertain label left out (U-Ignore)"]
    return index


MuraPart = Literal["XR_ELBOW", "XR_FINGER", "XR_FOREARM", "XR_HAND", "XR_HUMERUS", "XR_SHOULDER", "XR_WRIST"]


class MuraOptions(Options):
    body_part: MuraPart
    files: dict[str, str] = Field(
        {"train": "train_image_paths.csv", "val": "valid_image_paths.csv"},
        description="split → the MURA CSV listing its image paths",
    )


@adapter("mura", MuraOptions, columns=("patient", "study", "split"))
def mura(root: Path, opts: MuraOptions, entry: LockEntry) -> pd.DataFrame:
    """MURA v1.1 (Rajpurkar et al. 2017), one body part; the study-level label comes from the study folder name.

    Layout (stanfordmlgroup.github.io/competitions/mura): `<root>/train_image_paths.csv` (no header, one path a
    line), `<root>/train/XR_SHOULDER/patient00001/study1_positive/image1.png`, the same for `valid`. CSV paths
    start with `MURA-v1.1/`, the root. Raw labels: `positive` (abnormal) and `negative` (normal).
    """
    frames = []
    for split, name in opts.files.items():
        table = read_table(root / name, header=None, names=["path"])
        paths = table["path"].str.strip().map(lambda p: _strip_release_folder(p, "MURA"))
        paths = paths[paths.str.contains(f"/{opts.body_part}/", regex=False)]
        parts = paths.str.split("/")
        study = parts.str[3]
        bad = ~study.str.contains(r"_(?:positive|negative)$", regex=True)
        if bad.any():
            raise UserError(
                f"{root / name}: {paths[bad].iloc[0]!r} has no study label (studyN_positive|negative)"
            )
        frames.append(
            pd.DataFrame(
                {
                    "path": paths,
                    "label": study.str.rsplit("_", n=1).str[1],
                    "patient": parts.str[2],
                    "study": parts.str[2] + "/" + study,
                    "split": split,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


class BimcvOptions(Options):
    folders: dict[str, str] = Field(
        {"positive": "covid19_posi", "negative": "covid19_neg"}, description="raw label → its subject tree"
    )
    exclude: list[str] = Field(
        ["vp-ll"], description="leave out files whose name contains one of these (lateral)"
    )
    exclude_file: str | None = Field(
        None, description="a text file of relative paths to leave out (outliers)"
    )


@adapter("bimcv-covid19", BimcvOptions, columns=("patient", "session"))
def bimcv_covid19(root: Path, opts: BimcvOptions, entry: LockEntry) -> pd.DataFrame:
    """BIMCV-COVID19+ and BIMCV-COVID19− chest X-rays (Vayá et al. 2020), iteration 1, as Peng et al. use them.

    Layout (BIDS, bimcv.cipf.es): `<root>/covid19_posi/sub-S03027/ses-E06019/mod-rx/sub-S03027_ses-E06019_run-1_
    bp-chest_vp-ap_cr.png`, the negatives under `covid19_neg/`. The patient is the `sub-*` folder. Peng removed
    lateral views (`vp-ll`) and unlisted outliers by hand; `exclude_file` takes such a list.
    """
    excluded = set()
    if opts.exclude_file:
        excluded = {ln.strip() for ln in (root / opts.exclude_file).read_text().splitlines() if ln.strip()}
    rows, left_out = [], 0
    for label, folder in opts.folders.items():
        for path in list_files(root, folder, [".png"]):
            name = path.rsplit("/", 1)[-1]
            if path in excluded or any(x in name for x in opts.exclude):
                left_out += 1
                continue
            parts = path.split("/")
            subject = next((p for p in parts if p.startswith("sub-")), None)
            if subject is None:
                raise UserError(f"{root / path}: no sub-* folder in the path; expected the BIDS layout")
            session = next((p for p in parts if p.startswith("ses-")), "")
            rows.append({"path": path, "label": label, "patient": subject, "session": session})
    index = pd.DataFrame(rows, columns=["path", "label", "patient", "session"])
    if left_out:
        index.attrs["notes"] = [f"{left_out} image(s) left out by exclude rules (lateral views, outliers)"]
    return index


class FigshareMriOptions(Options):
    cv_fold: int | None = Field(
        None,
        ge=1,
        le=5,
        description="with cvind.mat: this fold is `val`, the others `train` (a `split` column)",
    )


def _mat_fields(path: Path) -> tuple[str, str]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            label = str(int(f["cjdata/label"][()].item()))
            pid = "".join(chr(int(c)) for c in f["cjdata/PID"][()].flatten()).strip("\x00 ")
    except (OSError, KeyError) as exc:
        raise UserError(f"{path}: not a MATLAB v7.3 file with cjdata.label/PID ({exc})") from None
    return label, pid


@adapter("brain-tumor-mri", FigshareMriOptions, columns=("patient", "split"))
def brain_tumor_mri(root: Path, opts: FigshareMriOptions, entry: LockEntry) -> pd.DataFrame:
    """Cheng et al.'s T1w CE-MRI brain-tumour set (figshare 1512427): one MATLAB v7.3 file per slice.

    Layout: `<root>/**/<n>.mat` (n = 1..3064, unpacked from brainTumorDataPublic_*.zip), each an HDF5 file with a
    `cjdata` struct: `label` (1 meningioma, 2 glioma, 3 pituitary), `PID` (patient id, as uint16 characters),
    `image` (int16, 512×512, stored transposed), `tumorBorder`, `tumorMask`; plus `cvind.mat` (5-fold indices).
    """
    files = [p for p in list_files(root, "", [".mat"]) if Path(p).name != "cvind.mat"]
    rows = []
    for path in files:
        label, pid = _mat_fields(root / path)
        rows.append({"path": path, "label": label, "patient": pid, "member": "mat:cjdata/image"})
    index = pd.DataFrame(rows)
    if opts.cv_fold is not None:
        import h5py

        cv = next((root / p for p in list_files(root, "", [".mat"]) if Path(p).name == "cvind.mat"), None)
        if cv is None:
            raise UserError(f"{root}: cv_fold is set but cvind.mat is not there")
        with h5py.File(cv, "r") as f:
            folds = f["cvind"][()].flatten().astype(int)
        number = index["path"].map(lambda p: int(Path(p).stem))
        index["split"] = ["val" if folds[n - 1] == opts.cv_fold else "train" for n in number]
    return index
