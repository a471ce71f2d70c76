"""Generic adapters for a user's own data: a CSV index, or one folder per class."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pydantic import Field

from suite.data.adapters import (
    IMAGE_SUFFIXES,
    Options,
    adapter,
    list_files,
    patient_from,
    read_table,
    require_columns,
)
from suite.data.lock import LockEntry
from suite.errors import UserError


class CsvIndexOptions(Options):
    file: str = Field("index.csv", description="the index, relative to the dataset root")
    path_column: str = "path"
    label_column: str = "label"
    separator: str = Field("|", description="multilabel: labels within one cell are joined by this")


@adapter("csv-index", CsvIndexOptions, columns=("patient", "split"))
def csv_index(root: Path, opts: CsvIndexOptions, entry: LockEntry) -> pd.DataFrame:
    """A CSV with a path and a label column (every other column is kept: `patient`, `split`, ...).

    Multilabel data gives either one label column holding labels joined by `separator`, or one 0/1 column per
    class (named as in `classes`), in which case no label column is needed.
    """
    file = root / opts.file
    index = read_table(file)
    per_class = entry.task == "multilabel" and opts.label_column not in index
    require_columns(index, [opts.path_column] + ([] if per_class else [opts.label_column]), file)
    index = index.rename(columns={opts.path_column: "path", opts.label_column: "label"})
    if per_class:
        require_columns(index, entry.classes, file)
        flags = index[entry.classes].apply(lambda col: col.str.strip().isin(["1", "1.0", "true", "True"]))
        index["label"] = flags.apply(lambda row: "|".join(c for c in entry.classes if row[c]), axis=1)
    elif entry.task == "multilabel" and opts.separator != "|":
        index["label"] = index["label"].str.replace(opts.separator, "|", regex=False)
    return index


class ClassFolderOptions(Options):
    under: str = Field("", description="the folder holding the class folders, relative to the root")
    suffixes: list[str] = Field(sorted(IMAGE_SUFFIXES), description="image file suffixes to include")
    patient_pattern: str | None = Field(
        None, description="regex on the file name; its first group is the patient id (none: no grouping)"
    )


@adapter("class-folder", ClassFolderOptions, columns=("patient",))
def class_folder(root: Path, opts: ClassFolderOptions, entry: LockEntry) -> pd.DataFrame:
    """`<root>/<under>/<class>/**/<image>`: the class is the first folder (raw name; `label_map` can rename it)."""
    base = f"{opts.under.strip('/')}/" if opts.under.strip("/") else ""
    paths = list_files(root, opts.under.strip("/"), opts.suffixes)
    inside = [p for p in paths if "/" in p[len(base) :]]
    if not inside:
        raise UserError(f"no images in class folders under {root / base}; expected <class>/<image> files")
    index = pd.DataFrame({"path": inside, "label": [p[len(base) :].split("/")[0] for p in inside]})
    if len(inside) < len(paths):
        index.attrs["notes"] = [f"{len(paths) - len(inside)} image(s) outside the class folders were ignored"]
    if opts.patient_pattern:
        index["patient"] = [patient_from(opts.patient_pattern, Path(p).name, p) for p in inside]
    return index
