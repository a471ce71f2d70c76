"""LEADERBOARD.html in a real headless browser and tables.tex through pdflatex (slow: `make test-slow`, which
installs Debian's chromium and TeX Live's booktabs when they are missing and it may; otherwise these skip and say
why)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from test_report import main_spec, make_board
from test_report_outputs import ALL_TABLES, markdown_tables

pytestmark = pytest.mark.slow

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    return make_board(tmp_path_factory.mktemp("browser"), ALL_TABLES, main_spec)


def browser() -> str:
    found = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if found is None:
        pytest.skip(
            f"no headless browser ({', '.join(BROWSERS)}); `make test-slow` installs Debian's chromium"
        )
    return found


def run_browser(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [browser(), *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def test_the_page_renders_with_every_table_and_sorts(board, tmp_path):
    _, paths, _, text = board
    page = paths.root / "LEADERBOARD.html"
    shot = tmp_path / "page.png"
    run_browser(page, tmp_path / "profile-a", f"--screenshot={shot}", "--window-size=1280,2400")
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    assert float(np.std(pixels)) > 0.05  # text, tables and figures, not a blank page
    dom = run_browser(page, tmp_path / "profile-b", "--dump-dom").stdout
    headers = markdown_tables(text)
    assert dom.count("<table") == len(headers) >= 10
    # the sorting script ran: it made every header cell focusable
    assert len(re.findall(r'<th [^>]*tabindex="0"', dom)) == sum(len(h) for h in headers)


def test_tables_tex_compiles_with_plain_pdflatex(board, tmp_path):
    if shutil.which("pdflatex") is None or shutil.which("kpsewhich") is None:
        pytest.skip("no pdflatex; `make test-slow` installs texlive-latex-base and texlive-latex-recommended")
    if subprocess.run(["kpsewhich", "booktabs.sty"], capture_output=True, text=True).stdout.strip() == "":
        pytest.skip("booktabs.sty not installed (texlive-latex-recommended)")
    _, paths, _, text = board
    shutil.copy(paths.root / "tables.tex", tmp_path / "tables.tex")
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "tables.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "tables.pdf").read_bytes().startswith(b"%PDF")
    log = (tmp_path / "tables.log").read_text(errors="replace")
    assert "Overfull \\hbox" not in log  # wide tables are scaled to the text width
    tables = (tmp_path / "tables.tex").read_text().count("\\begin{table}")
    assert tables == len(markdown_tables(text))
