"""Property: whatever a matrix file holds, `run FILE --dry-run` ends in exit 0 (a valid matrix) or exit 2 with one
line on stderr, never a traceback, and writes nothing under the results folder (issue 19.2).

Three generators: random bytes; random YAML documents (nested mappings, lists and scalars, with and without the
matrix's keys and some of its valid names, so some documents are valid matrices); and a token soup of YAML syntax
(anchors, aliases, tags, merge keys, flow and block collections) that `yaml.safe_dump` would never write. The
CLI runs in this process; example counts are kept small so the whole file takes seconds
(`MEDTL_FUZZ_EXAMPLES=5000` hunts longer).
"""

from __future__ import annotations

import io
import os
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from suite.cli import main

FUZZ = settings(
    max_examples=int(os.environ.get("MEDTL_FUZZ_EXAMPLES", "60")),  # raise it for a longer hunt
    deadline=None,  # the first example pays for imports and the catalog; the time is bounded by the examples
    database=None,  # no .hypothesis/ folder written into the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

KEYS = ["name", "datasets", "architectures", "sources", "strategies", "seeds", "sweep", "train", "grids"]
KEYS += ["exclude", "include", "union", "report", "executor", "description", "epochs", "params", "lr"]
NAMES = ["synthetic-vessels", "tf_efficientnet_lite0", "timm:resnet10t", "imagenet", "scratch", "ft", "lp"]
NAMES += [
    "swft@*",
    "imagenet>synthetic-fundus",
    "../../x",
    "/abs",
    "a/b",
    "",
    ".",
    "m.yaml",
    "a\x00b",
    "a" * 300,
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=4)
    | st.sampled_from([10**12, 2**32, -(2**40), 10**40])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(NAMES)
    | st.text(max_size=12)
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=25,
)
MATRIX_SHAPED = st.fixed_dictionaries(
    {
        "datasets": st.sampled_from(
            [["synthetic-vessels"], ["synthetic-vessels", "nope"], [], "synthetic-vessels"]
        )
        | DOCUMENTS,
        "architectures": st.sampled_from([["timm:resnet10t"], ["resnet5"], [{"name": "resnet18", "lr": -1}]]),
        "strategies": st.sampled_from([["ft"], ["ft", "lp"], ["swft@*"], ["ttl@nope"], [{"name": "l2-sp"}]])
        | DOCUMENTS,
        "seeds": st.integers(min_value=-2, max_value=3) | st.sampled_from([10**12, [0, -1], [2**32], "3"]),
    },
    optional={k: DOCUMENTS for k in ("name", "sources", "train", "sweep", "grids", "exclude", "report")},
)
TOKENS = ["a", "b:", " ", "\n", "  ", "- ", "[", "]", "{", "}", ",", ": ", "&x ", "*x", "&y ", "*y", "<<: "]
TOKENS += [
    "!!set ",
    "!!omap ",
    "!custom ",
    "!!binary ",
    "!!int ",
    "!!timestamp ",
    "? ",
    "'",
    '"',
    "#",
    "---\n",
]
TOKENS += [
    "%YAML 1.1\n",
    "|\n",
    ">\n",
    "\t",
    "2001-02-30",
    "0x",
    "9" * 30,
    "\x00",
    "\ufeff",
    "\x85",
    "\u2028",
]
TOKENS += ["datasets: ", "seeds: ", "name: ", "strategies: "]
SOUP = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)


def check(content: bytes) -> None:
    """Run the CLI on `content` and assert the property."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.yaml"
        path.write_bytes(content)
        results = Path(tmp) / "results"
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["run", str(path), "--dry-run", "--results", str(results)])
        text = err.getvalue()
        assert "Traceback" not in text
        if code == 0:
            assert "cells in matrix" in out.getvalue()
        else:
            assert code == 2, (code, text)
            assert len(text.splitlines()) == 1 and text.startswith("medtl-bench: error: "), text
        assert not results.exists()
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["m.yaml"]


@FUZZ
@given(st.binary(max_size=400))
@example(b"\xff\xfe\x00binary")  # each @example failed before issue 19: a traceback, or an exit 0
def test_random_bytes(content):
    check(content)


@FUZZ
@given(DOCUMENTS)
@example({"include": False})
def test_random_yaml_documents(document):
    check(yaml.safe_dump(document, allow_unicode=True).encode())


@FUZZ
@given(MATRIX_SHAPED)
@example(
    {"datasets": ["synthetic-vessels"], "architectures": ["resnet18"], "strategies": ["ft"], "seeds": 10**12}
)
def test_random_matrix_shaped_documents(document):
    check(yaml.safe_dump(document, allow_unicode=True).encode())


@FUZZ
@given(SOUP)
@example("a: &x [*x]")
@example("datasets: !!set [a]")
@example("x: !!timestamp ")
def test_random_yaml_syntax(text):
    check(text.encode("utf-8", errors="surrogatepass"))
