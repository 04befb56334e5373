# The two commands of the README: `make run` (the main job) and `make test` (the test suite, what CI
# runs); `make test-fast` leaves out the tests marked slow (training, QEMU) for the edit-test loop.
# Each installs what it needs first (Debian toolchain when missing, then the .venv).
VENV ?= .venv
export VENV
BIN := $(VENV)/bin
RUN ?= runs/quickstart

.PHONY: setup run test test-fast lint clean
setup:
	@bash scripts/setup.sh

run: setup
	$(BIN)/acdeploy pipeline --config configs/quickstart.yaml --out $(RUN)

lint: setup
	$(BIN)/ruff check acdeploy data train compress deploy tests benchmarks scripts

test: lint
	$(BIN)/python -m pytest -q -ra --durations=25 tests

test-fast: lint
	$(BIN)/python -m pytest -q -ra -m "not slow" tests

clean:
	rm -rf build runs .pytest_cache
