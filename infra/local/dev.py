#!/usr/bin/env python3
"""`make dev`: the whole API on one local base URL, http://127.0.0.1:${DEV_PORT:-3000}.

Steps, in order (Ctrl-C or SIGTERM stops everything started so far, in reverse order):
  1. infra/local/bootstrap.sh dev       install missing tools into .local/ (fast when present)
  2. DynamoDB Local                     -dbPath .local/dynamodb-data -sharedDb (data survives restarts)
     moto                               S3, Secrets Manager, SES (in memory)
  3. devstack setup                     cargo run -q -p integration-tests --bin devstack -- setup
                                        (table from the template, secrets, seed data, prints credentials)
  4. cargo lambda watch                 -A 127.0.0.1 -P ${WATCH_PORT:-9000}; rebuilds functions on save
  5. gateway.py                         API Gateway (HTTP API, payload 2.0) in front of the functions, routes
                                        from infra/template.yaml, invoking them through cargo lambda's invoke
                                        endpoint (/2015-03-31/functions/<binary>/invocations)
  6. schedules                          the template's Schedule/ScheduleV2 events (billing jobs) invoked on their
                                        schedule through the same endpoint; the outbox every OUTBOX_EVERY_SECONDS
  7. console                            `vite build --watch` (console/): the web console, served by the gateway at
                                        http://127.0.0.1:${DEV_PORT:-3000}/, rebuilt on every change (reload the
                                        page); DEV_CONSOLE=0 skips it (`dev.py run` never builds it: `make console`)

`dev.py run [--prebuilt] -- COMMAND ...` starts the same stack for one command and stops it afterwards (what
`make test` and `make fuzz` use): free ports, an in-memory DynamoDB, a fresh state directory, a generated admin
password; with --prebuilt the functions are the binaries of `cargo build --workspace --bins` (target/debug/<bin>,
run against `cargo lambda watch --only-lambda-apis`) instead of being compiled one by one by cargo lambda watch.
COMMAND gets BASE_URL, DEV_PORT, WATCH_PORT, MOTO_URL, ADMIN_EMAIL, ADMIN_PASSWORD and the AWS_* variables;
its exit status is dev.py's.

Environment:
  DEV_PORT (3000), WATCH_PORT (9000)  ports on 127.0.0.1
  DYNAMODB_PORT, MOTO_PORT            ports of the two services (default: a free port, 3001)
  ADMIN_EMAIL, ADMIN_PASSWORD         passed to devstack setup (the seeded admin)
  RUST_LOG                            log filter for the functions (default: info)
  WATCH_ARGS                          extra arguments for cargo lambda watch (e.g. "--release")
  WATCH_LOG                           cargo lambda watch's own log filter (default: warn)
  DEVSTACK_CMD                        replaces the devstack setup command (e.g. "true" to skip it)
  STRIPE_API_BASE, STRIPE_SECRET_KEY  a Stripe API of your own (e.g. your test-mode account behind the Stripe CLI);
                                      default: the local stand-in (infra/local/stripe_local.py), whose prices for
                                      the demo solution and whose webhook to this gateway are set up here
  STRIPE_WEBHOOK_SECRET               the webhook signing secret (default: generated once, kept in .local/dev-state,
                                      printed at start)
  GRACE_PERIOD_DAYS                   days a past-due subscription keeps its tier (default 7)
  PHONEPE_API_BASE                    a PhonePe of your own (e.g. the sandbox, with PHONEPE_CLIENT_ID/_SECRET);
                                      default: the stand-in (devstack phonepe) on PHONEPE_PORT (a free port)
  PHONEPE_WEBHOOK_USERNAME, _PASSWORD the callback credentials (default: generated once, kept in
                                      .local/dev-state, printed at start)
  SELLER_NAME, SELLER_ADDRESS, SELLER_GSTIN   the seller on tax invoices (default: a local demo seller)
  OUTBOX_EVERY_SECONDS                how often the outbox job (email) runs locally (default 5; the template says
                                      every 5 minutes); DEV_SCHEDULES=0 runs no schedule at all

Python 3 standard library (plus pyyaml from .local/venv to read the template's schedules).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import glob
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import services  # noqa: E402  (sibling module)

ROOT = services.ROOT
LOCAL = services.LOCAL
HOST = services.HOST
HERE = Path(__file__).resolve().parent
VENV_BIN = LOCAL / "venv" / "bin"
DB_PATH = LOCAL / "dynamodb-data"
LOG_DIR = LOCAL / "logs" / "dev"
TABLE_NAME = "monetization-local"
SIGNING_KEY_SECRET_ID = "monetization/local/signing-key"
STRIPE_SECRET_ID = "monetization/local/stripe"
WEBHOOK_SECRET_FILE = LOCAL / "dev-state" / "stripe-webhook-secret"
PHONEPE_SECRET_ID = "monetization/local/phonepe"
PHONEPE_CREDENTIALS_FILE = LOCAL / "dev-state" / "phonepe-webhook.json"
INVOICE_BUCKET = "monetization-local-invoices"
ASSET_BUCKET = "monetization-local-assets"
PARTNERS_SECRET_ID = "monetization/local/partners"
# The seller on local tax invoices (a Karnataka GSTIN with a valid check digit); override with SELLER_*.
SELLER_DEFAULTS = {"SELLER_NAME": "Local Marketplace Pvt Ltd", "SELLER_ADDRESS": "1 MG Road|Bengaluru 560001",
                   "SELLER_GSTIN": "29AAGCB7383J1Z4"}
DEFAULT_DEVSTACK = ["cargo", "run", "-q", "-p", "integration-tests", "--bin", "devstack", "--", "setup"]


class DevError(Exception):
    pass


# ---------------------------------------------------------------------------------------------------------------
# the template: function binaries and schedules
# ---------------------------------------------------------------------------------------------------------------

TEMPLATE = ROOT / "infra" / "template.yaml"


def load_template(path: Path = TEMPLATE) -> dict:
    """infra/template.yaml with CloudFormation tags tolerated (pyyaml from .local/venv when not importable)."""
    import importlib.util
    if importlib.util.find_spec("yaml") is None:
        for site in glob.glob(str(LOCAL / "venv" / "lib" / "python*" / "site-packages")):
            sys.path.append(site)
    sys.path.insert(0, str(HERE))
    os.environ.setdefault("GATEWAY_NO_REEXEC", "1")
    try:
        import gateway
    except SystemExit as e:
        raise DevError(f"cannot read {path.name}: {e}") from None
    import yaml
    return yaml.load(path.read_text(), Loader=gateway.CfnLoader)  # noqa: S506 (SafeLoader subclass)


def template_binaries(doc: dict) -> list[str]:
    """The binary of every AWS::Serverless::Function of the template."""
    out = []
    for res in (doc.get("Resources") or {}).values():
        if isinstance(res, dict) and res.get("Type") == "AWS::Serverless::Function":
            binary = ((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
            if isinstance(binary, str) and binary not in out:
                out.append(binary)
    return out


class Schedule:
    """One Schedule/ScheduleV2 event of a function: `rate(N unit)` or `cron(min hour dom month dow [year])`,
    in UTC, with its JSON Input."""

    def __init__(self, name: str, binary: str, expression: str, payload: str, every: float | None = None):
        self.name, self.binary, self.expression, self.payload = name, binary, expression, payload
        self.every = every
        self.cron: list[set[int] | None] | None = None
        m = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
        if every is None and m:
            self.every = int(m.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[m.group(2).rstrip("s")]
        elif every is None:
            m = re.fullmatch(r"cron\((.+)\)", expression.strip())
            if not m or len(m.group(1).split()) not in (5, 6):
                raise DevError(f"schedule {name}: cannot run {expression!r} locally")
            fields = m.group(1).split()
            ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (1, 7)]
            self.cron = [self._field(f, lo, hi) for f, (lo, hi) in zip(fields[:5], ranges)]

    @staticmethod
    def _field(text: str, lo: int, hi: int) -> set[int] | None:
        if text in ("*", "?"):
            return None
        values: set[int] = set()
        names = {n: i + 1 for i, n in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
        names.update({n: i + 1 for i, n in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG",
                                                      "SEP", "OCT", "NOV", "DEC"])} if hi == 12 else {})
        for part in text.split(","):
            step = 1
            if "/" in part:
                part, step_text = part.split("/", 1)
                step = int(step_text)
            if part in ("*", "?"):
                a, b = lo, hi
            elif "-" in part:
                a, b = (int(names.get(x.upper(), x)) for x in part.split("-", 1))
            else:
                a = b = int(names.get(part.upper(), part))
                if step > 1:
                    b = hi
            values.update(range(a, b + 1, step))
        return values

    def next_after(self, t: float) -> float:
        if self.every is not None:
            return t + self.every
        assert self.cron is not None
        minute = (int(t) // 60 + 1) * 60
        for _ in range(366 * 24 * 60):
            tm = time.gmtime(minute)
            dow = (tm.tm_wday + 1) % 7 + 1  # cron: 1 = Sunday
            checks = [(tm.tm_min, 0), (tm.tm_hour, 1), (tm.tm_mday, 2), (tm.tm_mon, 3), (dow, 4)]
            if all(self.cron[i] is None or v in self.cron[i] for v, i in checks):
                return float(minute)
            minute += 60
        return t + 86400.0

    def describe(self) -> str:
        return f"every {self.every:g}s" if self.every is not None else self.expression


def template_schedules(doc: dict, outbox_every: float | None) -> list[Schedule]:
    out = []
    for logical_id, res in (doc.get("Resources") or {}).items():
        if not isinstance(res, dict) or res.get("Type") != "AWS::Serverless::Function":
            continue
        binary = ((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        for name, ev in ((res.get("Properties") or {}).get("Events") or {}).items():
            if not isinstance(ev, dict) or ev.get("Type") not in ("Schedule", "ScheduleV2"):
                continue
            props = ev.get("Properties") or {}
            if props.get("State") == "DISABLED" or props.get("Enabled") is False:
                continue
            payload = props.get("Input") or "{}"
            if not isinstance(payload, str) or not isinstance(props.get("ScheduleExpression"), str):
                continue
            every = None
            with contextlib.suppress(ValueError, AttributeError):
                if json.loads(payload).get("job") == "outbox":
                    every = outbox_every
            out.append(Schedule(f"{logical_id}.{name}", binary, props["ScheduleExpression"], payload, every))
    return out


def invoke(watch_port: int, binary: str, payload: bytes, timeout: float = 900) -> tuple[int, bytes]:
    """POST to cargo lambda's Lambda invoke endpoint (what `cargo lambda invoke` does)."""
    req = urllib.request.Request(f"http://{HOST}:{watch_port}/2015-03-31/functions/{binary}/invocations",
                                 data=payload, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Scheduler:
    """Runs the template's schedules against the invoke endpoint; one log line per run."""

    def __init__(self, schedules: list[Schedule], watch_port: int):
        self.schedules, self.watch_port = schedules, watch_port
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for sched in self.schedules:
            t = threading.Thread(target=self._loop, args=(sched,), name=f"schedule {sched.name}", daemon=True)
            t.start()
            self.threads.append(t)

    def _loop(self, sched: Schedule) -> None:
        due = sched.next_after(time.time())
        while not self.stopping.wait(max(0.0, due - time.time())):
            started = time.monotonic()
            try:
                status, body = invoke(self.watch_port, sched.binary, sched.payload.encode())
                result = body.decode("utf-8", "replace").strip().replace("\n", " ")
            except OSError as e:
                status, result = 0, f"{type(e).__name__}: {e}"
            if not self.stopping.is_set():
                say(f"schedule {sched.name} {sched.payload} -> {sched.binary} {status or 'unreachable'} "
                    f"{(time.monotonic() - started) * 1000:.0f}ms {result[:160]}")
            due = sched.next_after(max(due, time.time() - 1))

    def stop(self) -> None:
        self.stopping.set()


def say(msg: str) -> None:
    print(f"dev: {msg}", file=sys.stderr, flush=True)


def env_port(name: str, default: int | None) -> int | None:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise DevError(f"{name}={raw!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise DevError(f"{name}={port} is out of range")
    return port


def who_listens(port: int) -> str:
    """Best effort: 'pid N (name)' of the process listening on port, from `ss`."""
    if not shutil.which("ss"):
        return ""
    try:
        out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=3).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    if 'users:(("' in out:
        name = out.split('users:(("', 1)[1].split('"', 1)[0]
        pid = out.split("pid=", 1)[1].split(",", 1)[0] if "pid=" in out else "?"
        return f" (held by {name}, pid {pid})"
    return ""


def check_ports(ports: dict[str, int | None]) -> None:
    used: dict[int, str] = {}
    for var, port in ports.items():
        if port is None:
            continue
        if port in used:
            raise DevError(f"{var} and {used[port]} are both {port}; pick different ports")
        used[port] = var
        if not services.port_is_free(port):
            alt = next(p for p in range(port + 1, 65536)
                       if p not in used and p not in ports.values() and services.port_is_free(p))
            raise DevError(
                f"port {port} ({var}) on {HOST} is already in use{who_listens(port)}.\n"
                f"     Is another `make dev` running? Stop it, or choose another port: {var}={alt} make dev")


def wait_for_tcp(port: int, proc: subprocess.Popen, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DevError(f"{name} exited with status {proc.returncode} during start-up")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    raise DevError(f"{name} did not listen on {HOST}:{port} within {timeout:.0f}s")


def function_env(base: dict[str, str], dev_port: int) -> dict[str, str]:
    env = dict(base)
    env.update({
        "TABLE_NAME": TABLE_NAME,
        "SIGNING_KEY_SECRET_ID": SIGNING_KEY_SECRET_ID,
        "JWT_ISSUER": f"http://{HOST}:{dev_port}",
        "DEV_STATE_DIR": str(LOCAL),
        "DEV_BASE_URL": f"http://{HOST}:{dev_port}",
        "RUST_LOG": os.environ.get("RUST_LOG") or "info",
        "STRIPE_SECRET_ID": STRIPE_SECRET_ID,
        "APP_BASE_URL": f"http://{HOST}:{dev_port}",
        "PHONEPE_SECRET_ID": PHONEPE_SECRET_ID,
        "INVOICE_BUCKET": INVOICE_BUCKET,
        "ASSET_BUCKET": ASSET_BUCKET,
        "PARTNERS_SECRET_ID": PARTNERS_SECRET_ID,
        "CATALOG_CACHE_SECONDS": "5",
        "SENDER_EMAIL": os.environ.get("SENDER_EMAIL") or "billing@marketplace.local",
    })
    for var, default in SELLER_DEFAULTS.items():
        env[var] = os.environ.get(var) or default
    # A Stripe of the developer's own wins over the local stand-in.
    for var in ("STRIPE_API_BASE", "STRIPE_SECRET_KEY", "GRACE_PERIOD_DAYS", "PHONEPE_API_BASE"):
        if os.environ.get(var):
            env[var] = os.environ[var]
    return env


def webhook_secret() -> str:
    """STRIPE_WEBHOOK_SECRET, else one generated once and kept in .local/dev-state."""
    if os.environ.get("STRIPE_WEBHOOK_SECRET"):
        return os.environ["STRIPE_WEBHOOK_SECRET"]
    if WEBHOOK_SECRET_FILE.exists():
        return WEBHOOK_SECRET_FILE.read_text().strip()
    secret = "whsec_" + secrets.token_hex(24)
    WEBHOOK_SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
    WEBHOOK_SECRET_FILE.write_text(secret)
    return secret


def phonepe_credentials() -> dict[str, str]:
    """PHONEPE_WEBHOOK_USERNAME/_PASSWORD, else a pair generated once and kept in .local/dev-state."""
    if os.environ.get("PHONEPE_WEBHOOK_USERNAME") and os.environ.get("PHONEPE_WEBHOOK_PASSWORD"):
        return {k: os.environ[k] for k in ("PHONEPE_WEBHOOK_USERNAME", "PHONEPE_WEBHOOK_PASSWORD")}
    if PHONEPE_CREDENTIALS_FILE.exists():
        return json.loads(PHONEPE_CREDENTIALS_FILE.read_text())
    creds = {"PHONEPE_WEBHOOK_USERNAME": "dev_hooks", "PHONEPE_WEBHOOK_PASSWORD": "pw" + secrets.token_hex(8)}
    PHONEPE_CREDENTIALS_FILE.parent.mkdir(parents=True, exist_ok=True)
    PHONEPE_CREDENTIALS_FILE.write_text(json.dumps(creds))
    return creds


def stripe_post(base: str, path: str, key: str, form: dict[str, str]) -> dict:
    req = urllib.request.Request(f"{base}{path}", data=urllib.parse.urlencode(form).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"{}")


# What the functions need; written to an --env-file for cargo lambda watch (no comma-splitting issues).
FUNCTION_VARS = (
    "TABLE_NAME", "SIGNING_KEY_SECRET_ID", "TOKEN_PUBLIC_KEYS", "JWT_ISSUER", "RUST_LOG", "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED", "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SESV2",
    "STRIPE_SECRET_ID", "STRIPE_API_BASE", "APP_BASE_URL", "GRACE_PERIOD_DAYS",
    "PHONEPE_SECRET_ID", "PHONEPE_API_BASE", "INVOICE_BUCKET", "SELLER_NAME", "SELLER_ADDRESS", "SELLER_GSTIN",
    "SENDER_EMAIL", "BILLING_REMINDER_DAYS", "ASSET_BUCKET", "PARTNERS_SECRET_ID", "CATALOG_CACHE_SECONDS",
    "STATEMENT_BUCKET",
)


def env_file_value(value: str) -> str:
    """Quotes a value for cargo lambda's --env-file (dotenv syntax; unquoted values may not hold ',' or ' ')."""
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n")
    return f'"{escaped}"'


class Dev:
    def __init__(self, run_mode: bool = False, prebuilt: bool = False) -> None:
        # `dev.py run`: free ports (never those of a `make dev` beside it), memory-only data, a fresh state.
        self.run_mode, self.prebuilt = run_mode, prebuilt
        self.dev_port = services.free_port() if run_mode else env_port("DEV_PORT", 3000)
        self.watch_port = services.free_port() if run_mode else env_port("WATCH_PORT", 9000)
        self.dynamodb_port = None if run_mode else env_port("DYNAMODB_PORT", None)
        self.moto_port = None if run_mode else env_port("MOTO_PORT", 3001)
        self.state_dir: tempfile.TemporaryDirectory | None = None
        self.admin = {"ADMIN_EMAIL": "admin@example.com", "ADMIN_PASSWORD": "pw-" + secrets.token_hex(12)}
        self.scheduler: Scheduler | None = None
        # The PhonePe stand-in runs unless PHONEPE_API_BASE names another PhonePe.
        self.phonepe_port = None if os.environ.get("PHONEPE_API_BASE") else (env_port("PHONEPE_PORT", None)
                                                                             or services.free_port())
        self.svc: services.Services | None = None
        self.procs: list[tuple[str, subprocess.Popen]] = []  # started after the services, in order
        self.lock_file = None

    # -- steps ---------------------------------------------------------------------------------------------------

    def lock(self) -> None:
        LOCAL.mkdir(parents=True, exist_ok=True)
        self.lock_file = open(LOCAL / "dev.lock", "a+")
        try:
            fcntl.flock(self.lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.lock_file.seek(0)
            pid = self.lock_file.read().strip() or "?"
            raise DevError(f"another `make dev` is running in this checkout (pid {pid}); stop it first") from None
        self.lock_file.seek(0)
        self.lock_file.truncate()
        self.lock_file.write(str(os.getpid()))
        self.lock_file.flush()

    def bootstrap(self) -> None:
        res = subprocess.run(["bash", str(HERE / "bootstrap.sh"), "dev"], cwd=ROOT)
        if res.returncode != 0:
            raise DevError("bootstrap failed (see above)")

    def start_services(self) -> None:
        t0 = time.monotonic()
        say("starting DynamoDB Local (" + ("in memory" if self.run_mode else ".local/dynamodb-data") + ") and moto ...")
        self.svc = services.Services(db_path=None if self.run_mode else DB_PATH, dynamodb_port=self.dynamodb_port,
                                     moto_port=self.moto_port, log_dir=LOG_DIR, bootstrap=False)
        try:
            self.svc.start()
        except services.ServiceError as e:
            raise DevError(str(e)) from None
        say(f"DynamoDB Local {self.svc.dynamodb.url}, moto {self.svc.moto.url} "
            f"({time.monotonic() - t0:.1f}s; logs in {LOG_DIR.relative_to(ROOT)}/)")

    def env(self) -> dict[str, str]:
        assert self.svc is not None
        env = function_env(self.svc.env(), self.dev_port)
        if self.state_dir is not None:
            env["DEV_STATE_DIR"] = self.state_dir.name
        # The public token keys devstack setup derived (in AWS: the TokenPublicKeys parameter).
        public_keys = Path(env["DEV_STATE_DIR"]) / "dev-state" / "token-public-keys.json"
        if public_keys.exists():
            env["TOKEN_PUBLIC_KEYS"] = public_keys.read_text()
        if self.phonepe_port:
            env["PHONEPE_API_BASE"] = f"http://{HOST}:{self.phonepe_port}"
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        return env

    def stripe(self) -> dict[str, str]:
        """The Stripe settings devstack stores in the Stripe secret; with the local stand-in, also the demo
        solution's prices there and a webhook from it to this gateway."""
        env = self.env()
        out = {"STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY", ""), "STRIPE_WEBHOOK_SECRET": webhook_secret()}
        if os.environ.get("STRIPE_API_BASE"):
            return out
        base, key = env["STRIPE_API_BASE"], env["STRIPE_SECRET_KEY"]
        for tier, amount in (("pro", 49900), ("enterprise", 199900)):
            price = stripe_post(base, "/v1/prices", key, {
                "product_data[name]": f"Demo Solution {tier}", "unit_amount": str(amount), "currency": "inr",
                "recurring[interval]": "month", "lookup_key": f"demo_{tier}_monthly", "transfer_lookup_key": "true"})
            out[f"STRIPE_PRICE_{tier.upper()}"] = price["id"]
        stripe_post(base, "/_config/webhooks/dev", key, {
            "url": f"http://{HOST}:{self.dev_port}/api/webhooks/stripe", "secret": out["STRIPE_WEBHOOK_SECRET"]})
        return out

    def build(self) -> None:
        """--prebuilt: every binary of the workspace, built once. DEV_BUILD_ARGS replaces the target selection;
        `make test` passes the targets of `cargo test` too (`--lib --bins --tests --examples`), so that the
        dependencies resolve with the same features as the test build and nothing but the binaries is compiled
        again (a plain `--bins` leaves the dev-dependencies' features out and rebuilds much of the graph)."""
        t0 = time.monotonic()
        cmd = ["cargo", "build", "--workspace", *shlex.split(os.environ.get("DEV_BUILD_ARGS") or "--bins")]
        say(f"{shlex.join(cmd)} ...")
        res = subprocess.run(cmd, cwd=ROOT)
        if res.returncode != 0:
            raise DevError(f"{shlex.join(cmd)} failed (see above)")
        say(f"built ({time.monotonic() - t0:.1f}s)")

    def devstack(self) -> list[str]:
        return [str(ROOT / "target" / "debug" / "devstack")] if self.prebuilt else DEFAULT_DEVSTACK[:-2]

    def setup(self) -> None:
        custom = os.environ.get("DEVSTACK_CMD")
        cmd = shlex.split(custom) if custom else (self.devstack() + ["--", "setup"] if not self.prebuilt
                                                  else self.devstack() + ["setup"])
        if not cmd:
            say("DEVSTACK_CMD is empty: skipping setup")
            return
        say(f"setup: {shlex.join(cmd)}" + ("" if custom or self.prebuilt else " (compiles the workspace when needed)"))
        env = {**self.env(), **self.stripe(), **phonepe_credentials()}
        if self.run_mode:
            env.update(self.admin)
        # Setup is idempotent; a freshly started DynamoDB Local (a cold JVM on a busy machine) can miss the SDK's
        # attempt timeouts on the first requests, so a failed setup is tried again, twice.
        for attempt in range(3):
            proc = services.spawn(cmd, env=env, cwd=ROOT, inherit_output=True)
            self.procs.append(("devstack setup", proc))
            rc = proc.wait()
            self.procs.remove(("devstack setup", proc))
            if rc == 0:
                return
            if attempt < 2:
                say(f"devstack setup failed with status {rc}; trying again")
                time.sleep(2)
        raise DevError(f"devstack setup failed with status {rc}")

    def start_phonepe(self) -> None:
        """The PhonePe stand-in (devstack phonepe): its payment pages complete the order, call the webhook
        through the gateway with the dev credentials and send the user back."""
        if not self.phonepe_port:
            return
        env = {**self.env(), **phonepe_credentials(),
               "PHONEPE_CALLBACK_URL": f"http://{HOST}:{self.dev_port}/api/payments/webhook"}
        cmd = (self.devstack() + ["phonepe"] if self.prebuilt else self.devstack() + ["--", "phonepe"]) + [
            "--port", str(self.phonepe_port)]
        proc = services.spawn(cmd, env=env, cwd=ROOT, inherit_output=True)
        self.procs.append(("phonepe stand-in", proc))
        wait_for_tcp(self.phonepe_port, proc, "phonepe stand-in", timeout=120)

    def start_watch(self) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        env = self.env()
        env_file = LOCAL / "dev-watch.env"
        env_file.write_text("".join(f"{k}={env_file_value(env[k])}\n" for k in FUNCTION_VARS if k in env))
        # The functions get the env file (and this env); they never need the seeded admin's credentials.
        for var in ("ADMIN_EMAIL", "ADMIN_PASSWORD"):
            env.pop(var, None)
        # cargo-lambda's own log filter; the functions' RUST_LOG comes from the env file.
        env["RUST_LOG"] = os.environ.get("WATCH_LOG", "warn")
        cmd = ["cargo", "lambda", "watch", "-A", HOST, "-P", str(self.watch_port), "--env-file", str(env_file),
               *shlex.split(os.environ.get("WATCH_ARGS", ""))]
        if self.prebuilt:
            cmd += ["--only-lambda-apis", "--ignore-changes"]
        say(f"starting cargo lambda watch on {HOST}:{self.watch_port} ...")
        proc = services.spawn(cmd, env=env, cwd=ROOT, inherit_output=True)
        self.procs.append(("cargo lambda watch", proc))
        wait_for_tcp(self.watch_port, proc, "cargo lambda watch", timeout=120)
        if self.prebuilt:
            self.start_functions()

    def start_functions(self) -> None:
        """--prebuilt: each function's binary from target/debug, polling the runtime API of cargo lambda watch
        --only-lambda-apis (`/.rt/<binary>/2018-06-01/runtime/...`) like the instances cargo lambda starts."""
        base = self.env()
        for var in ("ADMIN_EMAIL", "ADMIN_PASSWORD"):
            base.pop(var, None)
        for binary in template_binaries(load_template()):
            exe = ROOT / "target" / "debug" / binary
            if not exe.exists():
                raise DevError(f"{exe.relative_to(ROOT)} is missing: run cargo build --workspace --bins")
            env = {**base, "AWS_LAMBDA_RUNTIME_API": f"http://{HOST}:{self.watch_port}/.rt/{binary}",
                   "AWS_LAMBDA_FUNCTION_NAME": binary, "AWS_LAMBDA_FUNCTION_VERSION": "1",
                   "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "4096", "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{binary}",
                   "AWS_LAMBDA_LOG_STREAM_NAME": "local", "AWS_LAMBDA_FUNCTION_TIMEOUT": "900"}
            proc = services.spawn([str(exe)], env=env, cwd=ROOT, inherit_output=True)
            self.procs.append((f"function {binary}", proc))
        say(f"started the prebuilt functions against {HOST}:{self.watch_port}")

    def start_schedules(self) -> None:
        if os.environ.get("DEV_SCHEDULES", "1") == "0":
            say("DEV_SCHEDULES=0: no schedules")
            return
        try:
            outbox = float(os.environ.get("OUTBOX_EVERY_SECONDS") or 5)
        except ValueError:
            raise DevError("OUTBOX_EVERY_SECONDS must be a number of seconds") from None
        schedules = template_schedules(load_template(), outbox)
        self.scheduler = Scheduler(schedules, self.watch_port)
        self.scheduler.start()
        for sched in schedules:
            say(f"schedule {sched.name}: {sched.payload} to {sched.binary}, {sched.describe()} (UTC)")

    def start_gateway(self) -> None:
        cmd = [str(VENV_BIN / "python"), str(HERE / "gateway.py"), "--port", str(self.dev_port),
               "--upstream", f"http://{HOST}:{self.watch_port}"]
        assert self.svc is not None
        # The console uploads partner assets to S3 (moto here) from the browser: its CSP must let it connect there.
        env = {**self.env(), "CONSOLE_CONNECT_SRC": self.svc.moto.url}
        proc = services.spawn(cmd, env=env, cwd=ROOT, inherit_output=True)
        self.procs.append(("gateway", proc))
        wait_for_tcp(self.dev_port, proc, "gateway", timeout=30)

    def start_console(self) -> None:
        """The console's build, rebuilt on change; the gateway serves console/dist as it is at each request."""
        if os.environ.get("DEV_CONSOLE", "1") == "0":
            return
        vite = ROOT / "console" / "node_modules" / ".bin" / "vite"
        if not vite.exists():
            raise DevError("console/node_modules is missing: run infra/local/bootstrap.sh console")
        cmd = [str(vite), "build", "--watch", "--logLevel", "warn", "--clearScreen", "false"]
        proc = services.spawn(cmd, env={**os.environ}, cwd=ROOT / "console", inherit_output=True)
        self.procs.append(("console build", proc))

    def commands(self) -> dict[str, str]:
        """The commands the banner prints (a test runs each against the stack)."""
        assert self.svc is not None
        return {
            "jwks": f"curl -s http://{HOST}:{self.dev_port}/.well-known/jwks.json",
            "billing": f"cargo lambda invoke billing --invoke-address {HOST} --invoke-port {self.watch_port} "
                       "--data-file events/billing/billing-ok-daily.json",
            "mail": f"curl -s {self.svc.moto.url}/moto-api/data.json",
            "routes": "make routes",
        }

    def banner(self) -> None:
        assert self.svc is not None
        base = f"http://{HOST}:{self.dev_port}"
        lines = [
            "",
            f"  console        {base}/  (the web console, rebuilt on save; the admin's sign-in is printed above)",
            f"  API base URL   {base}",
            f"                 try: {self.commands()['jwks']}",
            f"  functions      cargo lambda watch on http://{HOST}:{self.watch_port} (rebuilds on save; "
            "a function's first call may wait for its build)",
            f"  DynamoDB Local {self.svc.dynamodb.url}  table {TABLE_NAME}, data in .local/dynamodb-data "
            "(make dev-reset wipes it)",
            f"  moto           {self.svc.moto.url}  (S3, Secrets Manager, SES; in memory)",
            f"  Stripe         {self.env().get('STRIPE_API_BASE')}  webhook -> {base}/api/webhooks/stripe, "
            f"secret {webhook_secret()}",
            f"  PhonePe        {self.env().get('PHONEPE_API_BASE')}  callbacks -> {base}/api/payments/webhook, "
            f"user {phonepe_credentials()['PHONEPE_WEBHOOK_USERNAME']} / {phonepe_credentials()['PHONEPE_WEBHOOK_PASSWORD']}",
            f"  invoices       s3://{INVOICE_BUCKET} (moto), GET {base}/api/invoices",
            f"  catalog        GET {base}/api/solutions (seeded), partner assets s3://{ASSET_BUCKET} (moto)",
            f"  billing run    {self.commands()['billing']}",
            "                 (or ...-monthly.json, ...-outbox.json; the schedules also run them, the outbox "
            f"every {os.environ.get('OUTBOX_EVERY_SECONDS') or 5}s)",
            f"  sent mail      {self.commands()['mail']}  (moto's SES: ses -> Message[])",
            f"  routes         {self.commands()['routes']}",
            "",
            "  Ctrl-C stops everything.",
            "",
        ]
        print("\n".join(lines), file=sys.stderr, flush=True)

    def wait(self) -> int:
        while True:
            for name, proc in self.procs:
                if proc.poll() is not None:
                    say(f"{name} exited with status {proc.returncode}; stopping the rest")
                    return 1
            assert self.svc is not None
            for s in (self.svc.dynamodb, self.svc.moto):
                if s.proc.poll() is not None:
                    say(f"{s.name} exited with status {s.proc.returncode}; stopping the rest\n"
                        f"{services.tail(s.log_path)}")
                    return 1
            time.sleep(0.5)

    def stop(self) -> bool:
        """Reverse start order: schedules, gateway, cargo lambda watch (and its functions), moto/DynamoDB Local.
        Returns whether anything had been started."""
        started = bool(self.procs) or self.svc is not None
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                say(f"stopping {name}")
            services.stop_process(proc, name, timeout=10)
        self.procs.clear()
        if self.svc is not None:
            say("stopping moto and DynamoDB Local")
            self.svc.stop()
            self.svc = None
        if self.state_dir is not None:
            self.state_dir.cleanup()
            self.state_dir = None
        return started

    def run_command(self, command: list[str]) -> int:
        """`dev.py run`: the stack, then the command with the stack's coordinates in its environment."""
        self.state_dir = tempfile.TemporaryDirectory(prefix="dev-run-")
        self.bootstrap()
        if self.prebuilt:
            self.build()
        self.start_services()
        self.setup()
        self.start_phonepe()
        self.start_watch()
        self.start_gateway()
        self.start_schedules()
        assert self.svc is not None
        env = {**self.env(), **self.admin, "BASE_URL": f"http://{HOST}:{self.dev_port}",
               "DEV_PORT": str(self.dev_port), "WATCH_PORT": str(self.watch_port), "MOTO_URL": self.svc.moto.url,
               "DEV_COMMANDS": json.dumps(self.commands())}
        say(f"stack up: {env['BASE_URL']} (invoke endpoint {HOST}:{self.watch_port}); running {shlex.join(command)}")
        proc = subprocess.Popen(command, env=env, cwd=ROOT)
        try:
            while proc.poll() is None:
                for name, p in self.procs:
                    if p.poll() is not None:
                        say(f"{name} exited with status {p.returncode} while {command[0]} ran")
                        services.stop_process(proc, command[0])
                        return 1
                time.sleep(0.5)
        finally:
            if proc.poll() is None:
                services.stop_process(proc, command[0])
        return proc.returncode

    def run(self) -> int:
        self.lock()
        check_ports({"DEV_PORT": self.dev_port, "WATCH_PORT": self.watch_port,
                     "DYNAMODB_PORT": self.dynamodb_port, "MOTO_PORT": self.moto_port})
        self.bootstrap()
        self.start_services()
        self.setup()
        self.start_phonepe()
        # Ports are checked again: setup can take minutes, and something may have taken them meanwhile.
        check_ports({"DEV_PORT": self.dev_port, "WATCH_PORT": self.watch_port})
        self.start_watch()
        self.start_gateway()
        self.start_schedules()
        self.start_console()
        self.banner()
        return self.wait()


def main() -> int:
    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    parser = argparse.ArgumentParser(description="make dev: the local stack (see the module docstring)")
    sub = parser.add_subparsers(dest="cmd")
    run = sub.add_parser("run", help="start the stack, run COMMAND against it, stop it")
    run.add_argument("--prebuilt", action="store_true", help="run target/debug binaries (cargo build --workspace "
                     "--bins) instead of letting cargo lambda watch compile each function")
    run.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = [c for c in getattr(args, "command", None) or []]
    if command[:1] == ["--"]:
        command = command[1:]
    if args.cmd == "run" and not command:
        parser.error("dev.py run needs a command: dev.py run [--prebuilt] -- COMMAND ...")
    dev: Dev | None = None
    rc = 0
    try:
        if args.cmd == "run":
            dev = Dev(run_mode=True, prebuilt=args.prebuilt)
            rc = dev.run_command(command)
        else:
            dev = Dev()
            rc = dev.run()
    except DevError as e:
        say(f"error: {e}")
        rc = 1
    except KeyboardInterrupt:
        # Ctrl-C / SIGTERM is how `make dev` is meant to end: a clean stop exits 0 (no "make: *** Error 130").
        print("", file=sys.stderr)
        rc = 130 if args.cmd == "run" else 0
    finally:
        # Finish the shutdown even if Ctrl-C is pressed again; every stop is bounded in time.
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        if dev is not None:
            with contextlib.suppress(Exception):
                if dev.stop():
                    say("stopped")
    return rc


if __name__ == "__main__":
    sys.exit(main())
