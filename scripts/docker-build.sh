#!/usr/bin/env bash
# Build the medtl-bench image (called by `make docker-build`). Settings come from the environment:
#   IMAGE       tag to build (default medtl-bench:latest)
#   BASE_IMAGE  base image (default: the Dockerfile's CUDA PyTorch runtime image; offline: medtl-base:bookworm)
#   PIP_CA      CA bundle for pip behind a TLS-re-signing proxy; used by the build stage only, not in the image
#   DOCKER      docker CLI (default docker)
# The image records the commit it was built from (MEDTL_GIT_SHA, MEDTL_GIT_DIRTY, MEDTL_IMAGE).
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-medtl-bench:latest}
DOCKER=${DOCKER:-docker}
# --force-rm: the classic builder removes a failed step's container too (BuildKit has none to leave)
args=(--network host --force-rm --tag "$IMAGE" --build-arg "IMAGE=$IMAGE")
[[ -n "${BASE_IMAGE:-}" ]] && args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
sha=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dirty=0
[[ -n "$(git status --porcelain --untracked-files=no -- suite datasets.lock pyproject.toml requirements benchmarks Dockerfile 2>/dev/null)" ]] && dirty=1
args+=(--build-arg "GIT_SHA=$sha" --build-arg "GIT_DIRTY=$dirty")

rm -f pip-ca.crt
if [[ -n "${PIP_CA:-}" ]]; then
  [[ -f "$PIP_CA" ]] || { echo "docker-build: PIP_CA=$PIP_CA is not a file" >&2; exit 2; }
  cp "$PIP_CA" pip-ca.crt
  trap 'rm -f pip-ca.crt' EXIT
fi
start=$(date +%s)
"$DOCKER" build "${args[@]}" .
suffix=""; [[ $dirty == 1 ]] && suffix="+dirty"
echo "docker-build: $IMAGE (base ${BASE_IMAGE:-Dockerfile default}, git $sha$suffix) in $(( $(date +%s) - start )) s"
