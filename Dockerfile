# medtl-bench GPU image.
#   make docker-build [BASE_IMAGE=...] [IMAGE=medtl-bench:latest] [PIP_CA=/path/to/ca-bundle.crt]
# BASE_IMAGE needs only Python >= 3.11, glibc and a shell: torch and its CUDA libraries come from the pinned PyPI
# wheels (requirements/constraints.txt) in /opt/medtl/venv, and the NVIDIA container toolkit injects the driver at
# `docker run --gpus`. Offline, build from scripts/make-offline-base.sh's Debian base (BASE_IMAGE=medtl-base:bookworm).
# The file works with the classic builder and with BuildKit; the build needs PyPI (`docker build --network host`).
#
# Run it with the data read-only at /data, and results and the cache writable:
#   docker run --gpus all -v /srv/data:/data:ro -v $PWD/results:/work/results -v medtl-cache:/cache \
#       medtl-bench:latest run smoke
# The docker executor (`medtl-bench run M --executor docker`) does this per cell.
ARG BASE_IMAGE=pytorch/pytorch:2.9.0-cuda12.8-cudnn9-runtime

# ---- build stage: the venv. pip-ca.crt (optional, copied into the context by `make docker-build PIP_CA=...`) is the
# CA bundle of a TLS-re-signing proxy; it is used by pip here only and never reaches the final stage.
FROM ${BASE_IMAGE} AS build
WORKDIR /tmp/src
COPY pyproject.toml requirements/constraints.txt pip-ca.cr[t] ./
# Dependencies first, in their own layer, so a code change does not reinstall torch.
RUN set -e; PY=$(command -v python3 || command -v python); \
    "$PY" -m venv /opt/medtl/venv; \
    if [ -f pip-ca.crt ]; then export PIP_CERT=/tmp/src/pip-ca.crt; fi; \
    /opt/medtl/venv/bin/python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" >deps.txt; \
    /opt/medtl/venv/bin/pip install --no-cache-dir --disable-pip-version-check --constraint constraints.txt -r deps.txt
# The package, installed in editable mode from /opt/medtl/app so that datasets.lock and benchmarks/ sit beside it.
# One COPY of the whole (allow-listed, see .dockerignore) context: on vfs every layer is a full copy of the image.
COPY . /opt/medtl/app/
RUN set -e; cd /opt/medtl/app; if [ -f pip-ca.crt ]; then export PIP_CERT=/tmp/src/pip-ca.crt; fi; rm -f pip-ca.crt; \
    /opt/medtl/venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps --editable /opt/medtl/app; \
    find /opt/medtl -name __pycache__ -prune -exec rm -rf {} +

# ---- final stage: base + a non-root user + ONE layer holding venv and app. On vfs every step after a big layer,
# even ENV or USER, copies the whole image, so all metadata comes before the COPY and only the version after it.
FROM ${BASE_IMAGE}
ARG UID=1000
RUN useradd --uid "$UID" --create-home --shell /bin/sh medtl \
    && mkdir -p /data /cache /work/results \
    && chown "$UID" /cache /work /work/results
ENV PATH=/opt/medtl/venv/bin:$PATH \
    MEDTL_DATA=/data \
    MEDTL_CACHE=/cache \
    PYTHONUNBUFFERED=1 \
    PYTHONHASHSEED=0 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    MPLBACKEND=Agg
WORKDIR /work
USER medtl
LABEL org.opencontainers.image.title="medtl-bench" \
      org.opencontainers.image.description="Transfer-learning benchmark for medical image classification"
ENTRYPOINT ["medtl-bench"]
CMD ["--help"]
# The version the image was built from; suite/environment.py records it in every result made in the container.
# (Declared before the COPY, whose cache they do not touch; only the one ENV step below follows it.)
ARG GIT_SHA=unknown
ARG GIT_DIRTY=0
ARG IMAGE=medtl-bench:latest
COPY --from=build /opt/medtl /opt/medtl
ENV MEDTL_GIT_SHA=$GIT_SHA MEDTL_GIT_DIRTY=$GIT_DIRTY MEDTL_IMAGE=$IMAGE
