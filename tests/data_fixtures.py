"""Tiny datasets written in each real dataset's published layout (file names, CSV columns, containers).

One writer per adapter: `FIXTURES[adapter](root) -> Expect` writes a handful of small images and index files under
`root` exactly as the real release lays them out, and returns what the adapter must make of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass
class Expect:
    dataset: str  # the datasets.lock entry this fixture stands in for
    labels: dict[str, str]  # index path (or path#member) → class after the label map
    patients: dict[str, str] = field(default_factory=dict)  # a few paths → patient id
    options: dict = field(default_factory=dict)  # adapter options for the fixture
    splits: dict[str, str] = field(default_factory=dict)  # a few paths → split column


def image(path: Path, seed: int, size: int = 12, mode: str = "RGB") -> None:
    """A small random image; the format follows the suffix (PNG, JPEG, TIFF)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (size, size, 3) if mode == "RGB" else (size, size)
    if mode == "I;16":
        Image.fromarray(rng.integers(0, 4096, shape, dtype=np.uint16)).save(path)
    else:
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(path)


def csv_index(root: Path) -> Expect:
    rows = ["path,label,patient"]
    labels = {}
    for i, label in enumerate(["benign", "malignant"] * 4):
        rel = f"images/img{i}.png"
        image(root / rel, i)
        rows.append(f"{rel},{label},p{i // 2}")
        labels[rel] = label
    (root / "index.csv").write_text("\n".join(rows) + "\n")
    return Expect("synthetic-vessels", labels, {"images/img3.png": "p1"})


def class_folder(root: Path) -> Expect:
    labels = {}
    for i, cls in enumerate(["cats", "dogs", "cats", "dogs", "cats", "dogs"]):
        rel = f"{cls}/sub/{cls}_{i}.jpg" if i == 0 else f"{cls}/{cls}_{i}.png"
        image(root / rel, i)
        labels[rel] = cls
    image(root / "stray.png", 99)  # not in a class folder: ignored with a note
    return Expect("", labels)


def cenbi(root: Path) -> Expect:
    files = {
        "Granuloma/Patient012_P012 (33).png": ("benign", "P012"),
        "Granuloma/Patient012_P012 (34).png": ("benign", "P012"),
        "Benign/Reinke's edema/Patient007/P007 (1).png": ("benign", "P007"),
        "SCC/Patient063_P063 (26).png": ("malignant", "P063"),
        "Carcinoma in situ/Patient064_P064 (2).png": ("malignant", "P064"),
    }
    for i, rel in enumerate(files):
        image(root / rel, i)
    return Expect("cenbi", {k: v[0] for k, v in files.items()}, {k: v[1] for k, v in list(files.items())[:3]})


def kaggle_dr(root: Path) -> Expect:
    levels = {"10_left": "0", "10_right": "2", "13_left": "4", "15_left": "1", "15_right": "3"}
    names = ["no_dr", "mild", "moderate", "severe", "proliferative"]
    (root / "trainLabels.csv").write_text("image,level\n" + "".join(f"{k},{v}\n" for k, v in levels.items()))
    for i, name in enumerate(levels):
        image(root / "train" / f"{name}.jpeg", i, size=24)
    return Expect(
        "kaggle-dr",
        {f"train/{k}.jpeg": names[int(v)] for k, v in levels.items()},
        {"train/10_right.jpeg": "10", "train/15_left.jpeg": "15"},
    )


CHEXPERT_COLUMNS = (
    "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,"
    "Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,Fracture,"
    "Support Devices"
)


