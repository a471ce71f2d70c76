#!/usr/bin/env bash
# Make a minimal Debian bookworm image with Python 3.11 for building medtl-bench where no image registry can be
# reached: debootstrap a root filesystem from the Debian mirror, then `docker import` it.
#   scripts/make-offline-base.sh [TAG]        (default TAG: medtl-base:bookworm; needs root and a Docker engine)
# It does nothing when TAG already exists (FORCE=1 rebuilds). Then: make docker-build BASE_IMAGE=TAG
# The base has no CUDA libraries of its own and needs none: the pinned torch wheels from PyPI bring them, and the
# NVIDIA container toolkit injects the driver at `docker run --gpus`.
set -euo pipefail
TAG=${1:-medtl-base:bookworm}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
# python3-venv: the image's /opt/venv; passwd: useradd for the non-root user; ca-certificates: pip over HTTPS.
PACKAGES=python3,python3-venv,ca-certificates,passwd

if [[ -z "${FORCE:-}" ]] && docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "make-offline-base: $TAG exists (FORCE=1 to rebuild)"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "make-offline-base: needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "make-offline-base: debootstrap needs root" >&2; exit 2; }

rootfs=$(mktemp -d "${TMPDIR:-/tmp}/medtl-base.XXXXXX")
chmod 755 "$rootfs"  # it becomes the image's "/": mktemp's 0700 would lock every non-root user out
trap 'rm -rf "$rootfs"' EXIT
start=$(date +%s)
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 || {
  tail -20 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"
# Slim the image: package lists and docs are not needed at run time.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  --message "debootstrap --variant=minbase --include=$PACKAGES $SUITE" - "$TAG" >/dev/null
echo "make-offline-base: $TAG built in $(( $(date +%s) - start )) s ($(docker image inspect -f '{{.Size}}' "$TAG" | numfmt --to=iec))"
