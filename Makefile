# The two commands of the README: `make run` (the main job) and `make test` (the test suite).
# Each installs what it needs first (Debian toolchain when missing, then the .venv).
VENV ?= .venv
export VENV
BIN := $(VENV)/bin
RUN ?= runs/quickstart

.PHONY: setup run test lint clean
setup:
	@bash scripts/setup.sh

run: setup
	$(BIN)/acdeploy pipeline --config configs/quickstart.yaml --out $(RUN)

lint: setup
	$(BIN)/ruff check acdeploy train compress deploy tests benchmarks scripts

test: lint
	$(BIN)/python -m pytest -q -ra tests

clean:
	rm -rf build runs .pytest_cache
