"""Endoscopy adapters: CE-NBI laryngeal images (Fang et al.'s target) and CholecT50 instruments (Davila et al.)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from pydantic import Field

from suite.data.adapters import IMAGE_SUFFIXES, Options, adapter, list_files, normalise_name, patient_from
from suite.data.lock import LockEntry
from suite.errors import UserError


class CenbiOptions(Options):
    patient_pattern: str = Field(
        r"(?i)p(?:atient)?[ _-]?0*(\d+)",
        description="regex whose first group is the patient number, tried on the file name, then the whole path",
    )
    suffixes: list[str] = sorted(IMAGE_SUFFIXES)


@adapter("cenbi", CenbiOptions, columns=("patient", "lesion"))
def cenbi(root: Path, opts: CenbiOptions, entry: LockEntry) -> pd.DataFrame:
    """CE-NBI laryngeal images (Esmaeili et al. 2023, zenodo 6674034): folders per lesion type, 11,144 images.

    The raw label is the lesion type: the first folder on an image's path whose name (compared without case or
    punctuation) is a key of the lock's `label_map`, which maps each lesion type to benign or malignant as Fang et
    al. do. Patient ids come from file names such as `Patient012_P012 (33).png` (Fang's example image). The
    exact folder naming of the Zenodo archive could not be checked offline; an unknown lesion folder is a
    one-line error naming it, to be added to `label_map`.
    """
    lesions = {normalise_name(k): k for k in entry.label_map}
    rows = []
    for path in list_files(root, "", opts.suffixes):
        folders = path.split("/")[:-1]
        lesion = next((lesions[normalise_name(f)] for f in folders if normalise_name(f) in lesions), None)
        if lesion is None:
            raise UserError(
                f"{root / path}: none of its folders {folders} is a lesion type in the label map; "
                f"add it to `label_map` in datasets.lock (known: {sorted(entry.label_map)})"
            )
        name = path.rsplit("/", 1)[-1]
        try:
            patient = patient_from(opts.patient_pattern, name, path)
        except UserError:
            patient = patient_from(opts.patient_pattern, path, str(root / path))
        rows.append({"path": path, "label": lesion, "patient": f"P{int(patient):03d}", "lesion": lesion})
    return pd.DataFrame(rows, columns=["path", "label", "patient", "lesion"])


# The official CholecT50 split used by Nwoye et al. (github.com/CAMMA-public/cholect50, variant "cholect50").
_TRAIN = (
    "1 15 26 40 52 65 79 2 18 27 43 56 66 92 4 22 31 47 57 68 96 5 23 35 48 60 70 103 13 25 36 49 62 75 110"
)
CHOLECT50_SPLIT = {
    "train": [int(v) for v in _TRAIN.split()],
    "val": [8, 12, 29, 50, 78],
    "test": [6, 51, 10, 73, 14, 74, 32, 80, 42, 111],
}


class CholecOptions(Options):
    every: int = Field(
        10, ge=1, description="keep frames whose id is a multiple of this: 1 fps → 6 per minute"
    )
    videos: dict[str, list[int]] = Field(CHOLECT50_SPLIT, description="split → video numbers")


def _instruments(triplets: list, file: Path) -> list[str]:
    """Instrument ids present in one frame: item 1 of each 15-value triplet instance (-1: none)."""
    try:
        return sorted({str(int(t[1])) for t in triplets if int(t[1]) >= 0}, key=int)
    except (TypeError, ValueError, IndexError):
        raise UserError(f"{file}: a triplet instance is not a list of numbers: {triplets!r:.80}") from None


@adapter("cholect50", CholecOptions, columns=("patient", "split"))
def cholect50(root: Path, opts: CholecOptions, entry: LockEntry) -> pd.DataFrame:
    """CholecT50 (Nwoye et al.) instrument presence: 6 labels per frame from the per-video label files.

    Layout (github.com/CAMMA-public/cholect50, docs/README-Format.md): `<root>/videos/VID01/000000.png` (frames at
    1 fps), `<root>/labels/VID01.json` whose `annotations` map a frame id to its triplet instances, each a list
    of 15 numbers with the instrument id second (0 grasper … 5 irrigator). Davila et al. keep 6 frames per minute
    (every 10th frame) → 10,109 frames. The patient (grouping unit) is the video.
    """
    split_of = {v: s for s, videos in opts.videos.items() for v in videos}
    rows, unlisted = [], 0
    for label_file in list_files(root, "labels", [".json"]):
        video = Path(label_file).stem
        number = int("".join(ch for ch in video if ch.isdigit()) or -1)
        if number not in split_of:
            unlisted += 1
            continue
        file = root / label_file
        try:
            annotations = json.loads(file.read_text())["annotations"]
        except (json.JSONDecodeError, KeyError) as exc:
            raise UserError(f"{file}: not a CholecT50 label file ({exc})") from None
        for frame in sorted(annotations, key=int):
            if int(frame) % opts.every:
                continue
            rows.append(
                {
                    "path": f"videos/{video}/{int(frame):06d}.png",
                    "label": "|".join(_instruments(annotations[frame], file)),
                    "patient": video,
                    "split": split_of[number],
                }
            )
    index = pd.DataFrame(rows, columns=["path", "label", "patient", "split"])
    if unlisted:
        index.attrs["notes"] = [f"{unlisted} video(s) not in any split were left out"]
    return index
