#!/usr/bin/env bash
# `make test-docker`: the docker executor against a real engine, from nothing but root and the Debian mirror.
#  1. start dockerd (vfs storage, no iptables, no bridge) if no engine answers; install docker.io if needed
#  2. build the offline Debian base if it is missing (scripts/make-offline-base.sh)
#  3. build the image (scripts/docker-build.sh; cached layers make a rebuild quick)
#  4. run tests/test_docker.py: a tiny matrix in containers vs the local executor, crash, timeout, OOM, Ctrl-C, kill -9
#  5. stop the daemon only if this script started it
# Environment: PYTHON (default .venv/bin/python), MEDTL_TEST_IMAGE (medtl-bench:test), OFFLINE_BASE, PIP_CA.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
IMAGE=${MEDTL_TEST_IMAGE:-medtl-bench:test}
BASE=${OFFLINE_BASE:-medtl-base:bookworm}
t0=$(date +%s)
stamp() { echo "test-docker: $1 at +$(( $(date +%s) - t0 )) s"; }

started=""
stop_daemon() {
  if [[ -n "$started" ]]; then
    kill "$started" 2>/dev/null || true
    wait "$started" 2>/dev/null || true
    stamp "stopped the dockerd it started (pid $started)"
  fi
}
trap stop_daemon EXIT

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

scripts/make-offline-base.sh "$BASE"
stamp "base $BASE ready"
IMAGE="$IMAGE" BASE_IMAGE="$BASE" PIP_CA="${PIP_CA-/etc/ssl/certs/ca-certificates.crt}" scripts/docker-build.sh
stamp "image $IMAGE built"
MEDTL_TEST_IMAGE="$IMAGE" "$PYTHON" -m pytest -q -p no:cacheprovider -m docker tests/test_docker.py
stamp "docker tests passed"
