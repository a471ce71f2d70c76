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

# Layers, so that a rebuild redoes only what changed (measure with `make docker-build` twice; README "Docker"):
#   pins   the [project] dependencies of pyproject.toml as deps.txt: reruns on any pyproject.toml change (cheap),
#          and writes the same file unless the dependencies changed, so what follows stays cached;
#   deps   the venv: torch and every pinned dependency; rebuilt only when requirements/constraints.txt or deps.txt
#          changes (a [tool.ruff] edit or a code change never reinstalls torch);
#   app    the source, allow-listed by .dockerignore, less the CA bundle;
#   final  base + user + metadata, then the venv (one big layer, cached with deps), the version, the source (small).
# pip-ca.crt (optional, copied into the context by `make docker-build PIP_CA=...`) is the CA bundle of a
# TLS-re-signing proxy; pip uses it in the deps stage only and it never reaches the final image.

# ---- pins: only the dependency list leaves this stage.
FROM ${BASE_IMAGE} AS pins
COPY pyproject.toml /tmp/pyproject.toml
RUN PY=$(command -v python3 || command -v python); \
    "$PY" -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies']))" >/tmp/deps.txt

# ---- deps: the venv. The package itself is not installed here: a .pth puts /opt/medtl/app (the final stage's
# source layer) on the path and bin/medtl-bench calls its CLI, so the venv never depends on the source.
FROM ${BASE_IMAGE} AS deps
WORKDIR /tmp/src
COPY requirements/constraints.txt pip-ca.cr[t] ./
COPY --from=pins /tmp/deps.txt ./deps.txt
RUN set -e; PY=$(command -v python3 || command -v python); \
    "$PY" -m venv /opt/medtl/venv; \
    if [ -f pip-ca.crt ]; then export PIP_CERT=/tmp/src/pip-ca.crt; fi; \
    /opt/medtl/venv/bin/pip install --no-cache-dir --disable-pip-version-check --constraint constraints.txt -r deps.txt; \
    site=$(/opt/medtl/venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"); \
    echo /opt/medtl/app >"$site/medtl-bench-app.pth"; \
    printf '#!/opt/medtl/venv/bin/python\nimport sys\nfrom suite.cli import main\nsys.exit(main())\n' \
        >/opt/medtl/venv/bin/medtl-bench; \
    chmod 755 /opt/medtl/venv/bin/medtl-bench; \
    find /opt/medtl -name __pycache__ -prune -exec rm -rf {} +

# ---- app: the package's source (allow-listed, see .dockerignore), without the CA bundle.
FROM ${BASE_IMAGE} AS app
COPY . /opt/medtl/app/
RUN rm -f /opt/medtl/app/pip-ca.crt

# ---- final stage: base + a non-root user + metadata first (on vfs every step after a big layer, even ENV or USER,
# copies the whole image), then the venv (cached as long as deps is), the version, and the source last.
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
COPY --from=deps /opt/medtl/venv /opt/medtl/venv
# The version the image was built from; suite/environment.py records it in every result made in the container.
ARG GIT_SHA=unknown
ARG GIT_DIRTY=0
ARG IMAGE=medtl-bench:latest
ENV MEDTL_GIT_SHA=$GIT_SHA MEDTL_GIT_DIRTY=$GIT_DIRTY MEDTL_IMAGE=$IMAGE
# The package's source, last: datasets.lock, datasets.lock.d/ and benchmarks/ sit beside it.
COPY --from=app /opt/medtl/app /opt/medtl/app
