# Two commands do all set-up: `make run` (the product) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench validate clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

run: $(BIN)/.installed
	$(BIN)/oms up

# The browser tests (tests/pages) drive Debian's Chromium; the script installs it once.
test: $(BIN)/.installed
	scripts/install-chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

validate: $(BIN)/.installed
	$(BIN)/oms validate definitions/

bench: $(BIN)/.installed
	$(BIN)/python bench/flow_overhead.py

clean:
	rm -rf $(VENV) data *.egg-info
