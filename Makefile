# Switchboard: `make` is the one interface. Every target that needs tools runs `dev` first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen
CDK := node_modules/.bin/cdk
STACK ?= Switchboard
TEMPLATE := cdk.out/$(STACK).template.json

export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
export UV_LINK_MODE := copy

.PHONY: help dev layers local-runtime bootstrap local test test-unit test-integration test-infra test-e2e test-browser screenshots browser chaos lint fmt synth deploy bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

dev: .venv/.synced node_modules/.installed ## idempotent set-up: uv, the Python deps, the pinned CDK CLI

.venv/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The Lambda dependency layer (arm64, Python 3.13 wheels from the lock file), built without Docker. Powertools
# comes from its official public layer and boto3 from the Lambda runtime, so both are pruned here.
DEPS_LAYER := build/layers/deps
$(DEPS_LAYER)/.built: uv.lock
	rm -rf $(DEPS_LAYER) && mkdir -p $(DEPS_LAYER)
	$(UV) export --frozen --no-dev --no-emit-project --no-header --no-hashes --no-annotate \
		--prune boto3 --prune aws-lambda-powertools > $(DEPS_LAYER)/requirements.txt
	$(UV) pip install --quiet --target $(DEPS_LAYER)/python --python-platform aarch64-manylinux2014 \
		--python-version 3.13 --only-binary :all: -r $(DEPS_LAYER)/requirements.txt
	@touch $@

# The plan function's AWS SDK layer: boto3 and what it needs, at the lock's versions, pure Python. The durable
# execution SDK needs a newer boto3 than the one the Lambda runtime may hold (the runtime's boto3 "depends on the
# runtime version and your AWS Region": "Building Lambda functions with Python"), so that function ships its own.
SDK_LAYER := build/layers/sdk
SDK_DISTRIBUTIONS := boto3|botocore|s3transfer|jmespath|python-dateutil|six|urllib3
$(SDK_LAYER)/.built: uv.lock
	rm -rf $(SDK_LAYER) && mkdir -p $(SDK_LAYER)
	$(UV) export --frozen --no-dev --no-emit-project --no-header --no-hashes --no-annotate \
		| grep -E '^($(SDK_DISTRIBUTIONS))==' > $(SDK_LAYER)/requirements.txt
	$(UV) pip install --quiet --no-deps --target $(SDK_LAYER)/python --python-platform aarch64-manylinux2014 \
		--python-version 3.13 --only-binary :all: -r $(SDK_LAYER)/requirements.txt
	@touch $@

layers: dev $(DEPS_LAYER)/.built $(SDK_LAYER)/.built ## build the Lambda layers into build/layers (deps, sdk)

# What local workers import besides the cdk.out assets (tools/local/artifact.py; tools/local/README.md says why):
# the deps layer again for this machine's platform and interpreter (same lock, same pins), the stand-in for the
# public Powertools layer, and the Lambda runtime's boto3. Files come from the venv that uv synced from the lock.
LOCAL_RUNTIME := build/layers/deps-local/.built
$(LOCAL_RUNTIME): uv.lock .venv/.synced $(DEPS_LAYER)/.built tools/local/artifact.py
	$(RUN) python -m tools.local.artifact
	@touch $@

local-runtime: dev $(DEPS_LAYER)/.built $(LOCAL_RUNTIME) ## build what local workers load besides cdk.out

# The browser tests drive Debian's chromium with Playwright (the Python package, from the lock); Playwright's
# own browser download is never used. Installed only when missing (apt-get: CI runs as root).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update && apt-get install -y chromium

browser: $(CHROMIUM) ## Debian's chromium for the console's browser tests (installed only when missing)

bootstrap: dev ## cdk bootstrap the account and region of your AWS credentials (once per account and region)
	$(CDK) bootstrap $(BOOTSTRAP_ARGS)

synth: layers ## write the CloudFormation template to cdk.out/ (no credentials, no network)
	$(CDK) synth --quiet >/dev/null
	@echo "synthesized $(TEMPLATE)"

local: synth local-runtime ## run the whole agent on this machine (moto server, stand-ins, loopback API on :3000)
	$(RUN) switchboard local --template $(TEMPLATE)

lint: dev ## ruff format check, ruff lint, mypy
	$(RUN) ruff format --check .
	$(RUN) ruff check .
	$(RUN) mypy app.py infra tools functions layers/shared/python tests

fmt: dev ## apply ruff format and safe fixes
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

test: lint synth local-runtime browser ## everything CI runs: lint, synth, unit, integration, infra, e2e, browser
	$(RUN) pytest tests/unit tests/integration tests/infra tests/e2e tests/chaos tests/browser

test-unit: dev
	$(RUN) pytest tests/unit
test-integration: dev local-runtime
	$(RUN) pytest tests/integration
test-infra: synth
	$(RUN) pytest tests/infra
test-e2e: synth local-runtime
	$(RUN) pytest tests/e2e
test-browser: synth local-runtime browser
	$(RUN) pytest tests/browser

screenshots: synth local-runtime browser ## the README's console screenshots (docs/img/console-*.png), by the browser tests
	SWITCHBOARD_SCREENSHOTS=docs/img $(RUN) pytest tests/browser -q

chaos: synth local-runtime ## the reliability suite at full scale (bounded: it stops by itself)
	CHAOS_SCALE=full timeout 1500 $(RUN) pytest tests/chaos -s -p no:cacheprovider --timeout 900

deploy: synth ## cdk deploy into the account and region of your AWS credentials
	$(CDK) deploy $(STACK) $(DEPLOY_ARGS)

bench: synth local-runtime ## measure cold start, warm cost, AWS requests, LLM routing, throughput; update README
	$(RUN) python -m tools.bench --update-readme

clean:
	rm -rf cdk.out build .switchboard .pytest_cache .mypy_cache .ruff_cache
