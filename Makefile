# The template's own commands. `make demo` bakes the default project and runs its life;
# `make test` is what CI runs.
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
BUILD := build
# The interpreter that creates the venv, found before the venv goes first on PATH. uv is
# installed into the venv by the venv's own pip, at requirements-dev.txt's pin: nothing is ever
# installed into this interpreter (`make setup PYTHON=python3.11` to pick another one).
# --compile-bytecode: every module compiled once at install, not by each of the many processes
# that import it first (the act days start dozens at once).
PYTHON ?= python3
BOOTSTRAP_PYTHON := PATH="$(PATH)" $(PYTHON)
export PATH := $(BIN):$(PATH)
export BENTOML_DO_NOT_TRACK := True
export DVC_NO_ANALYTICS := 1

.DEFAULT_GOAL := help
.PHONY: help setup demo test test-fast test-github lint bench bench-check locks platform examples clean

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/pytest: requirements-dev.txt scripts/project-requirements.txt
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$$(grep -m1 '^uv==' requirements-dev.txt)"
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode -r requirements-dev.txt
	touch $@

setup: $(BIN)/pytest ## Create .venv with the template's tools

demo: setup ## Bake the default project into build/demo and run its whole life, serving included
	$(BIN)/python scripts/demo.py

test: setup lint ## Lint the template and run every test (bakes all variants, runs pipelines)
	$(BIN)/pytest -n 2 --junitxml=$(BUILD)/test-report.xml

test-github: setup ## Run the generated workflows with act (default variant and one other; one day per free worker)
	$(BIN)/pytest -m github -n 2 --maxschedchunk=1 tests/test_github.py tests/test_github_merge.py tests/test_site_workflow.py

test-fast: setup ## Only the tests that do not run a pipeline
	$(BIN)/pytest -n 2 -m "not slow"

lint: setup ## Lint the template's own Python and the actions-mlops package (ruff, mypy)
	$(BIN)/ruff check tests scripts bench
	$(BIN)/ruff format --check tests scripts bench
	cd actions-mlops && $(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

bench: setup ## Benchmarks: print tables, write bench/results/*.json (under 15 min); fails on stale results
	$(BIN)/python -m bench

bench-check: setup ## Fail, naming them, when bench/results/*.json are older than the code they measure
	$(BIN)/python -m bench --check

locks: setup ## Re-lock the generated projects' uv.lock files after a dependency change (UPGRADE=1: newest)
	$(BIN)/python scripts/lock.py $${UPGRADE:+--upgrade}

# The wheel every generated project installs actions-mlops from until it is on PyPI: built
# reproducibly (hatchling, fixed timestamps), so the same source gives the same bytes and the
# shipped locks' hash; tests/test_platform.py checks it matches the source.
PLATFORM_WHEEL_DIR := {{cookiecutter.project}}/vendor
platform: setup ## Rebuild the vendored actions-mlops wheel and re-lock (the locks hold its hash)
	rm -f $(PLATFORM_WHEEL_DIR)/*.whl
	$(BIN)/uv build --offline --no-build-isolation --wheel --out-dir $(PLATFORM_WHEEL_DIR) actions-mlops
	rm -f $(PLATFORM_WHEEL_DIR)/.gitignore
	$(BIN)/python scripts/lock.py

examples: ## Regenerate the example CSV files and starting contracts
	$(BIN)/python scripts/make_examples.py

clean: ## Remove build output and caches
	rm -rf $(BUILD) .pytest_cache .ruff_cache
