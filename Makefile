# Every target works on a fresh machine with only Python 3.11, pip and gcc: `make venv` builds
# .venv from scratch and the other targets depend on it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv generate check-generated lint typecheck pytest test demo bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

generate: venv
	$(BIN)/python -m codegen

check-generated: venv
	$(BIN)/python -m codegen --check

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy src codegen examples
	$(BIN)/pyright

pytest: venv
	$(BIN)/pytest

test: lint typecheck check-generated pytest

demo: venv
	$(BIN)/python examples/demo.py

bench: venv
	$(BIN)/python -m bench $(BENCH_ARGS)
	if [ -f bench/async_transfers.py ]; then $(BIN)/python -m bench.async_transfers; fi

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
