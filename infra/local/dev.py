#!/usr/bin/env python3
"""`make dev`: the whole API on one local base URL, http://127.0.0.1:${DEV_PORT:-3000}.

Steps, in order (Ctrl-C or SIGTERM stops everything started so far, in reverse order):
  1. infra/local/bootstrap.sh dev       install missing tools into .local/ (fast when present)
  2. DynamoDB Local                     -dbPath .local/dynamodb-data -sharedDb (data survives restarts)
     moto                               S3, Secrets Manager, SES (in memory)
  3. devstack setup                     cargo run -q -p integration-tests --bin devstack -- setup
                                        (table from the template, secrets, seed data, prints credentials)
  4. cargo lambda watch                 -A 127.0.0.1 -P ${WATCH_PORT:-9000}; rebuilds functions on save
  5. gateway.py                         routes by method + path (from infra/template.yaml) to the functions

Environment:
  DEV_PORT (3000), WATCH_PORT (9000)  ports on 127.0.0.1
  DYNAMODB_PORT, MOTO_PORT            fixed ports for the two services (default: free ports)
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

Python 3 standard library only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
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
    "TABLE_NAME", "SIGNING_KEY_SECRET_ID", "JWT_ISSUER", "RUST_LOG", "AWS_REGION", "AWS_DEFAULT_REGION",
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
    def __init__(self) -> None:
        self.dev_port = env_port("DEV_PORT", 3000)
        self.watch_port = env_port("WATCH_PORT", 9000)
        self.dynamodb_port = env_port("DYNAMODB_PORT", None)
        self.moto_port = env_port("MOTO_PORT", None)
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
        say("starting DynamoDB Local (.local/dynamodb-data) and moto ...")
        self.svc = services.Services(db_path=DB_PATH, dynamodb_port=self.dynamodb_port, moto_port=self.moto_port,
                                     log_dir=LOG_DIR, bootstrap=False)
        try:
            self.svc.start()
        except services.ServiceError as e:
            raise DevError(str(e)) from None
        say(f"DynamoDB Local {self.svc.dynamodb.url}, moto {self.svc.moto.url} "
            f"({time.monotonic() - t0:.1f}s; logs in {LOG_DIR.relative_to(ROOT)}/)")

    def env(self) -> dict[str, str]:
        assert self.svc is not None
        env = function_env(self.svc.env(), self.dev_port)
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

    def setup(self) -> None:
        custom = os.environ.get("DEVSTACK_CMD")
        cmd = shlex.split(custom) if custom else DEFAULT_DEVSTACK
        if not cmd:
            say("DEVSTACK_CMD is empty: skipping setup")
            return
        say(f"setup: {shlex.join(cmd)}" + ("" if custom else " (compiles the workspace when needed)"))
        env = {**self.env(), **self.stripe(), **phonepe_credentials()}
        proc = services.spawn(cmd, env=env, cwd=ROOT, inherit_output=True)
        self.procs.append(("devstack setup", proc))
        rc = proc.wait()
        self.procs.remove(("devstack setup", proc))
        if rc != 0:
            raise DevError(f"devstack setup failed with status {rc}")

    def start_phonepe(self) -> None:
        """The PhonePe stand-in (devstack phonepe): its payment pages complete the order, call the webhook
        through the gateway with the dev credentials and send the user back."""
        if not self.phonepe_port:
            return
        env = {**self.env(), **phonepe_credentials(),
               "PHONEPE_CALLBACK_URL": f"http://{HOST}:{self.dev_port}/api/payments/webhook"}
        cmd = ["cargo", "run", "-q", "-p", "integration-tests", "--bin", "devstack", "--", "phonepe",
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
        say(f"starting cargo lambda watch on {HOST}:{self.watch_port} ...")
        proc = services.spawn(cmd, env=env, cwd=ROOT, inherit_output=True)
        self.procs.append(("cargo lambda watch", proc))
        wait_for_tcp(self.watch_port, proc, "cargo lambda watch", timeout=120)

    def start_gateway(self) -> None:
        cmd = [str(VENV_BIN / "python"), str(HERE / "gateway.py"), "--port", str(self.dev_port),
               "--upstream", f"http://{HOST}:{self.watch_port}"]
        proc = services.spawn(cmd, env=self.env(), cwd=ROOT, inherit_output=True)
        self.procs.append(("gateway", proc))
        wait_for_tcp(self.dev_port, proc, "gateway", timeout=30)

    def banner(self) -> None:
        assert self.svc is not None
        base = f"http://{HOST}:{self.dev_port}"
        lines = [
            "",
            f"  API base URL   {base}",
            f"                 try: curl -s {base}/.well-known/jwks.json",
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
            f"  billing run    cargo lambda invoke billing -a {HOST} -P {self.watch_port} "
            "--data-file events/billing/billing-ok-daily.json (or ...-outbox.json: emails to moto's SES)",
            f"  routes         make routes",
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
        """Reverse start order: gateway, cargo lambda watch (and its functions), moto/DynamoDB Local.
        Returns whether anything had been started."""
        started = bool(self.procs) or self.svc is not None
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                say(f"stopping {name}")
            services.stop_process(proc, name, timeout=10)
        self.procs.clear()
        if self.svc is not None:
            say("stopping moto and DynamoDB Local")
            self.svc.stop()
            self.svc = None
        return started

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
        self.banner()
        return self.wait()


def main() -> int:
    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    dev: Dev | None = None
    rc = 0
    try:
        dev = Dev()
        rc = dev.run()
    except DevError as e:
        say(f"error: {e}")
        rc = 1
    except KeyboardInterrupt:
        # Ctrl-C / SIGTERM is how `make dev` is meant to end: a clean stop exits 0 (no "make: *** Error 130").
        print("", file=sys.stderr)
        rc = 0
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
