#!/usr/bin/env python3
"""`make fuzz`: schemathesis (every check) against the local stack, through the gateway, as a signed-in caller.

    python3 infra/local/dev.py run --prebuilt -- python3 infra/local/fuzz.py      (what `make fuzz` does)
    BASE_URL=http://127.0.0.1:3000 python3 infra/local/fuzz.py                    (against a running `make dev`)

Credentials (so authenticated operations are exercised too, not only their 401s), one per security scheme of
infra/openapi.yaml (infra/local/schemathesis.toml hands each operation the one it documents):
  sessionToken    FUZZ_AS=user (default): a freshly registered user, its address verified through the mail
                  in moto (MOTO_URL); FUZZ_AS=admin: the seeded admin
                  (ADMIN_EMAIL / ADMIN_PASSWORD, set by `dev.py run`; with `make dev`, the ones it printed);
                  FUZZ_TOKEN=<jwt>: this token
  solutionToken   a token of the demo solution generated with that session (scopes usage:track, usage:read)
  partnerApiKey   an API key of the seeded demo partner (from the devstack state in DEV_STATE_DIR), when known
Budget: FUZZ_EXAMPLES test cases per operation and phase (default 50), FUZZ_SEED (default: a fixed seed, so
a failure reproduces), FUZZ_WORKERS (default 1: with 2, schemathesis 4.32.5 sometimes crashes while building
strategies concurrently). Reports (JUnit, NDJSON) go to .local/fuzz/.

Passes when schemathesis reports no failure at all: no server error, no response that violates its schema,
no schema-valid request refused, and so on. Prints `fuzz: N passed, M failed` (operations).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ST = ROOT / ".local" / "schemathesis-venv" / "bin" / "st"
REPORTS = ROOT / ".local" / "fuzz"


def post(base: str, path: str, body: dict) -> dict:
    """POST JSON; a 503 is retried after its Retry-After (the API's contract), a few times."""
    for attempt in range(6):
        req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            detail = e.read()[:300]
            if e.code != 503 or attempt == 5:
                sys.exit(f"fuzz: POST {path} answered {e.code}: {detail!r}")
            time.sleep(min(float(e.headers.get("Retry-After") or 1), 5))
    raise AssertionError("unreachable")


def token(base: str) -> str:
    if os.environ.get("FUZZ_TOKEN"):
        return os.environ["FUZZ_TOKEN"]
    who = os.environ.get("FUZZ_AS", "user")
    if who == "admin":
        email, password = os.environ.get("ADMIN_EMAIL"), os.environ.get("ADMIN_PASSWORD")
        if not email or not password:
            sys.exit("fuzz: FUZZ_AS=admin needs ADMIN_EMAIL and ADMIN_PASSWORD")
        return post(base, "/api/auth/login", {"email": email, "password": password})["access_token"]
    if who != "user":
        sys.exit(f"fuzz: FUZZ_AS must be user or admin, not {who!r}")
    email = f"fuzz+{os.getpid()}-{os.urandom(4).hex()}@example.com"
    access = post(base, "/api/auth/register", {"email": email, "password": "fuzzing password 1", "name": "Fuzz"})[
        "access_token"]
    verify_email(base, email)
    return access


def verify_email(base: str, email: str) -> None:
    """Follows the verification link mailed to `email` (moto's SES at MOTO_URL, delivered by the local outbox
    schedule), so the operations that need a verified address (subscriptions, partner applications, reviews)
    are exercised past their 403."""
    moto = os.environ.get("MOTO_URL")
    if not moto:
        print("fuzz: MOTO_URL is not set: the fuzz user stays unverified", flush=True)
        return
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{moto}/moto-api/data.json", timeout=30) as resp:
            doc = json.loads(resp.read())
        sent = [m for svc in ("sesv2", "ses") for m in (doc.get(svc) or {}).get("Message", [])
                if email in json.dumps(m.get("destinations"))]
        found = [re.search(r"verify-email\?token=([A-Za-z0-9_-]+)", str(m.get("body"))) for m in sent]
        token = next((f.group(1) for f in found if f), None)
        if token:
            post(base, "/api/auth/verify-email", {"token": token})
            print(f"fuzz: {email} verified", flush=True)
            return
        time.sleep(1)
    print(f"fuzz: no verification mail for {email} within 60 s: the fuzz user stays unverified", flush=True)


def get(base: str, path: str, bearer: str) -> dict:
    req = urllib.request.Request(base + path, headers={"authorization": f"Bearer {bearer}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def authed_post(base: str, path: str, bearer: str, body: dict) -> dict:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json", "authorization": f"Bearer {bearer}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def partner_api_key(base: str) -> str:
    """An API key of the seeded demo partner, or "" (then operations get their other credentials)."""
    state = Path(os.environ.get("DEV_STATE_DIR") or ROOT / ".local") / "dev-state" / "state.json"
    try:
        doc = json.loads(state.read_text())
        session = post(base, "/api/auth/login", {"email": doc["partner_email"], "password": doc["partner_password"]})
        created = authed_post(base, f"/api/partners/{doc['partner_id']}/api-keys", session["access_token"],
                              {"name": f"fuzz-{os.getpid()}"})
        return created["key"]
    except urllib.error.HTTPError as e:
        print(f"fuzz: no partner API key ({e.code}: {e.read()[:300]!r}); partnerApiKey operations use the other "
              "credentials", flush=True)
        return ""
    except (OSError, KeyError, ValueError, urllib.error.URLError, SystemExit) as e:
        print(f"fuzz: no partner API key ({type(e).__name__}: {e}); partnerApiKey operations use the other "
              "credentials", flush=True)
        return ""


def main() -> int:
    base = os.environ.get("BASE_URL")
    if not base:
        sys.exit("fuzz: BASE_URL is not set (run it through `python3 infra/local/dev.py run --prebuilt --`)")
    if not ST.exists():
        sys.exit("fuzz: schemathesis is missing: infra/local/bootstrap.sh schemathesis")
    REPORTS.mkdir(parents=True, exist_ok=True)
    bearer = token(base)
    solution = authed_post(base, "/api/generate-token", bearer,
                           {"solution_id": os.environ.get("FUZZ_SOLUTION_ID", "sol_0000000000000000000000demo")})
    env = {**os.environ, "FUZZ_SESSION_TOKEN": bearer, "FUZZ_SOLUTION_TOKEN": solution["token"],
           "FUZZ_API_KEY": partner_api_key(base), "SCHEMATHESIS_HOOKS": "fuzz_hooks",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "infra" / "local"), os.environ.get("PYTHONPATH")]))}
    junit = REPORTS / "junit.xml"
    junit.unlink(missing_ok=True)
    cmd = [str(ST), "--config-file", str(ROOT / "infra" / "local" / "schemathesis.toml"),
           "run", str(ROOT / "infra" / "openapi.yaml"), "--url", base, "--checks", "all",
           # API Gateway answers a method without a route with 404, never 405 (see schemathesis.toml)
           "--exclude-checks", "unsupported_method",
           "--max-examples", os.environ.get("FUZZ_EXAMPLES", "50"), "--seed", os.environ.get("FUZZ_SEED", "1"),
           "--workers", os.environ.get("FUZZ_WORKERS", "1"), "--no-color",
           "--report", "junit,ndjson", "--report-dir", str(REPORTS), "--report-junit-path", str(junit),
           "--suppress-health-check", "all"]
    print("fuzz: " + " ".join(cmd), flush=True)
    res = subprocess.run(cmd, cwd=ROOT, env=env)
    passed = failed = 0
    if junit.exists():
        text = junit.read_text()
        m = re.search(r"<testsuite\b[^>]*>", text)
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', m.group(0))) if m else {}
        if attrs:
            failed = int(attrs.get("failures", 0)) + int(attrs.get("errors", 0))
            passed = int(attrs.get("tests", 0)) - failed - int(attrs.get("skipped", 0))
    if res.returncode != 0 and failed == 0:
        failed = 1
    print(f"fuzz: {passed} passed, {failed} failed")
    return res.returncode


if __name__ == "__main__":
    sys.exit(main())
