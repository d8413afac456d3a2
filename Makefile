# Two commands do all set-up: `make run` (the product) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run lint test bench validate clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

run: $(BIN)/.installed
	$(BIN)/oms up

# Style, formatting, types (mypy checks the `files` pyproject.toml names) and the layout's import contracts.
lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The browser tests (tests/pages) drive Debian's Chromium; the script installs it once.
test: $(BIN)/.installed lint
	scripts/install-chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

validate: $(BIN)/.installed
	$(BIN)/oms validate definitions/

bench: $(BIN)/.installed
	$(BIN)/python -m bench.flow_overhead

clean:
	rm -rf $(VENV) data *.egg-info .mypy_cache .ruff_cache .import_linter_cache
