# The README's two commands: `make demo` and `make test`. Both do all set-up on a fresh machine.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/install-system-deps
	./scripts/install-system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/ecto-optimizer demo

# The test run starts its own PostgreSQL cluster and removes it afterwards (tests/conftest.py).
test: setup
	$(BIN)/pytest -q

bench: setup
	$(BIN)/python bench/bench_plan.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