def chexpert(root: Path) -> Expect:
    """Rows: path, frontal/lateral, {Cardiomegaly, Edema, Consolidation, Atelectasis, Pleural Effusion} values."""
    rows = {
        "train": [
            ("patient00001/study1/view1_frontal.jpg", "Frontal", ["1.0", "", "0.0", "-1.0", ""]),
            ("patient00001/study1/view2_lateral.jpg", "Lateral", ["1.0", "", "0.0", "-1.0", ""]),
            ("patient00002/study1/view1_frontal.jpg", "Frontal", ["", "1.0", "", "", "1.0"]),
            ("patient00003/study2/view1_frontal.jpg", "Frontal", ["0.0", "", "-1.0", "", ""]),
            ("patient00004/study1/view1_frontal.jpg", "Frontal", ["", "", "", "", ""]),
        ],
        "valid": [
            ("patient64541/study1/view1_frontal.jpg", "Frontal", ["1.0", "0.0", "0.0", "0.0", "1.0"]),
            ("patient64542/study1/view1_frontal.jpg", "Frontal", ["0.0", "1.0", "1.0", "1.0", "0.0"]),
        ],
    }
    for split, items in rows.items():
        lines = [CHEXPERT_COLUMNS]
        for i, (rel, view, (card, edema, cons, atel, eff)) in enumerate(items):
            path = f"CheXpert-v1.0-small/{split}/{rel}"
            image(root / split / rel, i, mode="L")
            values = ["", card, "", "", edema, cons, "", atel, "", eff, "", "", ""]
            lines.append(",".join([path, "Female", "68", view, "AP", "", *values]))
        (root / f"{split}.csv").write_text("\n".join(lines) + "\n")
    labels = {  # U-Ones
        "train/patient00001/study1/view1_frontal.jpg": "Atelectasis|Cardiomegaly",
        "train/patient00001/study1/view2_lateral.jpg": "Atelectasis|Cardiomegaly",
        "train/patient00002/study1/view1_frontal.jpg": "Edema|Pleural Effusion",
        "train/patient00003/study2/view1_frontal.jpg": "Consolidation",
        "train/patient00004/study1/view1_frontal.jpg": "",
        "valid/patient64541/study1/view1_frontal.jpg": "Cardiomegaly|Pleural Effusion",
        "valid/patient64542/study1/view1_frontal.jpg": "Atelectasis|Consolidation|Edema",
    }
    return Expect(
        "chexpert",
        labels,
        {"train/patient00002/study1/view1_frontal.jpg": "patient00002"},
        options={"uncertain": "ones", "per_patient": "all"},
        splits={"valid/patient64541/study1/view1_frontal.jpg": "val"},
    )


def mura(root: Path) -> Expect:
    studies = {
        "train": [
            ("XR_SHOULDER/patient00001/study1_positive", 2),
            ("XR_SHOULDER/patient00002/study1_negative", 1),
            ("XR_SHOULDER/patient00002/study2_positive", 1),
            ("XR_WRIST/patient00003/study1_negative", 2),
        ],
        "valid": [("XR_SHOULDER/patient11187/study1_negative", 3)],
    }
    labels = {}
    for split, items in studies.items():
        lines, study_lines = [], []
        for study, n in items:
            for k in range(1, n + 1):
                rel = f"{split}/{study}/image{k}.png"
                image(root / rel, k, mode="L")
                lines.append(f"MURA-v1.1/{rel}")
                if "XR_SHOULDER" in study:
                    labels[rel] = "abnormal" if study.endswith("positive") else "normal"
            study_lines.append(f"MURA-v1.1/{split}/{study}/,{int(study.endswith('positive'))}")
        (root / f"{split}_image_paths.csv").write_text("\n".join(lines) + "\n")
        (root / f"{split}_labeled_studies.csv").write_text("\n".join(study_lines) + "\n")
    return Expect(
        "mura-shoulder",
        labels,
        {"train/XR_SHOULDER/patient00002/study2_positive/image1.png": "patient00002"},
        splits={"valid/XR_SHOULDER/patient11187/study1_negative/image3.png": "val"},
    )


