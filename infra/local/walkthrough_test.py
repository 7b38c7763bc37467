#!/usr/bin/env python3
"""The README's walkthroughs and `make dev`'s printed commands, run against a live local stack.

    python3 infra/local/dev.py run --prebuilt -- python3 infra/local/walkthrough_test.py

(`make test` runs it so; `dev.py run` sets BASE_URL, WATCH_PORT, MOTO_URL, ADMIN_EMAIL, ADMIN_PASSWORD and
DEV_COMMANDS.) What it runs, so that documentation cannot drift from the code:

1. every ```bash block of README.md, in order, as one bash script (a later block continues the shell of the
   earlier ones, as a reader's terminal does), verbatim except for three substitutions: the documented base URL
   http://127.0.0.1:3000 becomes BASE_URL, moto's http://127.0.0.1:3001 becomes MOTO_URL, and
   `<printed by make dev>` becomes the admin's password. ```sh blocks
   are not run (make targets, deployment). Every curl is recorded (its status goes to stderr with
   `-w '%{stderr}...'` unless the command has its own -w); the script fails on a non-zero exit, on any 5xx, and
   on any 4xx other than the 401s the walkthrough demonstrates (404 from an unknown route, 400 from a request
   shape that changed, ... are drift);
2. every inline `cargo lambda invoke ...` command of README.md (with $WATCH_PORT), which must exit 0 and print
   the function's JSON answer;
3. every command `make dev`'s banner prints (DEV_COMMANDS): each must exit 0 with the expected output;
4. a few requests through the gateway that must be answered as API Gateway and the handlers answer them:
   non-UTF-8 and binary bodies (400 problem+json from the handler), unknown methods and routes, OPTIONS (404
   `{"message":"Not Found"}`).

Prints `walkthrough: N passed, M failed` and exits non-zero when anything failed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOC_BASE = "http://127.0.0.1:3000"
DOC_MOTO = "http://127.0.0.1:3001"  # MOTO_PORT's default in make dev
STATUS_MARK = "@@walkthrough-status"
ALLOWED_4XX = {401}  # the walkthrough shows a reused refresh token and a revoked token being refused

CURL_WRAPPER = r'''
curl() {
  local a
  for a in "$@"; do
    case "$a" in -w|--write-out|-w*) command curl "$@"; return;; esac
  done
  command curl -w '%{stderr}''' + STATUS_MARK + r''' %{http_code} %{method} %{url_effective}\n' "$@"
}
set -e -o pipefail
'''


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)


def inline_invokes(text: str) -> list[str]:
    found = []
    for span in re.findall(r"`(cargo lambda invoke [^`]+)`", text):
        found.append(" ".join(span.split()))
    return found


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, ok: bool, what: str, detail: str = "") -> None:
        if ok:
            self.passed += 1
            print(f"  ok    {what}", flush=True)
        else:
            self.failed.append(what)
            print(f"  FAIL  {what}\n{detail}", flush=True)


def run(cmd: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def indent(text: str, n: int = 4000) -> str:
    text = text if len(text) <= n else "..." + text[-n:]
    return "\n".join("        " + line for line in text.splitlines())


def main() -> int:
    env = dict(os.environ)
    base = env.get("BASE_URL")
    if not base:
        sys.exit("walkthrough_test: BASE_URL is not set; run it through `python3 infra/local/dev.py run --prebuilt --`")
    text = README.read_text()
    checks = Checks()

    # 1. The ```bash walkthroughs, as one shell session.
    blocks = bash_blocks(text)
    checks.check(len(blocks) >= 2, f"README.md has walkthrough blocks ({len(blocks)} ```bash blocks)")
    script = "\n".join(blocks)
    script = (script.replace(DOC_BASE, base).replace(DOC_MOTO, env["MOTO_URL"])
              .replace("<printed by make dev>", env["ADMIN_PASSWORD"]))
    print(f"walkthrough: running {len(blocks)} README blocks ({len(script.splitlines())} lines) against {base}",
          flush=True)
    res = run(CURL_WRAPPER + script, env)
    statuses = []
    stderr_rest = []
    for line in res.stderr.splitlines():
        if line.startswith(STATUS_MARK + " "):
            _, code, method, url = line.split(" ", 3)
            statuses.append((int(code), method, url))
        else:
            stderr_rest.append(line)
    checks.check(res.returncode == 0, f"README walkthrough exits 0 (exit {res.returncode})",
                 indent(res.stdout) + "\n" + indent("\n".join(stderr_rest)))
    checks.check(len(statuses) >= 20, f"README walkthrough made its requests ({len(statuses)} recorded)")
    for code, method, url in statuses:
        ok = 200 <= code < 400 or code in ALLOWED_4XX
        checks.check(ok, f"{method} {url.replace(base, '')} -> {code}",
                     indent(res.stdout[-3000:]) if not ok else "")

    # 2. Inline `cargo lambda invoke ...` commands of the README.
    invokes = inline_invokes(text)
    checks.check(len(invokes) >= 1, f"README.md documents cargo lambda invoke ({len(invokes)} commands)")
    for cmd in invokes:
        res = run(cmd, env)
        ok = res.returncode == 0 and res.stdout.strip().startswith("{")
        checks.check(ok, f"README: {cmd}", indent(res.stdout + res.stderr))

    # 3. What `make dev` prints.
    commands = json.loads(env.get("DEV_COMMANDS") or "{}")
    checks.check(bool(commands), f"make dev's banner commands are known ({', '.join(commands)})")
    expect = {
        "jwks": lambda out: "keys" in json.loads(out),
        "billing": lambda out: isinstance(json.loads(out), dict),
        "mail": lambda out: isinstance(json.loads(out), dict),
        "routes": lambda out: re.search(r"^\d+ routes$", out, flags=re.M) is not None,
    }
    for name, cmd in commands.items():
        res = run(cmd, env)
        try:
            ok = res.returncode == 0 and expect.get(name, lambda _out: True)(res.stdout)
        except ValueError:
            ok = False
        checks.check(ok, f"make dev prints: {cmd}", indent(res.stdout + res.stderr))

    # 4. The local chain answers like API Gateway and the handlers (what fuzzing the old chain broke: a non-UTF-8
    #    body was a 500 from cargo lambda's function-URL emulation, an unknown method a 501 HTML page).
    def request(method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.headers.get("content-type", ""), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("content-type", ""), e.read()

    for method, path, body, ctype, extra, expect in [
        ("POST", "/api/auth/register", b'{"email": "\xff\xfe"}', "application/json", {}, 400),
        ("POST", "/api/track-usage", b"\x89PNG\r\n\x1a\n\x00\xff", "image/png",
         {"x-anonymous-id": "visitor-binary-body"}, 400),
        ("POST", "/api/partners/apply", bytes(range(256)), "application/octet-stream", {}, 401),
    ]:
        status, got_type, data = request(method, path, body, {"content-type": ctype, **extra})
        checks.check(status == expect and got_type == "application/problem+json",
                     f"{method} {path} with a {ctype} non-UTF-8 body -> {status} {got_type} (expected {expect})",
                     indent(data.decode("utf-8", "replace")))
    for method, path in [("PROPFIND", "/api/auth/login"), ("OPTIONS", "/api/auth/login"), ("GET", "/api/auth/login"),
                         ("GET", "/api/no-such-route")]:
        status, got_type, data = request(method, path)
        checks.check(status == 404 and got_type == "application/json" and json.loads(data or b"{}") ==
                     {"message": "Not Found"}, f"{method} {path} -> {status} {data[:60]!r} (API Gateway: 404 Not Found)")

    print(f"walkthrough: {checks.passed} passed, {len(checks.failed)} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
