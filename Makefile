# Two commands: `make demo` installs and runs the demo on bundled Adult; `make test` installs and tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= dev,torch,report,lab,distributed,dp,federated,search,ot,workbench

.PHONY: install demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

LINTED := $(wildcard src tests benchmarks examples)

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"

demo: install
	$(BIN)/synthloop demo --out out/demo

lint: install
	$(BIN)/ruff check $(LINTED)

# tests/ plus the doctests in src/ (Examples blocks run, as STYLE.md promises).
# pip check: every extra in one environment must agree (flwr[simulation] pins typer, rich and ray; issue 19).
test: install
	$(BIN)/python -m pip check
	$(BIN)/ruff check $(LINTED)
	$(BIN)/python -m pytest -q tests src

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
