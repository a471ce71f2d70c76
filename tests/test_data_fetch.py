"""`data fetch` against a local HTTP server serving a tiny MedMNIST file, and `data verify`'s exit codes.

The server (http.server in a thread, on 127.0.0.1) stands in for Zenodo: the lock entry is the real
`medmnist-pathmnist` one, with its `source.files` URL pointed at the server and the fixture's MD5.
"""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from pathlib import Path

import pytest
import yaml
from data_fixtures import FIXTURES

from suite.cli import main
from suite.data.lock import lock_entry, resolve_likes

REPO = Path(__file__).resolve().parents[1]
REAL = resolve_likes(yaml.safe_load((REPO / "datasets.lock").read_text()))["datasets"]


class Server:
    """Serves `folder` on 127.0.0.1 and counts the GET requests (to tell a download from a skip)."""

    def __init__(self, folder: Path) -> None:
        self.gets = 0
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self):
                server.gets += 1
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "zenodo"
    folder.mkdir()
    FIXTURES["medmnist"](folder)  # pathmnist.npz in the real layout: 6 / 3 / 3 images
    server = Server(folder)
    yield server, folder / "pathmnist.npz"
    server.httpd.shutdown()
    server.httpd.server_close()


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_lock(tmp_path, monkeypatch, url: str, checksum: str, extra: dict | None = None) -> Path:
    """datasets.lock with `medmnist-pathmnist` (and `extra` entries) pointed at `url`; MEDTL_DATA in tmp_path."""
    entry = dict(REAL["medmnist-pathmnist"])
    entry["source"] = {**entry["source"], "files": {"pathmnist.npz": {"url": url, "md5": checksum}}}
    entry["counts"] = {"total": 12, "splits": {"train": 6, "val": 3, "test": 3}}
    lock = tmp_path / "datasets.lock"
    lock.write_text(
        yaml.safe_dump({"version": 1, "datasets": {"medmnist-pathmnist": entry, **(extra or {})}})
    )
    monkeypatch.setenv("MEDTL_LOCK", str(lock))
    monkeypatch.setenv("MEDTL_DATA", str(tmp_path / "data"))
    return tmp_path / "data" / "medmnist"


def test_fetch_downloads_checks_the_published_md5_and_locks(tmp_path, monkeypatch, served, capsys):
    server, fixture = served
    root = write_lock(tmp_path, monkeypatch, f"{server.url}/pathmnist.npz", md5(fixture))
    assert main(["data", "fetch", "medmnist-pathmnist"]) == 0
    out = capsys.readouterr().out
    assert f"downloaded pathmnist.npz into {root}" in out and "locked 1 files, 12 index rows" in out
    assert (root / "pathmnist.npz").read_bytes() == fixture.read_bytes() and server.gets == 1
    assert lock_entry("medmnist-pathmnist").digest.files  # written into the lock
    assert main(["data", "verify", "medmnist-pathmnist"]) == 0
    assert main(["data", "fetch", "medmnist-pathmnist"]) == 0  # again: nothing to download, checked
    assert "already in" in capsys.readouterr().out and server.gets == 1


def test_a_tampered_download_is_refused_and_nothing_is_left(tmp_path, monkeypatch, served, capsys):
    server, fixture = served
    published = md5(fixture)
    fixture.write_bytes(fixture.read_bytes() + b"tampered")
    root = write_lock(tmp_path, monkeypatch, f"{server.url}/pathmnist.npz", published)
    assert main(["data", "fetch", "medmnist-pathmnist"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"not the published md5:{published}" in err and "nothing was kept" in err
    assert not root.exists() and not (tmp_path / "data").exists()
    assert lock_entry("medmnist-pathmnist").digest.files is None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("where", ["no-server", "not-found"])
def test_an_unreachable_server_or_missing_file_is_one_line(tmp_path, monkeypatch, served, capsys, where):
    server, fixture = served
    url = (
        f"http://127.0.0.1:{_closed_port()}/pathmnist.npz"
        if where == "no-server"
        else f"{server.url}/gone.npz"
    )
    write_lock(tmp_path, monkeypatch, url, md5(fixture))
    assert main(["data", "fetch", "medmnist-pathmnist"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing was kept" in err
    assert ("Connection refused" if where == "no-server" else "answered HTTP 404") in err
    assert not (tmp_path / "data").exists()


def test_datasets_without_a_public_download_print_their_access_steps(tmp_path, monkeypatch, served, capsys):
    server, fixture = served
    write_lock(
        tmp_path, monkeypatch, f"{server.url}/pathmnist.npz", md5(fixture), {"kaggle-dr": REAL["kaggle-dr"]}
    )
    assert main(["data", "fetch", "kaggle-dr"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no public download" in err and "kaggle competitions download" in err


def test_every_medmnist_entry_lists_its_four_published_files():
    for name, entry in REAL.items():
        if entry["adapter"]["name"] != "medmnist":
            continue
        flag = entry["adapter"]["options"]["flag"]
        files = entry["source"]["files"]
        assert set(files) == {f"{flag}.npz", f"{flag}_64.npz", f"{flag}_128.npz", f"{flag}_224.npz"}, name
        for file, remote in files.items():
            assert remote["url"].startswith(f"https://zenodo.org/records/10519652/files/{file}"), name
            assert len(remote["md5"]) == 32, name


# --- data verify: what "missing" means ----------------------------------------------------------------------


def test_verify_lists_uninstalled_datasets_and_fails_on_them_only_when_asked(
    tmp_path, monkeypatch, served, capsys
):
    """pathmnist is fetched; chestmnist shares its folder but its file is not there: not installed, not a crash."""
    server, fixture = served
    chest = dict(REAL["medmnist-chestmnist"])
    write_lock(
        tmp_path, monkeypatch, f"{server.url}/pathmnist.npz", md5(fixture), {"medmnist-chestmnist": chest}
    )
    assert main(["data", "fetch", "medmnist-pathmnist"]) == 0
    capsys.readouterr()
    assert main(["data", "verify"]) == 0
    out = capsys.readouterr().out
    assert "medmnist-pathmnist: ok" in out
    assert (
        "medmnist-chestmnist: not installed" in out and "`medtl-bench data fetch medmnist-chestmnist`" in out
    )
    assert "1 of 2 dataset(s) verified, 0 changed or incomplete, 1 not installed" in out
    assert main(["data", "verify", "--strict"]) == 2
    assert "1 dataset(s) not installed: medmnist-chestmnist" in capsys.readouterr().err
    assert main(["data", "verify", "medmnist-chestmnist"]) == 2
    capsys.readouterr()
    archive = tmp_path / "data" / "medmnist" / "pathmnist.npz"
    archive.write_bytes(archive.read_bytes()[:-10])  # installed, now changed
    assert main(["data", "verify"]) == 2
    captured = capsys.readouterr()
    assert "do not match datasets.lock: medmnist-pathmnist" in captured.err and captured.err.count("\n") == 1
