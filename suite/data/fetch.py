"""Download the published files of a dataset whose publisher gives a stable URL and a checksum (MedMNIST).

The lock entry's `source.files` maps each file name under the dataset root to its URL and published md5/sha256.
pooch does the download: it streams into a temporary file beside the target, checks the hash, and only then moves
the file into place, so a failed or tampered download leaves nothing behind. No retries: a server that cannot be
reached is one line at once. Locking (the suite's own sha256 digests) is `data lock`'s job, called after this.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from suite.data.adapters import expected_files
from suite.data.lock import LockEntry, RemoteFile, how_to_get
from suite.errors import UserError
from suite.results.store import new_file_mode

CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 10.0, 60.0


@dataclass
class Fetched:
    """What `download` did for each file: downloaded, or already there with the published checksum."""

    root: Path
    downloaded: list[str]
    present: list[str]


def files_to_fetch(name: str, entry: LockEntry) -> dict[str, RemoteFile]:
    """The files the entry's adapter reads (all of `source.files` when it cannot say), each with its URL."""
    if entry.source.kind == "generator":
        raise UserError(
            f"{name} is generated from code, there is nothing to download; {how_to_get(name, entry)}"
        )
    if not entry.source.files:
        raise UserError(f"{name} has no public download the suite can fetch and check; {entry.access}")
    wanted = expected_files(entry, name) or sorted(entry.source.files)
    unknown = [f for f in wanted if f not in entry.source.files]
    if unknown:
        raise UserError(
            f"{name}: datasets.lock gives no URL for {unknown} (source.files has {sorted(entry.source.files)}); "
            "check adapter.options, or add the file's URL and checksum under source.files"
        )
    return {f: entry.source.files[f] for f in wanted}


def _one_line(name: str, file: str, remote: RemoteFile, exc: Exception) -> UserError:
    """A download failure as one line: unreachable server, HTTP error, or a checksum that does not match."""
    import requests

    if isinstance(exc, ValueError):  # pooch's hash check: the temporary file is already deleted
        got = str(exc).split("but got ")[-1].split(".")[0]
        return UserError(
            f"{name}: {file} from {remote.url} has checksum {got}, not the published {remote.known_hash}; "
            "the download was deleted and nothing was kept"
        )
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return UserError(f"{name}: {remote.url} answered HTTP {exc.response.status_code}; nothing was kept")
    server = remote.url.split("/")[2]
    if isinstance(exc, requests.Timeout):
        why = f"no answer within {CONNECT_TIMEOUT_S:g} s (connect) / {READ_TIMEOUT_S:g} s (read)"
    else:  # requests nests the socket's error several levels deep; its errno line is the part worth reading
        found = re.search(r"\[Errno -?\d+\][^)\"'\]]*", str(exc))
        why = found.group(0).strip() if found else type(exc).__name__
    return UserError(f"{name}: cannot download {file} from {server} ({why}); nothing was kept")


def _missing_folders(root: Path) -> list[Path]:
    """`root` and its ancestors that do not exist yet, deepest first (pooch creates them)."""
    missing, folder = [], root.absolute()
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    return missing


def download(name: str, entry: LockEntry, root: Path) -> Fetched:
    """Fetch every file of `name` that is not already under `root` with its published checksum."""
    import pooch
    import requests

    wanted = files_to_fetch(name, entry)
    pooch.get_logger().setLevel("WARNING")  # the suite prints its own lines
    tty = sys.stderr.isatty()
    downloader = pooch.HTTPDownloader(progressbar=tty, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
    made = _missing_folders(root)
    done = Fetched(root, [], [])
    for file, remote in wanted.items():
        target = root / file
        if (
            target.is_file()
            and pooch.file_hash(str(target), alg=remote.known_hash.split(":")[0])
            == (remote.known_hash.split(":")[1])
        ):
            done.present.append(file)
            continue
        if tty:
            print(f"{name}: downloading {file} from {remote.url}", file=sys.stderr)
        try:
            pooch.retrieve(remote.url, remote.known_hash, fname=file, path=root, downloader=downloader)
        except (ValueError, requests.RequestException) as exc:
            for folder in made:  # leave no empty folder behind either
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
            raise _one_line(name, file, remote, exc) from None
        os.chmod(target, new_file_mode())  # pooch's temporary file is 0600; give it the umask's mode
        done.downloaded.append(file)
    return done
