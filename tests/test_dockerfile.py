"""The Dockerfile's layer order (issue 19.6): the dependency install, the 14-minute step, depends only on
requirements/constraints.txt and the dependency list, so a [tool.ruff] edit or a code change never reruns it, and the
final image adds the source after the venv. Checked by reading the file: no engine needed."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]


def stages() -> dict[str, list[tuple[str, str]]]:
    """{stage name: [(instruction, arguments)]}; the unnamed last stage is 'final'. Continuations joined."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    out: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        if op.upper() == "FROM":
            match = re.search(r"\bAS\s+(\S+)", rest, re.IGNORECASE)
            current = match.group(1) if match else "final"
            out[current] = []
        elif current is not None:
            out[current].append((op.upper(), rest.strip()))
    return out


def copies(stage: list[tuple[str, str]]) -> list[str]:
    return [args for op, args in stage if op == "COPY"]


def test_the_dependency_install_depends_only_on_the_pins_and_the_dependency_list():
    all_stages = stages()
    (deps,) = [
        name for name, body in all_stages.items() if any("--constraint" in a for op, a in body if op == "RUN")
    ]
    body = all_stages[deps]
    sources = [a for a in copies(body)]
    assert sources == ["requirements/constraints.txt pip-ca.cr[t] ./", "--from=pins /tmp/deps.txt ./deps.txt"]
    assert all("pyproject.toml" not in a and not a.startswith(". ") for a in sources)
    # pins copies pyproject.toml alone and writes only deps.txt: BuildKit and the classic builder both key
    # `COPY --from` on the copied file's content, so an unchanged dependency list keeps deps cached
    assert copies(all_stages["pins"]) == ["pyproject.toml /tmp/pyproject.toml"]


def test_a_ruff_setting_does_not_change_the_dependency_list():
    text = (REPO / "pyproject.toml").read_text()
    edited = text.replace("[tool.ruff]", "[tool.ruff]\n# a new rule set\n", 1)
    assert edited != text
    assert tomllib.loads(edited)["project"]["dependencies"] == tomllib.loads(text)["project"]["dependencies"]


def test_the_final_image_adds_the_source_after_the_venv_and_runs_nothing_after_it():
    final = stages()["final"]
    ops = [(op, args) for op, args in final]
    venv = ops.index(("COPY", "--from=deps /opt/medtl/venv /opt/medtl/venv"))
    source = ops.index(("COPY", "--from=app /opt/medtl/app /opt/medtl/app"))
    version = next(i for i, (op, args) in enumerate(ops) if op == "ENV" and "MEDTL_GIT_SHA" in args)
    assert venv < version < source == len(ops) - 1  # the per-commit steps come after the cached venv
    assert not any(op in ("RUN", "USER") for op, _ in ops[venv:])  # on vfs each would copy the whole image
    assert ("USER", "medtl") in ops[:venv]
    assert not any("pip-ca" in a for a in copies(final)) and "rm -f /opt/medtl/app/pip-ca.crt" in str(
        stages()["app"]
    )
