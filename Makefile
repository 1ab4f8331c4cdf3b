# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test check lint install bench soak audit clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m stack.runner $(ARGS)

test: lint
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# While working: the linter, then the unit and contract tests (no process started but Redis).
check: lint
	$(BIN)/python -m pytest -q -m "not slow" tests/test_architecture.py tests/test_docs_api.py tests/shared tests/web tests/worker tests/stack $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/accuracy.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/service.py
	$(BIN)/python benchmarks/events.py          # 200 live-update streams on one web process
	$(BIN)/python benchmarks/history.py
	$(BIN)/python benchmarks/inventory.py m3
	$(BIN)/python benchmarks/inventory.py shop
	$(BIN)/python benchmarks/grouped_service.py   # ~45 min: 10,000 series twice (engine, service)

# Slow reliability runs, not in CI: crash chaos, long fuzzing, the 1,000-job soak.
soak: $(STAMP)
	$(BIN)/python -m pytest -q --soak -m soak tests/reliability
	SCHEMATHESIS_MAX_EXAMPLES=500 $(BIN)/python -m pytest -q tests/reliability/test_fuzz_api.py
	$(BIN)/python benchmarks/soak.py

audit: $(STAMP)
	scripts/audit.sh

clean:
	rm -rf $(VENV) var .pytest_cache
