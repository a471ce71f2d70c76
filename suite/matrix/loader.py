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
from suite.matrix.yaml_guard import DEFAULT_TAGS, GuardedLoader, check_graph, read_text, yaml_error
from suite.paths import shipped

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


def _where(node: yaml.Node) -> str:
    return "{}:{}:{}".format(*_mark(node))


def _construct_scalar(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """A scalar (or a key) as PyYAML's safe constructor builds it. Its converters let some bad values escape as
    plain Python errors (`2001-02-30`, `!!int x`, `!!bool maybe`, a 5,000-digit integer, an empty `!!timestamp`
    is an AttributeError), so those are caught here and reported at the value's line like any other YAML error."""
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, LookupError, TypeError, OverflowError, AttributeError) as exc:
        text = " ".join(str(exc).split())[:120]
        raise UserError(f"cannot read the value {node.value!r:.60}: {text}", where=_where(node)) from None


def _check_tag(node: yaml.Node, kind: str) -> None:
    """PyYAML would construct a tagged mapping or list (`!!set`, `!!omap`, `!custom`) as a plain one and drop
    the tag without a word; a matrix has no use for tags there, so one is refused at its line."""
    if node.tag != DEFAULT_TAGS[type(node)]:
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise UserError(f"YAML tag {tag} on a {kind} is not supported; remove it", where=_where(node))


def _convert(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, marks: dict[Path_, Mark]) -> Any:
    """Nodes to Python values, recording the mark of every key path. Recursion is bounded by `MAX_DEPTH`: the
    graph was measured by `check_graph` before this runs."""
    marks[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        _check_tag(node, "mapping")
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise UserError("a key must be a plain value, not a list or mapping", where=_where(key_node))
            key = _construct_scalar(loader, key_node)
            if key in out:
                raise UserError(f"duplicate key {key!r}", where=_where(key_node))
            out[key] = _convert(loader, value_node, (*path, key), marks)
        return out
    if isinstance(node, yaml.SequenceNode):
        _check_tag(node, "list")
        return [_convert(loader, item, (*path, i), marks) for i, item in enumerate(node.value)]
    return _construct_scalar(loader, node)


def _display_name(path: Path) -> str:
    """The file as errors show it: relative to the working directory when below it, else absolute."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def read_yaml(path: Path) -> Located:
    """Parse one YAML file within the bounds of `suite.matrix.yaml_guard`; every problem (bytes that are not
    UTF-8, a syntax error, a tag, a recursive alias, absurd size) is a one-line `UserError` naming the file."""
    name = _display_name(path)
    text = read_text(path, name)
    marks: dict[Path_, Mark] = {}
    loader = None
    try:
        loader = GuardedLoader(text, name)
        node = loader.get_single_node()
        if node is None:
            raise UserError(
                "the file is empty; a matrix is a YAML mapping (datasets:, architectures:, strategies:, seeds:)",
                where=name,
            )
        check_graph(node, name)
        data = _convert(loader, node, (), marks)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, name) from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(data, dict):
        raise UserError("a matrix must be a YAML mapping (key: value lines)", where=f"{name}:1:1")
    return Located(data, marks)


def _deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _deep_merge(base[key], value) if key in base else value
        return merged
    return over


def is_file(path: Path) -> bool:
    """`path.is_file()`, False (not an exception) for names the OS cannot even look up: too long, a NUL byte."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def sibling_file(matrix: Path, rel: Any, key: str, where: str, noun: str = "file") -> Path:
    """The file `rel` names next to `matrix` (an `include:` or `union:` entry), resolved; one line if it is no
    file name or there is no such file."""
    if not isinstance(rel, str) or not rel.strip() or "\0" in rel:
        raise UserError(f"{key}: give a file name or a list of file names, not {rel!r:.60}", where=where)
    target = matrix.parent / rel
    if not is_file(target):
        raise UserError(f"{key}: {noun} {rel!r:.80} not found next to {matrix.name}", where=where)
    return target.resolve()


def load_with_includes(path: Path, seen: tuple[Path, ...] = ()) -> Located:
    """A matrix file with its `include:` bases merged underneath it."""
    path = path.resolve()
    if path in seen:
        raise UserError(f"include cycle: {' -> '.join(p.name for p in (*seen, path))}")
    own = read_yaml(path)
    includes = own.data.pop("include", None)
    if includes is None:
        return own
    if not isinstance(includes, str | list):
        raise UserError("include: give a file name or a list of file names", where=own.where(("include",)))
    merged_data: dict[str, Any] = {}
    merged_marks: dict[Path_, Mark] = {}
    for i, rel in enumerate([includes] if isinstance(includes, str) else includes):
        base_path = sibling_file(path, rel, "include", own.where(("include", i)))
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
    dotted = ".".join(_part(p) for p in loc) or "matrix"
    if error["type"] == "extra_forbidden":
        owner = _schema_at(model, loc[:-1])
        valid = list(owner.model_fields) if owner else []
        return f"{dotted}: {did_you_mean(str(loc[-1]), valid).replace('unknown', 'unknown key', 1)}"
    if error["type"] == "too_short":
        return f"{dotted}: empty axis; give at least one value"
    if error["type"] == "value_error":  # our validators' messages: they name the value themselves
        return f"{dotted}: {error.get('ctx', {}).get('error', error['msg'])}"
    value = error.get("input")
    shown = f" (got {_short(value)})" if not isinstance(value, dict | list) else ""
    return f"{dotted}: {error['msg']}{shown}"


def _part(key: Any) -> str:
    """One part of a dotted location: plain keys as they are, anything odd (newlines, very long) as a short repr."""
    text = str(key)
    return text if text.isprintable() and len(text) <= 40 else _short(key, 40)


def _short(value: Any, limit: int = 80) -> str:
    """`repr(value)` cut to `limit` characters, so a 100 kB string in a matrix does not become a 100 kB error."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
    """A path, or a name in `benchmarks/` (./benchmarks first, then the checkout's, else the installed package's)."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or os.sep in name_or_path:
        if is_file(candidate):
            return candidate
        raise UserError(f"matrix file {name_or_path} not found")
    folders = [Path.cwd() / "benchmarks", shipped("benchmarks")]
    for folder in folders:
        for suffix in (".yaml", ".yml"):
            if is_file(folder / f"{name_or_path}{suffix}"):
                return folder / f"{name_or_path}{suffix}"
    available = sorted({p.stem for f in folders if f.is_dir() for p in f.glob("*.y*ml")})
    raise UserError(f"matrix {did_you_mean(name_or_path, available)} (looked in ./benchmarks)")