def write_mat(path: Path, label: int, pid: str, seed: int, size: int = 16) -> None:
    """A MATLAB v7.3 file as figshare ships it: HDF5 after a 512-byte MATLAB header, a `cjdata` struct."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(-200, 1800, (size, size), dtype=np.int16)
    with h5py.File(path, "w", userblock_size=512) as f:
        g = f.create_group("cjdata")
        g["label"] = np.array([[float(label)]])
        g["PID"] = np.array([[ord(c)] for c in pid], dtype=np.uint16)
        g["image"] = pixels.T  # MATLAB writes column-major
        g["tumorBorder"] = np.zeros((1, 8))
        g["tumorMask"] = np.zeros((size, size), dtype=np.uint8)
    with path.open("r+b") as f:
        f.write(
            b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Apr 3 10:00:00 2017 HDF5 schema 1.00 ."
        )


def brain_tumor_mri(root: Path) -> Expect:
    import h5py

    items = [(1, "MR040503"), (2, "MR040503"), (3, "112649"), (2, "112649"), (1, "MR029008"), (3, "MR029008")]
    names = {1: "meningioma", 2: "glioma", 3: "pituitary"}
    labels = {}
    for n, (label, pid) in enumerate(items, start=1):
        part = "brainTumorDataPublic_1-766" if n <= 3 else "brainTumorDataPublic_767-1532"
        write_mat(root / part / f"{n}.mat", label, pid, n)
        labels[f"{part}/{n}.mat#mat:cjdata/image"] = names[label]
    with h5py.File(root / "cvind.mat", "w", userblock_size=512) as f:
        f["cvind"] = np.array([[1, 1, 2, 2, 3, 3]], dtype=float)
    return Expect("brain-tumor-mri", labels, {"brainTumorDataPublic_1-766/3.mat": "112649"})


def bach(root: Path) -> Expect:
    labels = {}
    names = {"Normal": "normal", "Benign": "benign", "InSitu": "in_situ", "Invasive": "invasive"}
    for k, folder in enumerate(names):
        for i in (1, 2):
            rel = f"Photos/{folder}/{folder[0].lower()}{i:03d}.tif"
            image(root / rel, k * 10 + i, size=20)
            labels[rel] = names[folder]
    (root / "Photos" / "microscopy_ground_truth.csv").write_text("b001.tif,Benign\n")
    return Expect("bach", labels)


def isic2020(root: Path) -> Expect:
    rows = [
        ("ISIC_2637011", "IP_7279968", "0"),
        ("ISIC_0015719", "IP_3075186", "0"),
        ("ISIC_0052212", "IP_2842074", "1"),
        ("ISIC_0068279", "IP_6890425", "0"),
        ("ISIC_0074268", "IP_7279968", "1"),
        ("ISIC_9999999", "IP_6890425", "0"),
    ]
    header = (
        "image_name,patient_id,sex,age_approx,anatom_site_general_challenge,diagnosis,benign_malignant,target"
    )
    lines = [header] + [
        f"{n},{p},male,45.0,head/neck,unknown,{'malignant' if t == '1' else 'benign'},{t}" for n, p, t in rows
    ]
    (root / "ISIC_2020_Training_GroundTruth.csv").write_text("\n".join(lines) + "\n")
    (root / "ISIC_2020_Training_Duplicates.csv").write_text(
        "image_name_1,image_name_2\nISIC_0068279,ISIC_9999999\n"
    )
    for i, (name, _, _) in enumerate(rows):
        image(root / "train" / f"{name}.jpg", i, size=24)
    labels = {f"train/{n}.jpg": ("malignant" if t == "1" else "benign") for n, _, t in rows[:5]}
    return Expect("isic2020", labels, {"train/ISIC_0074268.jpg": "IP_7279968"})


def cholect50(root: Path) -> Expect:
    def triplet(instrument: int) -> list:
        return [1, instrument, 1.0, 0.1, 0.1, 0.2, 0.2, 2, 0, 0.1, 0.1, 0.2, 0.2, 1, 0]

    labels, splits = {}, {}
    for video, split in (("VID01", "train"), ("VID08", "val"), ("VID06", "test")):
        annotations = {}
        for frame in range(25):
            present = [frame % 6, 2] if frame % 3 else []
            annotations[str(frame)] = [triplet(i) for i in present] or [[-1] * 15]
            image(root / "videos" / video / f"{frame:06d}.png", frame, size=10)
            if frame % 10 == 0:
                names = ["grasper", "bipolar", "hook", "scissors", "clipper", "irrigator"]
                labels[f"videos/{video}/{frame:06d}.png"] = "|".join(names[i] for i in sorted(set(present)))
                splits[f"videos/{video}/{frame:06d}.png"] = split
        (root / "labels").mkdir(exist_ok=True)
        (root / "labels" / f"{video}.json").write_text(
            json.dumps({"video": int(video[3:]), "fps": 1, "num_frames": 25, "annotations": annotations})
        )
    return Expect("cholect50-instrument", labels, {"videos/VID08/000010.png": "VID08"}, splits=splits)


def bimcv_covid19(root: Path) -> Expect:
    labels = {}
    for label, tree in (("positive", "covid19_posi"), ("negative", "covid19_neg")):
        for k, subject in enumerate(("S03027", "S03044")):
            session = f"E0{k}019"
            base = f"{tree}/sub-{subject}/ses-{session}/mod-rx/sub-{subject}_ses-{session}_run-1_bp-chest"
            image(root / f"{base}_vp-ap_cr.png", k, mode="I;16")
            image(root / f"{base}_vp-ll_cr.png", k + 5, mode="I;16")  # lateral: left out
            labels[f"{base}_vp-ap_cr.png"] = label
    return Expect(
        "bimcv-covid19",
        labels,
        {next(iter(labels)): "sub-S03027"},
    )


def midog2022(root: Path) -> Expect:
    for i in (1, 2):
        image(root / f"{i:03d}.tiff", i, size=96)
    coco = {
        "images": [
            {
                "id": 1,
                "file_name": "001.tiff",
                "width": 96,
                "height": 96,
                "tumor_type": "human breast cancer",
            },
            {"id": 2, "file_name": "002.tiff", "width": 96, "height": 96, "tumor_type": "canine lymphoma"},
        ],
        "categories": [{"id": 1, "name": "mitotic figure"}, {"id": 2, "name": "non-mitotic figure"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 60, 60]},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [40, 30, 90, 80]},
            {"id": 3, "image_id": 2, "category_id": 1, "bbox": [0, 0, 50, 50]},
            {"id": 4, "image_id": 2, "category_id": 2, "bbox": [46, 46, 96, 96]},
        ],
    }
    (root / "MIDOG2022_training.json").write_text(json.dumps(coco))
    labels = {
        "001.tiff#box:19,19,51,51": "mitotic",
        "001.tiff#box:49,39,81,71": "non_mitotic",
        "002.tiff#box:9,9,41,41": "mitotic",
        "002.tiff#box:55,55,87,87": "non_mitotic",
    }
    return Expect("midog2022", labels, {"001.tiff": "001"}, options={"patch": 32})


def medmnist(root: Path) -> Expect:
    rng = np.random.default_rng(0)
    arrays, labels = {}, {}
    for split, n in (("train", 6), ("val", 3), ("test", 3)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28, 3), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 9).reshape(n, 1).astype(np.uint8)
        names = ["adipose", "background", "debris", "lymphocytes", "mucus", "smooth muscle"]
        for i in range(n):
            labels[f"pathmnist.npz#npz:{split}_images:{i}"] = names[i % 9]
    np.savez_compressed(root / "pathmnist.npz", **arrays)
    return Expect("medmnist-pathmnist", labels, splits={"pathmnist.npz": "train"})


FIXTURES: dict[str, Callable[[Path], Expect]] = {
    "csv-index": csv_index,
    "class-folder": class_folder,
    "cenbi": cenbi,
    "kaggle-dr": kaggle_dr,
    "chexpert": chexpert,
    "mura": mura,
    "brain-tumor-mri": brain_tumor_mri,
    "bach": bach,
    "isic2020": isic2020,
    "cholect50": cholect50,
    "bimcv-covid19": bimcv_covid19,
    "midog2022": midog2022,
    "medmnist": medmnist,
}
