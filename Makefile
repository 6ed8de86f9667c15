# Every command a person, DVC or a workflow runs goes through here. `make help` lists them.
# uv is installed into .tools/ when it is not on PATH; every install uses uv.lock (--frozen).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen
export ITERATIVE_DO_NOT_TRACK := 1
export DVC_NO_ANALYTICS := 1
export PYTHONWARNINGS := ignore::DeprecationWarning

BASE ?= main
PYTEST_ARGS ?=

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(CURDIR)/.tools/bin/uv:
	@echo "uv not found: installing it into .tools/ from PyPI"
	python3 -m venv .tools
	.tools/bin/python -m pip install --quiet uv

.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

.PHONY: install
install: .venv/.synced ## Create .venv from uv.lock (installs uv first if missing)

.PHONY: data
data: install ## Make data/ match data.dvc (keep it, pull it from the DVC remote, or regenerate the sample)
	$(RUN) gitops-ml ensure-data

.PHONY: repro
repro: data ## Run the DVC pipeline (validate -> split -> train -> evaluate); only what changed reruns
	$(RUN) dvc repro

.PHONY: metrics
metrics: install ## Print the metrics of the last pipeline run
	$(RUN) gitops-ml metrics

.PHONY: run
run: repro metrics ## Set up everything and run the whole pipeline on the sample data, then print the metrics

.PHONY: lint
lint: install ## ruff check and ruff format --check
	$(RUN) ruff check .
	$(RUN) ruff format --check .

.PHONY: format
format: install ## Fix what ruff can fix and format the code
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

.PHONY: pytest
pytest: install ## Run the pytest suite only (PYTEST_ARGS=... to pass options)
	$(RUN) pytest $(PYTEST_ARGS)

.PHONY: test
test: lint pytest ## Everything CI checks: lint, workflow checks and the whole pytest suite

.PHONY: clean
clean: ## Remove pipeline outputs and caches (keeps data/, the DVC cache and mlflow.db)
	rm -rf artifacts models reports .pytest_cache .ruff_cache
