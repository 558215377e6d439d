# The README's commands. Everything runs from a venv cached outside the clone,
# keyed by the lock file's hash, so a changed lock builds a fresh one.
SHELL := /bin/bash
PYTHON ?= python3
LOCK_HASH := $(shell sha256sum requirements.lock | cut -c1-16)
VENV ?= $(HOME)/.cache/digitbridge/venv-$(LOCK_HASH)
PY := $(VENV)/bin/python

.PHONY: venv system-deps go weaviate deploy-tools run test evaluate index train export lint bench image-size

venv: $(VENV)/.ok
# No prerequisite on the lock's mtime: the venv's path already carries the lock's hash
# (a fresh clone's files are all "new", which would force a needless reinstall).
$(VENV)/.ok:
	PYTHON=$(PYTHON) scripts/system_deps.sh venv
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.lock
	touch $@

# System packages (Debian), installed when missing (as root or with passwordless sudo;
# otherwise the script names them and fails): all the suite needs, or only Go.
# (`venv` checks its own: python3-venv.)
system-deps:
	scripts/system_deps.sh test

go:
	scripts/system_deps.sh go

weaviate: go
	scripts/build_weaviate.sh

# The docker compose CLI and Docker's .dockerignore matcher, which tests/deploy reads the
# deployment files with (built once into ~/.cache/digitbridge/bin).
deploy-tools: go
	scripts/deploy_tools.sh compose dockerignore >/dev/null

run: venv weaviate
	$(PY) -m launcher

index: venv weaviate
	$(PY) -m indexer

train: venv
	scripts/system_deps.sh train
	$(PY) -m training.train

# The checkpoint's ONNX graphs (what CPU serving runs); train does it after saving.
export: venv
	$(PY) -m training.export

evaluate: venv
	$(PY) -m training.evaluate --json models/metrics.json && cat models/metrics.json

# On pytest-xdist workers: the suite waits on servers and subprocesses as much as it computes,
# so more workers than cores pay (tests/conftest.py says how tests are grouped onto them).
TEST_WORKERS ?= 3
test: venv system-deps weaviate deploy-tools
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

lint: venv
	$(PY) -m ruff check . && $(PY) -m ruff format --check . && $(PY) -m mypy models store indexer service launcher training bench

# Speed and memory (BENCHMARKS.md): its own Weaviate + service + hey; ~25-40 min.
# BENCH_ARGS e.g. "--quick" (a smoke run) or "--only http --concurrency 1,32".
bench: venv weaviate
	$(PY) -m bench $(BENCH_ARGS)

# What the Dockerfile adds to its base image, per TORCH_VARIANT, without a Docker engine:
# its builder's RUN replayed into a temporary folder (~3 min, ~6 GB of disk for cu130).
image-size: venv deploy-tools
	$(PY) -m bench.image_size
