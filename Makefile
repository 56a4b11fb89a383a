# Two commands: `make demo` installs and runs the demo on bundled Adult; `make test` installs and tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= dev,torch,report

.PHONY: install demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"

demo: install
	$(BIN)/synthloop demo

lint: install
	$(BIN)/ruff check src tests benchmarks examples

test: install
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
