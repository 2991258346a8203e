# imagegate: `make run` serves the embedded default; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
DATA   ?= data
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test test-slow lint bench bench-guard install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) -e '.[test]'
	@touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	@if [ ! -f $(DATA)/imagegate.db ]; then $(BIN)/imagegate init --data-dir $(DATA) >/dev/null; fi
	@echo "First account (also in $(DATA)/first-account.json):"
	@cat $(DATA)/first-account.json 2>/dev/null || echo "  (not kept: see 'imagegate accounts list')"
	@echo "API:       http://$(HOST):$(PORT)/accounts/<account_id>/images/v1   docs: http://$(HOST):$(PORT)/docs"
	@echo "Delivery:  http://$(HOST):$(PORT)/<account_hash>/<image_id>/<variant>"
	MALLOC_ARENA_MAX=2 $(BIN)/imagegate serve --data-dir $(DATA) --host $(HOST) --port $(PORT)

lint: install-test
	$(BIN)/ruff check src tests bench fuzz
	$(BIN)/ruff format --check src tests bench fuzz
	$(BIN)/mypy src

test: lint
	$(BIN)/pytest -n 2 -m "not slow" -q

test-slow: install-test
	$(BIN)/pytest -m slow -q

bench: install-test
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# About a minute and a half: the cached path vs the granian floor and a cold render vs
# pyvips, failing below the floors of bench/guard.json.
bench-guard: install-test
	$(BIN)/python bench/guard.py

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
