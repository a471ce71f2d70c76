"""Edit datasets.lock in place: set one entry's fields, or append an entry, keeping the user's comments and layout.

A YAML round-trip through PyYAML would drop every comment in a hand-written file, so edits are made on the text:
the entry's block is found by indentation, the field's lines are replaced, and the result is parsed and checked
against what was meant before it atomically replaces the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from suite.data.lock import DatasetsLock, clear_cache, parse_lock, writable_lock_path
from suite.errors import UserError
from suite.results import atomic_write_bytes


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _entry_span(lines: list[str], name: str) -> tuple[int, int, int]:
    """(first line, end line exclusive, field indent) of `datasets.<name>`."""
    top = next((i for i, ln in enumerate(lines) if re.match(r"^datasets:\s*(#.*)?$", ln)), None)
    if top is None:
        raise ValueError("no top-level `datasets:` key")
    start = next(
        (
            i
            for i in range(top + 1, len(lines))
            if _content(lines[i]) and re.match(rf"^\s+{re.escape(name)}:\s*(#.*)?$", lines[i])
        ),
        None,
    )
    if start is None:
        raise ValueError(f"no entry {name!r}")
    entry_indent = _indent(lines[start])
    end = start + 1
    while end < len(lines) and (not _content(lines[end]) or _indent(lines[end]) > entry_indent):
        end += 1
    while end > start + 1 and not _content(lines[end - 1]):  # keep trailing blank lines outside the block
        end -= 1
    fields = [_indent(ln) for ln in lines[start + 1 : end] if _content(ln)]
    return start, end, min(fields) if fields else entry_indent + 2


def _flow(value: Any) -> str:
    """One-line YAML for `value` (a scalar dump ends with a `...` document marker, dropped here)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip()
    return text.removesuffix("...").strip()


def _set_fields(text: str, name: str, values: dict[str, Any]) -> str:
    lines = text.splitlines()
    start, end, field_indent = _entry_span(lines, name)
    block = lines[start + 1 : end]
    for key, value in values.items():
        at = next(
            (
                i
                for i, ln in enumerate(block)
                if _indent(ln) == field_indent and ln.strip().startswith(f"{key}:")
            ),
            None,
        )
        new = f"{' ' * field_indent}{key}: {_flow(value)}"
        if at is None:
            block.append(new)
            continue
        stop = at + 1
        while stop < len(block) and (not _content(block[stop]) or _indent(block[stop]) > field_indent):
            stop += 1
        block[at:stop] = [new]
    lines[start + 1 : end] = block
    return "\n".join(lines) + "\n"


def _write_checked(path: Path, text: str, check) -> None:
    try:
        parsed = parse_lock(text)
    except Exception as exc:
        raise UserError(f"{path}: the edited lock does not validate ({str(exc).splitlines()[0]})") from None
    check(parsed)
    atomic_write_bytes(path, text.encode())
    clear_cache()


def set_entry_fields(name: str, values: dict[str, Any], path: Path | None = None) -> None:
    """Set top-level fields of one entry (e.g. `digest`, `root`), keeping the rest of the file as written."""
    path = path or writable_lock_path()
    text = path.read_text()
    try:
        edited = _set_fields(text, name, values)
    except ValueError as exc:
        raise UserError(f"{path}: cannot edit entry {name!r} in place: {exc}") from None

    def check(lock: DatasetsLock) -> None:
        entry = lock.datasets[name].model_dump(mode="json")
        wrong = [k for k, v in values.items() if entry.get(k) != v]
        if wrong:
            raise UserError(
                f"{path}: editing {name!r} in place changed {wrong} unexpectedly; edit it by hand"
            )

    _write_checked(path, edited, check)


def append_entry(name: str, entry: dict[str, Any], comment: str = "", path: Path | None = None) -> None:
    """Add a new entry at the end of the `datasets:` block, in the indentation the file already uses."""
    path = path or writable_lock_path()
    text = path.read_text()
    if name in (yaml.safe_load(text) or {}).get("datasets", {}):
        raise UserError(f"{path}: an entry {name!r} exists already; remove it or pick another name")
    lines = text.splitlines()
    top = next((i for i, ln in enumerate(lines) if re.match(r"^datasets:\s*(#.*)?$", ln)), None)
    if top is None:
        raise UserError(f"{path}: no top-level `datasets:` key to add {name!r} to")
    end = next(
        (i for i in range(top + 1, len(lines)) if _content(lines[i]) and _indent(lines[i]) == 0), len(lines)
    )
    while end > top + 1 and not _content(lines[end - 1]):
        end -= 1
    indent = next((_indent(ln) for ln in lines[top + 1 : end] if _content(ln)), 2)
    body = yaml.safe_dump({name: entry}, sort_keys=False, width=110, default_flow_style=None)
    block = [""] + [f"{' ' * indent}# {ln}" for ln in comment.splitlines()]
    block += [f"{' ' * indent}{ln}" for ln in body.splitlines()]
    lines[end:end] = block

    def check(lock: DatasetsLock) -> None:
        if name not in lock.datasets:
            raise UserError(f"{path}: appending {name!r} failed; add it by hand")

    _write_checked(path, "\n".join(lines) + "\n", check)
