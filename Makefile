# The README's commands. Everything runs from a venv cached outside the clone,
# keyed by the lock file's hash, so a changed lock builds a fresh one.
SHELL := /bin/bash
PYTHON ?= python3
LOCK_HASH := $(shell sha256sum requirements.lock | cut -c1-16)
VENV ?= $(HOME)/.cache/digitbridge/venv-$(LOCK_HASH)
PY := $(VENV)/bin/python
export DATA_DIR ?= $(abspath ../shared/data)

.PHONY: venv weaviate run test evaluate index train lint clean-venv

venv: $(VENV)/.ok
# No prerequisite on the lock's mtime: the venv's path already carries the lock's hash
# (a fresh clone's files are all "new", which would force a needless reinstall).
$(VENV)/.ok:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.lock
	touch $@

weaviate:
	scripts/build_weaviate.sh

run: venv weaviate
	$(PY) -m service.run

index: venv weaviate
	$(PY) -m indexer

train: venv
	$(PY) -m models.train

evaluate: venv
	$(PY) -m models.evaluate --json models/metrics.json && cat models/metrics.json

test: venv weaviate
	$(PY) -m pytest

lint: venv
	$(PY) -m ruff check . && $(PY) -m ruff format --check . && $(PY) -m mypy models indexer service
