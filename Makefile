# lrdiag: `make run` installs and runs the quickstart sweep; `make test` sets itself up and tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint bench bench-peers eval-classify clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,dask]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/lrdiag sweep configs/quickstart.yaml --out lrdiag-out/quickstart --force

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check lrdiag tests benchmarks examples docs tools
	$(BIN)/ruff format --check lrdiag tests benchmarks examples docs tools
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.executor
	$(BIN)/python -m benchmarks.logs

# Optional: JAX and PyTorch (CPU) in their own virtualenv, timed beside the engine. Never in CI.
PEERS ?= .venv-peers

$(PEERS)/.installed: pyproject.toml
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS)/bin/python -m pip install --quiet -e . 'torch==2.13.0' jax
	touch $(PEERS)/.installed

bench-peers: $(PEERS)/.installed
	$(PEERS)/bin/python -m benchmarks.peers.run

eval-classify: $(STAMP)
	$(BIN)/python -m tools.corpus.evaluate tests/data/corpus --outside tests/data/outside \
		--heldout tests/data/outside2 --heldout tests/data/outside3 --heldout tests/data/outside4 \
		--heldout tests/data/outside5 --heldout tests/data/outside6 --heldout tests/data/outside7

clean:
	rm -rf $(VENV) $(PEERS) lrdiag-out build *.egg-info
