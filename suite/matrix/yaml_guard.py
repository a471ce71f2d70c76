"""Bounds on what a matrix file may be before any of it is turned into Python objects.

A matrix file is user input, and YAML has ways to make a small file expensive: binary bytes, a huge file, nesting
deep enough to exhaust Python's recursion limit, an alias that contains itself (infinite recursion), and an "alias
bomb" (each alias repeats the one before nine times: 436 bytes that expand to millions of nodes). PyYAML guards
against none of these, so this module bounds each of them, every check ending in a one-line `UserError` that names
the file (and line where there is one):

- the file is read as bytes, at most `MAX_BYTES`, and decoded as UTF-8;
- `GuardedLoader` stops composing at `MAX_DEPTH` levels of nesting or `MAX_NODES` nodes (PyYAML's composer is
  recursive, so this must happen while composing, not after);
- `check_graph` measures the composed document as the loader will expand it, every alias counted each time it is
  used, refusing a node that contains itself, more than `MAX_NODES` nodes or more than `MAX_DEPTH` levels. It visits
  each distinct node once (sizes are memoised) and uses no recursion, so an alias bomb is refused in milliseconds.

Aliases themselves stay allowed: benchmarks/peng2023-ttl.yaml shares its dataset and strategy lists with them.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from suite.errors import UserError

MAX_BYTES = 256 * 1024
"""The largest matrix file read. The biggest shipped one is under 3 KiB; PyYAML parses ~40 µs a node in Python."""
MAX_NODES = 20_000
"""Nodes (mapping, list and scalar values) in a file, aliases expanded."""
MAX_DEPTH = 32
"""Levels of nesting; a matrix needs about 6."""

DEFAULT_TAGS = {yaml.MappingNode: "tag:yaml.org,2002:map", yaml.SequenceNode: "tag:yaml.org,2002:seq"}


def mark_of(name: str, mark: yaml.Mark | None) -> str:
    """`file:line:col` of a PyYAML mark (1-based), or the file alone."""
    return f"{name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else name


def read_text(path: Path, name: str) -> str:
    """The file's text: at most `MAX_BYTES` bytes, strict UTF-8 (a decode error names the byte and its offset)."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UserError(f"cannot read {name}: {exc.strerror or exc.__class__.__name__}") from None
    if len(raw) > MAX_BYTES:
        raise UserError(
            f"file is larger than {MAX_BYTES // 1024} KiB, the most a matrix file may be", where=name
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start} ({exc.reason})", where=name
        ) from None


def yaml_error(exc: yaml.YAMLError, name: str) -> UserError:
    """A PyYAML error as one line at its position (PyYAML's own messages span several lines)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        return UserError(f"YAML syntax error: {problem}", where=mark_of(name, mark))
    if isinstance(exc, yaml.reader.ReaderError):
        code = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        return UserError(f"YAML: unacceptable character {code} at character {exc.position}", where=name)
    return UserError(f"YAML error: {' '.join(str(exc).split())}", where=name)


class GuardedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nesting deeper than `MAX_DEPTH` and more than `MAX_NODES` nodes while it
    composes (its composer recurses once per level, so a file of 10,000 `[` would otherwise hit the recursion
    limit)."""

    def __init__(self, text: str, name: str) -> None:
        super().__init__(text)
        self.name = name
        self.depth = 0
        self.nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        self.depth += 1
        self.nodes += 1
        where = mark_of(self.name, self.peek_event().start_mark)
        if self.depth > MAX_DEPTH:
            raise UserError(f"nested more than {MAX_DEPTH} levels deep", where=where)
        if self.nodes > MAX_NODES:
            raise UserError(f"more than {MAX_NODES:,} YAML nodes; a matrix needs far fewer", where=where)
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_graph(root: yaml.Node, name: str) -> None:
    """Refuse a composed document that contains itself or, with its aliases expanded, has more than `MAX_NODES`
    nodes or `MAX_DEPTH` levels. Iterative and memoised: each distinct node is visited once."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_: set[int] = set()  # the nodes on the path from the root to the one being visited
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            children = _children(node)
            size[key] = 1 + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            open_.discard(key)
            where = mark_of(name, node.start_mark)
            if size[key] > MAX_NODES:
                raise UserError(f"aliases expand this to more than {MAX_NODES:,} YAML nodes", where=where)
            if depth[key] > MAX_DEPTH:
                raise UserError(f"aliases nest this more than {MAX_DEPTH} levels deep", where=where)
            continue
        if key in size:
            continue
        open_.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_:
                raise UserError(
                    "a YAML alias refers to a node that contains it (recursive alias)",
                    where=mark_of(name, child.start_mark),
                )
            if id(child) not in size:
                stack.append((child, False))
