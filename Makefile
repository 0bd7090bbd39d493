# kexue — the two commands: `make run` (reproduce the articles into report/index.html) and
# `make test`. Both create .venv and install what they need; a second call reinstalls nothing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# the extras the tests, `make run` and `make docs` use (a new set of extras: a new stamp name, so
# an existing .venv reinstalls)
EXTRAS := dev,docs,cli,symbolic,data
STAMP  := $(VENV)/.kexue-dev-docs-cli-symbolic-data-installed
BENCH_STAMP := $(VENV)/.kexue-bench-installed
# PyTorch first, pinned: on these machines pip takes this version's CPU wheel from a local file.
# (Never uv/poetry here: they would download a multi-GB CUDA build.)
TORCH  := torch==2.13.0

.PHONY: run test test-all test-gpu bench lint install clean docs

run: $(STAMP)
	$(BIN)/kexue reproduce --quick --jobs 2 --out report

test: $(STAMP)
	$(BIN)/python -m pytest

test-all: $(STAMP)
	$(BIN)/python -m pytest -m "slow or not slow"

# the tests that need CUDA (skipped, not failed, on a machine without it)
test-gpu: $(STAMP)
	$(BIN)/python -m pytest -m gpu

bench: $(BENCH_STAMP)
	@set -e; for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f; done

# the documentation site, from docs/ and the docstrings, into site/; warnings are errors; offline
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS),bench]'
	touch $@

clean:
	rm -rf $(VENV) report test-artifacts .pytest_cache
