"""Read matrix YAML while remembering where every value came from, so errors name the file and line.

PyYAML's `safe_load` drops positions, so the document is composed into nodes first and converted by hand, recording
a (file, line, column) mark for every key path. `include:` files are merged underneath (mappings merge recursively,
anything else is replaced), and pydantic's error locations are mapped back onto those marks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from suite.errors import UserError, did_you_mean
from suite.matrix.schema import Matrix

Mark = tuple[str, int, int]
Path_ = tuple[Any, ...]


@dataclass
class Located:
    data: Any
    marks: dict[Path_, Mark]

    def where(self, loc: Path_) -> str:
        """`file:line:col` of the deepest recorded prefix of `loc`."""
        for end in range(len(loc), -1, -1):
            if tuple(loc[:end]) in self.marks:
                file, line, col = self.marks[tuple(loc[:end])]
                return f"{file}:{line}:{col}"
        file = next(iter(self.marks.values()))[0] if self.marks else "matrix"
        return f"{file}:1:1"


def _mark(node: yaml.Node) -> Mark:
    return (node.start_mark.name, node.start_mark.line + 1, node.start_mark.column + 1)


def _convert(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, marks: dict[Path_, Mark]) -> Any:
    marks[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in out:
                file, line, col = _mark(key_node)
                raise UserError(f"duplicate key {key!r}", where=f"{file}:{line}:{col}")
            out[key] = _convert(loader, value_node, (*path, key), marks)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(loader, item, (*path, i), marks) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def read_yaml(path: Path) -> Located:
    """Parse one YAML file; syntax errors become one-line `UserError`s with the position."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    loader = yaml.SafeLoader(text)
    rel = os.path.relpath(path)
    loader.name = str(path) if rel.startswith("..") else rel
    marks: dict[Path_, Mark] = {}
    try:
        node = loader.get_single_node()
        data = {} if node is None else _convert(loader, node, (), marks)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{loader.name}:{mark.line + 1}:{mark.column + 1}" if mark else loader.name
        raise UserError(f"YAML syntax error: {exc.problem or exc.context}", where=where) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise UserError("a matrix must be a YAML mapping (key: value lines)", where=f"{loader.name}:1:1")
    return Located(data, marks)


def _deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _deep_merge(base[key], value) if key in base else value
        return merged
    return over


def load_with_includes(path: Path, seen: tuple[Path, ...] = ()) -> Located:
    """A matrix file with its `include:` bases merged underneath it."""
    path = path.resolve()
    if path in seen:
        raise UserError(f"include cycle: {' -> '.join(p.name for p in (*seen, path))}")
    own = read_yaml(path)
    includes = own.data.pop("include", None)
    if includes is None:
        return own
    merged_data: dict[str, Any] = {}
    merged_marks: dict[Path_, Mark] = {}
    for i, rel in enumerate([includes] if isinstance(includes, str) else includes):
        if not isinstance(rel, str):
            raise UserError(
                "include: give a file name or a list of file names", where=own.where(("include", i))
            )
        base_path = (path.parent / rel).resolve()
        if not base_path.is_file():
            raise UserError(
                f"included file {rel!r} not found next to {path.name}", where=own.where(("include",))
            )
        base = load_with_includes(base_path, (*seen, path))
        merged_data = _deep_merge(merged_data, base.data)
        merged_marks.update(base.marks)
    merged_marks.update(own.marks)
    return Located(_deep_merge(merged_data, own.data), merged_marks)


def _schema_at(model: type[BaseModel], loc: Path_) -> type[BaseModel] | None:
    """The pydantic model that owns the field at `loc`, for "valid keys" hints."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            continue
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = next(
            (a for a in _flatten(field.annotation) if isinstance(a, type) and issubclass(a, BaseModel)), None
        )
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _flatten(annotation: Any) -> list[Any]:
    args = getattr(annotation, "__args__", None)
    if not args:
        return [annotation]
    return [leaf for arg in args for leaf in _flatten(arg)]


def _describe(error: dict, model: type[BaseModel]) -> str:
    loc = tuple(error["loc"])
    dotted = ".".join(str(p) for p in loc) or "matrix"
    if error["type"] == "extra_forbidden":
        owner = _schema_at(model, loc[:-1])
        valid = list(owner.model_fields) if owner else []
        return f"{dotted}: {did_you_mean(str(loc[-1]), valid).replace('unknown', 'unknown key', 1)}"
    if error["type"] == "too_short":
        return f"{dotted}: empty axis; give at least one value"
    value = error.get("input")
    shown = f" (got {value!r})" if not isinstance(value, dict | list) else ""
    return f"{dotted}: {error['msg']}{shown}"


def validate(located: Located, model: type[BaseModel] = Matrix) -> Any:
    """Validate into `model`; the first error becomes a `UserError` at its file and line."""
    try:
        return model.model_validate(located.data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        raise UserError(_describe(first, model) + more, where=located.where(tuple(first["loc"]))) from None


def find_matrix(name_or_path: str) -> Path:
    """A path, or a name in `benchmarks/` (./benchmarks first, then the one beside the package)."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or os.sep in name_or_path:
        if candidate.is_file():
            return candidate
        raise UserError(f"matrix file {name_or_path} not found")
    folders = [Path.cwd() / "benchmarks", Path(__file__).resolve().parents[2] / "benchmarks"]
    for folder in folders:
        for suffix in (".yaml", ".yml"):
            if (folder / f"{name_or_path}{suffix}").is_file():
                return folder / f"{name_or_path}{suffix}"
    available = sorted({p.stem for f in folders if f.is_dir() for p in f.glob("*.y*ml")})
    raise UserError(f"matrix {did_you_mean(name_or_path, available)} (looked in ./benchmarks)")
