# Developer entry points. `make help` lists them. Tools install themselves into .local/ (git-ignored) on first use.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-print-directory

ROOT      := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
LOCAL     := $(ROOT)/.local
VENV      := $(LOCAL)/venv
PYTHON    ?= python3
BOOTSTRAP := $(ROOT)/infra/local/bootstrap.sh
TEMPLATE  := $(ROOT)/infra/template.yaml

.PHONY: help tools dev dev-reset test lint fmt build routes sam-build bench

help: ## List the targets
	@echo "Usage: make <target>   (main ones: make dev, make test)"
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  %-10s %s\n", $$1, $$2 }'

tools: ## Install every local tool into .local/ (done on demand by the other targets)
	@$(BOOTSTRAP) all

dev: ## Run the whole API locally on http://127.0.0.1:3000 (DEV_PORT); Ctrl-C stops it
	@$(PYTHON) $(ROOT)/infra/local/dev.py

dev-reset: ## Wipe local DynamoDB data and dev state (stop `make dev` first)
	rm -rf $(LOCAL)/dynamodb-data $(LOCAL)/dev-state*

define LINT_STEPS
	cd $(ROOT) && cargo fmt --all -- --check
	cd $(ROOT) && cargo clippy --workspace --all-targets -- -D warnings
	@test -f $(TEMPLATE) || { echo "error: $(TEMPLATE) is missing" >&2; exit 1; }
	$(VENV)/bin/cfn-lint $(TEMPLATE)
endef

lint: ## rustfmt check, clippy -D warnings, cfn-lint on the SAM template
	@$(BOOTSTRAP) venv rust
	$(LINT_STEPS)

test: ## Lint, then cargo test --workspace against DynamoDB Local + moto (what CI runs)
	@$(BOOTSTRAP) test
	$(LINT_STEPS)
	cd $(ROOT) && $(PYTHON) infra/local/services.py run -- cargo test --workspace

bench: ## Benchmarks against DynamoDB Local (numbers go in the issue notes; never timed tests)
	@$(BOOTSTRAP) test
	cd $(ROOT) && cargo build --release --workspace --bins
	cd $(ROOT) && $(PYTHON) infra/local/services.py run -- cargo bench -p integration-tests

fmt: ## Format the Rust code
	cd $(ROOT) && cargo fmt --all

build: ## Release arm64 Lambda binaries with cargo-lambda (target/lambda/<bin>/bootstrap)
	@$(BOOTSTRAP) build
	cd $(ROOT) && PATH="$(VENV)/bin:$$PATH" cargo lambda build --release --arm64

routes: ## Print the routes the local gateway reads from infra/template.yaml
	@$(BOOTSTRAP) venv
	@$(VENV)/bin/python $(ROOT)/infra/local/gateway.py --print-routes

sam-build: ## sam build (installs aws-sam-cli into .local/venv); then `.local/venv/bin/sam deploy`
	@$(BOOTSTRAP) build sam
	cd $(ROOT) && PATH="$(VENV)/bin:$$PATH" sam build
