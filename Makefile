# lrdiag: `make run` installs and runs the quickstart sweep; `make test` sets itself up and tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint bench bench-peers eval-classify clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/lrdiag sweep configs/quickstart.yaml --out lrdiag-out/quickstart --force

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check lrdiag tests benchmarks examples docs
	$(BIN)/ruff format --check lrdiag tests benchmarks examples docs

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

eval-classify: $(STAMP)
	$(BIN)/python -m lrdiag.evaluate tests/data/corpus

clean:
	rm -rf $(VENV) lrdiag-out build *.egg-info
