# deform3d developer entry points. `make test` is what CI runs (through .ci/run).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test install export readme check-sync nbtest pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch==2.13.0 is the CPU build on this machine's disk; a bare `torch` would pull a multi-GB CUDA build.
# pyproject keeps a range (torch>=2.3) so GPU users keep the build they have.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

export: $(STAMP)
	$(BIN)/nbdev-export

# README.md is generated from nbs/index.ipynb (nbdev-readme needs Quarto; nbconvert does the same for a markdown notebook).
readme: $(STAMP)
	$(BIN)/jupyter nbconvert --to markdown nbs/index.ipynb --output-dir . --output README --log-level WARN

# The notebooks are the source of truth: cleaning and exporting must leave the tree as it is.
check-sync: $(STAMP)
	@before=$$(git status --porcelain -- nbs deform3d README.md; git diff -- nbs deform3d README.md | md5sum); \
	$(BIN)/nbdev-clean && $(BIN)/nbdev-export && $(MAKE) -s readme; \
	after=$$(git status --porcelain -- nbs deform3d README.md; git diff -- nbs deform3d README.md | md5sum); \
	if [ "$$before" != "$$after" ]; then \
	  echo "nbdev-clean/nbdev-export/readme changed files: commit clean notebooks, the exported library and README.md"; \
	  git status --porcelain -- nbs deform3d; exit 1; fi; \
	echo "notebooks clean and library in sync"

nbtest: $(STAMP)
	$(BIN)/nbdev-test --timing

# pytest exits 5 when it collects no test: that is not a failure of the suite.
pytest: $(STAMP)
	$(BIN)/python -m pytest -q tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

test: check-sync nbtest pytest
