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
OPENAPI   := $(ROOT)/infra/openapi.yaml
REDOCLY   := $(LOCAL)/redocly/node_modules/.bin/redocly
DEV_RUN   := $(PYTHON) $(ROOT)/infra/local/dev.py run --prebuilt --
# make fuzz: test cases per operation (FUZZ_EXAMPLES) and who the fuzzer is (FUZZ_AS=user|admin); CI runs a
# smaller budget inside make test (FUZZ_CI_EXAMPLES).
FUZZ_EXAMPLES    ?= 50
FUZZ_CI_EXAMPLES ?= 5

CONSOLE   := $(ROOT)/console
# The console's end-to-end tests (Playwright, Debian's chromium) against the stack DEV_RUN starts.
E2E_RUN   := cd $(CONSOLE) && node_modules/.bin/playwright test

.PHONY: help tools dev dev-reset test lint fmt build routes sam-build bench fuzz console e2e

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
	@# redocly exits non-zero on errors only; a warning fails too (the description is kept lint-clean)
	cd $(ROOT) && out=$$($(REDOCLY) lint --config redocly.yaml $(OPENAPI) 2>&1) && rc=0 || rc=$$?; \
	  grep -v -F -e '║' -e '╔' -e '╚' <<<"$$out"; test $$rc -eq 0 && ! grep -qE 'You have [0-9]+ warnings?' <<<"$$out"
	cd $(ROOT) && $(VENV)/bin/python -m unittest infra/local/test_gateway.py infra/local/test_dev.py \
	  infra/local/test_template_operations.py infra/local/test_stripe_local.py 2>&1 \
	  | grep -v -e '^gateway: ' -e '^dev: schedule'
endef

lint: ## rustfmt check, clippy -D warnings, cfn-lint, redocly lint (OpenAPI), the local tooling's tests
	@$(BOOTSTRAP) venv rust redocly
	$(LINT_STEPS)

test: ## Lint, cargo test --workspace against DynamoDB Local + moto, the SDKs' tests (TypeScript, Python), the console's build, then the README walkthroughs, the console in a real browser, the SDK examples and a short fuzz against the local stack (what CI runs)
	@$(BOOTSTRAP) test
	$(LINT_STEPS)
	cd $(ROOT) && $(LOCAL)/moto-venv/bin/python -m unittest infra/local/test_deploy_console.py infra/local/test_restore_drill.py \
	  2>&1 | tail -n 3
	cd $(ROOT) && $(PYTHON) infra/local/services.py run -- cargo test --workspace
	cd $(ROOT)/sdk/typescript && node_modules/.bin/tsc --noEmit && node_modules/.bin/vitest run && node_modules/.bin/tsup --silent
	@# both builds load: CommonJS (require) and ESM (import), each entry point
	cd $(ROOT)/sdk/typescript && node -e "for (const f of ['index', 'node']) if (!Object.keys(require('./dist/' + f + '.cjs')).length) process.exit(1)" \
	  && node --input-type=module -e "for (const f of ['index', 'node']) if (!Object.keys(await import('./dist/' + f + '.js')).length) process.exit(1)"
	cd $(ROOT)/sdk/python && $(LOCAL)/sdk-python/bin/python -m pytest -q -p no:cacheprovider
	$(CONSOLE_BUILD)
	@# The console's browser tests get a stack of their own: they sign up about as many users as one address may
	@# in an hour (20), and nothing else should spend that allowance.
	cd $(ROOT) && DEV_BUILD_ARGS='--lib --bins --tests --examples' $(DEV_RUN) bash -c '$(E2E_RUN)'
	cd $(ROOT) && DEV_BUILD_ARGS='--lib --bins --tests --examples' $(DEV_RUN) bash -c '$(PYTHON) infra/local/walkthrough_test.py && \
	  (cd sdk/typescript && SDK_API_URL=$$BASE_URL node_modules/.bin/vitest run test/integration.test.ts) && \
	  (cd sdk/python && SDK_API_URL=$$BASE_URL $(LOCAL)/sdk-python/bin/python -m pytest -q -p no:cacheprovider tests/test_integration.py) && \
	  FUZZ_EXAMPLES=$(FUZZ_CI_EXAMPLES) $(PYTHON) infra/local/fuzz.py'

define CONSOLE_BUILD
	cd $(CONSOLE) && node_modules/.bin/tsc --noEmit && node_modules/.bin/tsc --noEmit -p tsconfig.e2e.json
	cd $(CONSOLE) && node_modules/.bin/vitest run --silent
	cd $(CONSOLE) && node_modules/.bin/vite build --logLevel warn
	@cd $(CONSOLE) && gz() { for f in "$$@"; do gzip -9c "$$f" | wc -c; done | awk '{ n += $$1 } END { printf "%.1f", n / 1024 }'; } \
	  && printf 'console: first load %s KB gzipped (index.html, entry script, styles); every page and chart %s KB\n' \
	  "$$(gz dist/index.html dist/assets/index-*.js dist/assets/*.css)" "$$(gz dist/index.html dist/assets/*.js dist/assets/*.css)"
endef

console: ## Type-check, unit-test and build the web console into console/dist (served at / by `make dev`'s gateway)
	@$(BOOTSTRAP) sdk-ts console
	$(CONSOLE_BUILD)

e2e: ## The console's end-to-end tests in Debian's headless chromium against a throw-away local stack (E2E_ARGS: playwright's)
	@$(BOOTSTRAP) e2e
	$(CONSOLE_BUILD)
	cd $(ROOT) && $(DEV_RUN) bash -c '$(E2E_RUN) $(E2E_ARGS)'

fuzz: ## Schemathesis, every check, FUZZ_EXAMPLES (50) cases per operation, against a throw-away local stack
	@$(BOOTSTRAP) fuzz
	cd $(ROOT) && FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(DEV_RUN) $(PYTHON) infra/local/fuzz.py

# The cold-start bench's binaries: built for this machine as `make build` builds the Lambda ones (position-dependent,
# see .cargo/config.toml; gcc, this machine's linker driver, takes `-no-pie` for the shared libraries too, so the
# flag goes to the linker itself); with --target, it applies to them and not to build scripts and proc-macros.
BENCH_TRIPLE := $(shell uname -m)-unknown-linux-gnu
BENCH_TRIPLE_VAR := $(shell echo $(BENCH_TRIPLE) | tr 'a-z-' 'A-Z_')

bench: ## Benchmarks against DynamoDB Local (numbers go in the issue notes; never timed tests)
	@$(BOOTSTRAP) test
	cd $(ROOT) && CARGO_TARGET_$(BENCH_TRIPLE_VAR)_RUSTFLAGS="-C link-arg=-Wl,--no-pie" \
		cargo build --release --target $(BENCH_TRIPLE) --workspace --bins
	cd $(ROOT) && $(PYTHON) infra/local/services.py run -- cargo bench -p integration-tests --no-fail-fast

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
