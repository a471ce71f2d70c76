"""`make test-docker`'s script without an engine (issue 19.6): a fake `docker` on PATH records every call. The
script checks the free space first (one line, exit 2, naming what it needs) and, when a step fails, removes the
containers and dangling images it created, and nothing that was there before."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FAKE_DOCKER = r"""#!/bin/bash
state="$FAKE_DOCKER_STATE"
echo "$*" >>"$state/calls"
case "$1" in
  info)
    if [[ "$*" == *DockerRootDir* ]]; then echo "$state/root"; elif [[ "$*" == *Driver* ]]; then echo vfs; fi ;;
  ps) cat "$state/containers" ;;
  images) cat "$state/dangling" ;;
  image)  # `image inspect`: the offline base exists; with -f, the test image's id when one is built
    if [[ "$*" == *"-f"* && -f "$state/image_id" ]]; then cat "$state/image_id"; fi; exit 0 ;;
  build)
    if [[ -n "$FAKE_BUILD_OK" ]]; then echo sha256:new-image >"$state/image_id"; exit 0; fi
    # a build that dies half-way (disk full): it leaves a container and a dangling layer
    echo c-left-by-build >>"$state/containers"; echo i-left-by-build >>"$state/dangling"; exit 1 ;;
esac
"""


def run_script(
    tmp_path: Path, previous: str = "", **env: str
) -> tuple[subprocess.CompletedProcess, list[str]]:
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    (state / "root").mkdir(parents=True)
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    (state / "containers").write_text("c-someone-elses\n")
    (state / "dangling").write_text("i-someone-elses\n")
    if previous:
        (state / "image_id").write_text(previous + "\n")
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "test-docker.sh")],
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "FAKE_DOCKER_STATE": str(state),
            "PIP_CA": "",
            "PYTHON": "/bin/false",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    calls = (state / "calls").read_text().splitlines() if (state / "calls").exists() else []
    return done, calls


def test_too_little_disk_is_one_line_and_exit_2_before_anything_is_built(tmp_path):
    done, calls = run_script(tmp_path, DOCKER_NEED_GB="1000000")
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("test-docker: needs about 1000000 GB free under ") and "vfs storage driver" in line
    assert not any(call.startswith(("build", "import")) for call in calls)


def test_a_failed_build_removes_what_it_created_and_nothing_else(tmp_path):
    done, calls = run_script(tmp_path, DOCKER_NEED_GB="0")
    assert done.returncode == 1
    assert "rm -f c-left-by-build" in calls and "rmi -f i-left-by-build" in calls
    assert not any("someone-elses" in call for call in calls if call.startswith(("rm", "rmi")))
    assert "removed 1 container(s) and 1 dangling image(s)" in done.stderr
    assert any(call.startswith("build") and "--force-rm" in call for call in calls)


def test_a_rebuild_removes_the_image_it_replaced_and_only_that(tmp_path):
    """On vfs the replaced image holds one or two full copies of the 6.4 GB image: it goes before the tests need
    the room (the tests then fail here: PYTHON is /bin/false)."""
    done, calls = run_script(tmp_path, previous="sha256:old-image", DOCKER_NEED_GB="0", FAKE_BUILD_OK="1")
    assert "rmi sha256:old-image" in calls
    assert not any(call.startswith("rmi") and "new-image" in call for call in calls)
    assert "removed the image it replaced" in done.stdout


def test_a_first_build_removes_no_image(tmp_path):
    _, calls = run_script(tmp_path, DOCKER_NEED_GB="0", FAKE_BUILD_OK="1")
    assert any(call.startswith("build") for call in calls)
    assert not any(call.startswith("rmi sha256") for call in calls)
