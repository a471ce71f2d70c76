#!/usr/bin/env bash
# `make test-docker`: the docker executor against a real engine, from nothing but root and the Debian mirror.
#  1. start dockerd (vfs storage, no iptables, no bridge) if no engine answers; install docker.io if needed
#     then check the free space under Docker's root first (one line and exit 2 when short; README "Docker: disk")
#  2. build the offline Debian base if it is missing (scripts/make-offline-base.sh)
#  3. build the image (scripts/docker-build.sh; cached layers make a rebuild quick)
#  4. run tests/test_docker.py: a tiny matrix in containers vs the local executor, crash, timeout, OOM, Ctrl-C, kill -9
#  5. stop the daemon only if this script started it
# On failure it removes the containers and dangling images it created (a failed build's layers, a test's container);
# the tagged images stay, so the next try builds from cache.
# Environment: PYTHON (default .venv/bin/python), MEDTL_TEST_IMAGE (medtl-bench:test), OFFLINE_BASE, PIP_CA,
#   DOCKER_NEED_GB (free space it asks for; default 48 on the vfs storage driver, where a run that rebuilt the
#   source layers and ran the tests took 43.2 GB at its peak; 15 on others).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
IMAGE=${MEDTL_TEST_IMAGE:-medtl-bench:test}
BASE=${OFFLINE_BASE:-medtl-base:bookworm}
t0=$(date +%s)
stamp() { echo "test-docker: $1 at +$(( $(date +%s) - t0 )) s"; }

started=""
containers_before="" images_before="" watching=""
sorted_ids() { sort -u | grep -v '^$' || true; }
clean_up_after_failure() {
  [[ -n "$watching" ]] || return 0
  local containers images
  containers=$(comm -13 <(echo "$containers_before") <(docker ps -aq --no-trunc | sorted_ids))
  images=$(comm -13 <(echo "$images_before") <(docker images -q --no-trunc --filter dangling=true | sorted_ids))
  if [[ -n "$containers" ]]; then docker rm -f $containers >/dev/null 2>&1 || true; fi
  if [[ -n "$images" ]]; then docker rmi -f $images >/dev/null 2>&1 || true; fi
  echo "test-docker: failed; removed $(echo -n "$containers" | grep -c . || true) container(s) and" \
    "$(echo -n "$images" | grep -c . || true) dangling image(s) it had created" >&2
}
on_exit() {
  local code=$?
  if [[ $code != 0 ]]; then clean_up_after_failure; fi
  if [[ -n "$started" ]]; then
    kill "$started" 2>/dev/null || true
    wait "$started" 2>/dev/null || true
    stamp "stopped the dockerd it started (pid $started)"
  fi
  exit $code
}
trap on_exit EXIT

if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    [[ $(id -u) == 0 ]] || { echo "test-docker: no Docker engine, and installing one needs root" >&2; exit 2; }
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
  fi
  log=$(mktemp "${TMPDIR:-/tmp}/dockerd.XXXXXX.log")
  dockerd --storage-driver=vfs --iptables=false --bridge=none >"$log" 2>&1 &
  started=$!
  for _ in $(seq 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { tail -20 "$log" >&2; exit 1; }
  stamp "started dockerd (pid $started, log $log)"
fi

# Room first: on vfs every layer after the venv and every container is a full copy of the 6.4 GB image (the tests
# run up to three containers at once; measured peak 43.2 GB), so a short disk fails late and leaves tens of GB.
root=$(docker info --format '{{.DockerRootDir}}')
driver=$(docker info --format '{{.Driver}}')
need=${DOCKER_NEED_GB:-$([[ $driver == vfs ]] && echo 48 || echo 15)}
free=$(( $(df -Pk "$root" | awk 'NR == 2 {print $4}') / 1024 / 1024 ))
if (( free < need )); then
  echo "test-docker: needs about $need GB free under $root ($driver storage driver), has $free GB; free some (docker system prune) or set DOCKER_NEED_GB" >&2
  exit 2
fi
containers_before=$(docker ps -aq --no-trunc | sorted_ids)
images_before=$(docker images -q --no-trunc --filter dangling=true | sorted_ids)
watching=1
stamp "$free GB free under $root ($driver), $need GB needed"

scripts/make-offline-base.sh "$BASE"
stamp "base $BASE ready"
previous=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
IMAGE="$IMAGE" BASE_IMAGE="$BASE" PIP_CA="${PIP_CA-/etc/ssl/certs/ca-certificates.crt}" scripts/docker-build.sh
stamp "image $IMAGE built"
# The image this build replaced is untagged now; on vfs it holds one or two full copies (6-13 GB) that no cache
# needs (its layers that the new image shares stay), so it goes before the containers need the room.
if [[ -n "$previous" && "$previous" != "$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)" ]]; then
  docker rmi "$previous" >/dev/null 2>&1 && stamp "removed the image it replaced (${previous:7:12})" || true
fi
MEDTL_TEST_IMAGE="$IMAGE" "$PYTHON" -m pytest -q -p no:cacheprovider -m docker tests/test_docker.py
stamp "docker tests passed"
