# deform3d developer entry points. `make test` is what CI runs (through .ci/run).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test install export readme check-sync lint nbtest pytest demo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch==2.13.0 is the CPU build on this machine's disk; a bare `torch` would pull a multi-GB CUDA build.
# The pose extra (MediaPipe's BlazePose) is installed for the `poses` tests; it adds about 20 s to a fresh install.
# pyproject keeps a range (torch>=2.3) so GPU users keep the build they have.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,pose,decord]"
	touch $(STAMP)

install: $(STAMP)

export: $(STAMP)
	$(BIN)/nbdev-export

# README.md is generated from nbs/index.ipynb (nbdev-readme needs Quarto; nbconvert does the same for a markdown notebook).
readme: $(STAMP)
	$(BIN)/jupyter nbconvert --to markdown nbs/index.ipynb --output-dir . --output README --log-level WARN

# The notebooks are the source of truth: cleaning and exporting must leave the tree as it is.
# nbdev-export rewrites pyproject.toml with the same bytes: its old time is put back, or the next make would reinstall.
check-sync: $(STAMP)
	@before=$$(git status --porcelain -- nbs deform3d README.md; git diff -- nbs deform3d README.md | md5sum); \
	cp -p pyproject.toml $(VENV)/.pyproject.before; \
	$(BIN)/nbdev-clean && $(BIN)/nbdev-export; \
	if cmp -s pyproject.toml $(VENV)/.pyproject.before; then touch -r $(VENV)/.pyproject.before pyproject.toml; fi; \
	rm -f $(VENV)/.pyproject.before; $(MAKE) -s readme; \
	after=$$(git status --porcelain -- nbs deform3d README.md; git diff -- nbs deform3d README.md | md5sum); \
	if [ "$$before" != "$$after" ]; then \
	  echo "nbdev-clean/nbdev-export/readme changed files: commit clean notebooks, the exported library and README.md"; \
	  git status --porcelain -- nbs deform3d; exit 1; fi; \
	echo "notebooks clean and library in sync"

# No line over 120 characters and no `;` between statements, in the exported package and the tests (pyproject [tool.ruff]).
lint: $(STAMP)
	$(BIN)/ruff check deform3d tests

# One BLAS/OpenMP thread per process: nbdev-test runs two notebooks at once on two cores, and the tests' tiny tensors run
# several times slower when two threads contend (measured: the model notebook 22 s of CPU with 2 threads, 5 s with 1).
TEST_ENV := OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=$${MKL_NUM_THREADS:-1}

nbtest: $(STAMP)
	$(TEST_ENV) $(BIN)/nbdev-test --timing

# pytest exits 5 when it collects no test: that is not a failure of the suite.
pytest: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -q tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

test: check-sync lint nbtest pytest

# The CPU demo: the synthetic RGB + skeleton set, the fused model and its RGB-only and pose-only variants, an evaluation, and
# runs/demo/report.md (metrics, curves, confusion matrix). One thread per training: the fused model and its RGB-only variant
# train side by side on two cores, then the (cheap) pose-only variant.
# What it reached: runs/demo/report.md (written by the run itself).
DEMO_DATA := data/synthetic
DEMO_OUT := runs/demo
DEMO_SET := --set data.root=$(DEMO_DATA) $(DEMO_ARGS)   # DEMO_ARGS: extra --set overrides, e.g. make demo DEMO_ARGS='--set train.epochs=2'

# Rewritten when the generator or this file changes (a data set left by an older version is not reused).
$(DEMO_DATA)/meta.json: $(STAMP) deform3d/data/synthetic.py deform3d/data/render.py deform3d/data/video.py Makefile
	rm -rf $(DEMO_DATA)
	$(BIN)/deform3d synth $(DEMO_DATA) --clips 600 --seed 0

demo:
	@t0=$$(date +%s); \
	$(MAKE) -s $(DEMO_DATA)/meta.json && \
	{ $(BIN)/deform3d train demo $(DEMO_SET) --set model.modalities=rgb --out $(DEMO_OUT)/rgb_only --quiet & rgb=$$!; \
	  $(BIN)/deform3d train demo $(DEMO_SET) --out $(DEMO_OUT) --quiet; fused=$$?; wait $$rgb && [ $$fused -eq 0 ]; } && \
	$(BIN)/deform3d train demo $(DEMO_SET) --set model.modalities=pose --out $(DEMO_OUT)/pose_only --quiet && \
	$(BIN)/deform3d eval demo $(DEMO_SET) --checkpoint $(DEMO_OUT)/checkpoints/last.pt --out $(DEMO_OUT)/eval --quiet && \
	$(BIN)/deform3d report $(DEMO_OUT) --variant rgb-only=$(DEMO_OUT)/rgb_only --variant pose-only=$(DEMO_OUT)/pose_only \
	  --title "deform3d demo: cross-modal fusion on the synthetic set" \
	  --notes "Ten classes = five motions x two held objects (deform3d.data.synthetic): the pose alone cannot tell the objects apart (ceiling 50 %); in the pixels the object is plain but the motion is faint (thin limbs among moving clutter); only the fused model has every cue at hand. Total wall time of make demo, set-up included: $$(( $$(date +%s) - t0 )) s." && \
	echo "demo: done in $$(( $$(date +%s) - t0 )) s; see $(DEMO_OUT)/report.md"
