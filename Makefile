# The two commands: `make run` and `make test`. Each creates .venv when it is missing and
# installs what it needs (re-installing only when pyproject.toml changes).
# `make conformance` also needs npm: it installs a pinned Node 22 and the official MCP
# conformance suite into .conformance/ (ops/conformance/), then tests a fleet serving the
# suite's fixtures (examples/conformance.py).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mcpfleet-installed

.PHONY: run test lint bench conformance clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "mcpfleet needs Python 3.11+")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/mcpfleet up --app examples.demo:app

# Two test processes by default (pytest-xdist; each module stays on one, with its fleets):
# the suite is mostly waiting on real processes, so two halve its time on a 2-core machine.
# TEST_JOBS=0 runs it in one process.
TEST_JOBS ?= 2

test: $(STAMP)
	$(BIN)/python -m pytest $(if $(filter-out 0,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadfile)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# `make bench`: mcpfleet and the official SDK side by side in one interleaved run (bench/README.md);
# about 15 minutes on 2 cores. It installs the SDK peer into bench/.venvs/sdk from PyPI on first
# use and writes bench/results/<run id>.{json,md} and latest.md. Options through BENCH_ARGS,
# e.g. `make bench BENCH_ARGS='--repetitions 3 --only echo'`. The older microbenchmarks run as
# modules: `python -m bench.<module>` (listed in bench/README.md).
bench: $(STAMP)
	$(BIN)/python -m bench.harness $(BENCH_ARGS)

# `make conformance CONFORMANCE_URL=http://host:port/mcp` tests a running server instead.
conformance: $(STAMP)
	$(BIN)/python -m ops.conformance $(if $(CONFORMANCE_URL),--url '$(CONFORMANCE_URL)')

clean:
	rm -rf $(VENV) .mcpfleet .conformance .pytest_cache .mypy_cache .ruff_cache
