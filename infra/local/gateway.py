#!/usr/bin/env python3
"""The single local base URL: routes each request to the Lambda function that serves it.

Reads the routes from infra/template.yaml (every AWS::Serverless::Function's `Events` of `Type: HttpApi`, with
`Properties.Path` / `Properties.Method`; the binary is the function's `Metadata.BuildProperties.Binary`), listens on
http://127.0.0.1:${DEV_PORT:-3000} and proxies each request to `cargo lambda watch`:

    http://127.0.0.1:${WATCH_PORT:-9000}/lambda-url/<binary><original path>?<original query>

Method, query string, headers (Authorization included) and the raw body bytes go through unchanged; the status,
headers and body come back as they are. Routing follows API Gateway HTTP APIs: an exact path beats one with
`{param}` segments, a `{proxy+}` greedy segment matches last, `ANY` matches every method, and an event without a
Path/Method is the `$default` route. No route for the path: 404 `route_not_found`; a route for the path but not the
method: 405 `method_not_allowed` (with `Allow`). Both as application/problem+json.

The template is re-read when it changes. One log line per request (method, path without the query string,
function, status, milliseconds); never headers or bodies.

    .local/venv/bin/python infra/local/gateway.py [--print-routes] [--port N] [--upstream URL] [--template FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".local" / "venv" / "bin" / "python"

try:
    import yaml
except ImportError:  # started with a python that lacks pyyaml: re-run with the project venv's
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != VENV_PYTHON.parents[1].resolve() \
            and not os.environ.get("GATEWAY_NO_REEXEC"):
        os.environ["GATEWAY_NO_REEXEC"] = "1"
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])
    sys.exit("gateway: pyyaml is missing: run infra/local/bootstrap.sh venv, then use .local/venv/bin/python")

HOST = "127.0.0.1"
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "proxy-connection",
}
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


# ---------------------------------------------------------------------------------------------------------------
# template
# ---------------------------------------------------------------------------------------------------------------


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short-form tags into their long form: !Ref X -> {"Ref": X},
    !Sub s -> {"Fn::Sub": s}, !GetAtt a.b -> {"Fn::GetAtt": ["a", "b"]}, and so on for any other tag."""


def _cfn_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref" or tag_suffix == "Condition":
        return {tag_suffix: value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


@dataclass
class Route:
    method: str  # upper case; "ANY" matches every method
    path: str  # as declared, e.g. /api/usage/{customer_id}; "$default" for the catch-all
    function: str  # logical id of the AWS::Serverless::Function
    binary: str  # cargo-lambda binary name
    event: str  # event name inside the function
    regex: re.Pattern | None = field(default=None, repr=False)
    rank: tuple = field(default=(), repr=False)

    @property
    def is_default(self) -> bool:
        return self.path == "$default"


_SEGMENT = re.compile(r"^\{([A-Za-z0-9_.-]+)(\+?)\}$")


def _compile(path: str) -> tuple[re.Pattern, tuple]:
    """Regex for a route path plus a sort rank: more specific routes sort first."""
    segments = path.strip("/").split("/") if path.strip("/") else []
    parts, shape = [], []
    greedy = False
    for i, seg in enumerate(segments):
        m = _SEGMENT.match(seg)
        if m and m.group(2):
            if i != len(segments) - 1:
                raise ValueError(f"greedy {seg} must be the last segment of {path}")
            parts.append("/.+")
            greedy = True
        elif m:
            parts.append("/[^/]+")
            shape.append(0)
        else:
            parts.append("/" + re.escape(seg))
            shape.append(1)
    regex = re.compile("^" + ("".join(parts) or "/") + "$")
    # Non-greedy before greedy; then literal segments first, left to right; then longer before shorter.
    rank = (greedy, tuple(-x for x in shape), -len(segments))
    return regex, rank


class TemplateError(Exception):
    pass


def load_routes(template: Path) -> tuple[list[Route], list[str]]:
    """Routes from the template, most specific first, plus warnings about events that were skipped."""
    try:
        doc = yaml.load(template.read_text(), Loader=CfnLoader)  # noqa: S506 (SafeLoader subclass)
    except FileNotFoundError:
        raise TemplateError(f"{template} not found") from None
    except yaml.YAMLError as e:
        raise TemplateError(f"{template}: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("Resources") or {}, dict):
        raise TemplateError(f"{template}: not a CloudFormation template (no Resources mapping)")
    resources = doc.get("Resources") or {}
    routes: list[Route] = []
    warnings: list[str] = []
    seen: dict[tuple[str, str], Route] = {}
    for logical_id, res in resources.items():
        if not isinstance(res, dict) or res.get("Type") != "AWS::Serverless::Function":
            continue
        events = (res.get("Properties") or {}).get("Events") or {}
        if not isinstance(events, dict):
            continue
        http_events = {n: e for n, e in events.items() if isinstance(e, dict) and e.get("Type") == "HttpApi"}
        if not http_events:
            continue
        binary = ((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        if not isinstance(binary, str) or not binary:
            warnings.append(f"{logical_id}: no Metadata.BuildProperties.Binary; its HttpApi events are skipped")
            continue
        for name, ev in http_events.items():
            props = ev.get("Properties") or {}
            path, method = props.get("Path", "$default"), props.get("Method", "ANY")
            if not isinstance(path, str) or not isinstance(method, str):
                warnings.append(f"{logical_id}.{name}: Path/Method is not a plain string; skipped")
                continue
            method = method.upper()
            if method in ("X-AMAZON-APIGATEWAY-ANY-METHOD", "*"):
                method = "ANY"
            if path != "$default" and not path.startswith("/"):
                warnings.append(f"{logical_id}.{name}: path {path!r} does not start with '/'; skipped")
                continue
            key = (method, path)
            if key in seen:
                other = seen[key]
                warnings.append(f"{logical_id}.{name}: {method} {path} is already routed to "
                                f"{other.function}.{other.event}; skipped")
                continue
            route = Route(method, path, logical_id, binary, name)
            if not route.is_default:
                try:
                    route.regex, route.rank = _compile(path)
                except ValueError as e:
                    warnings.append(f"{logical_id}.{name}: {e}; skipped")
                    continue
            seen[key] = route
            routes.append(route)
    routes.sort(key=lambda r: (r.is_default, r.rank, r.method == "ANY", r.path, r.method))
    return routes, warnings


@dataclass
class Match:
    route: Route | None
    allowed: list[str]  # methods routed for this path when route is None (405); empty means 404


def match(routes: list[Route], method: str, path: str) -> Match:
    method = method.upper()
    allowed: list[str] = []
    for r in routes:
        if r.is_default:
            continue
        if r.regex.match(path):
            if r.method == method or r.method == "ANY":
                return Match(r, [])
            if r.method not in allowed:
                allowed.append(r.method)
    for r in routes:  # $default catches everything the explicit routes did not
        if r.is_default and (r.method == method or r.method == "ANY"):
            return Match(r, [])
    return Match(None, allowed)


class RouteTable:
    """Routes of a template file, reloaded when its mtime changes (the last good table survives a bad edit)."""

    def __init__(self, template: Path):
        self.template = template
        self.lock = threading.Lock()
        self.mtime: float | None = None
        self.routes: list[Route] = []
        self.refresh(initial=True)

    def refresh(self, initial: bool = False) -> list[Route]:
        try:
            mtime = self.template.stat().st_mtime
        except FileNotFoundError:
            mtime = None
        with self.lock:
            if mtime == self.mtime and not initial:
                return self.routes
            try:
                routes, warnings = load_routes(self.template)
            except TemplateError as e:
                if initial:
                    raise
                print(f"gateway: cannot reload routes ({e}); keeping the previous ones", file=sys.stderr, flush=True)
                self.mtime = mtime
                return self.routes
            for w in warnings:
                print(f"gateway: warning: {w}", file=sys.stderr, flush=True)
            if not initial:
                print(f"gateway: {self.template.name} changed: {len(routes)} routes", file=sys.stderr, flush=True)
            self.routes, self.mtime = routes, mtime
            return routes


# ---------------------------------------------------------------------------------------------------------------
# server
# ---------------------------------------------------------------------------------------------------------------


# Same shape as shared::error::ApiError::to_problem, so clients see one error format.
PROBLEM_TYPE_BASE = "https://docs.monetization.example/problems/"


def problem(status: int, title: str, code: str, detail: str) -> bytes:
    return json.dumps({
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }).encode()


class GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "local-gateway"
    sys_version = ""
    # Set on the subclass built by make_server().
    table: RouteTable
    upstream_host: str
    upstream_port: int
    upstream_timeout: float
    _answered = 0  # status of the problem response sent by a helper

    # One handler method for every verb.
    def do_any(self) -> None:
        started = time.monotonic()
        raw_path, _, query = self.path.partition("?")
        if raw_path.startswith("http://") or raw_path.startswith("https://"):  # absolute-form request target
            parts = urlsplit(self.path)
            raw_path, query = parts.path or "/", parts.query
        function = "-"
        status = 500
        try:
            m = match(self.table.refresh(), self.command, raw_path)
            if m.route is None:
                body = self._read_body()  # drain it so keep-alive stays in sync
                if body is None:
                    status = self._answered
                    return
                if m.allowed:
                    status = 405
                    self._send_problem(405, "Method not allowed", "method_not_allowed",
                                       f"{self.command} is not allowed on {raw_path}",
                                       extra={"Allow": ", ".join(m.allowed)})
                else:
                    status = 404
                    self._send_problem(404, "Not found", "route_not_found",
                                       f"no route for {self.command} {raw_path}")
                return
            function = m.route.binary
            body = self._read_body()
            if body is None:
                status = self._answered
                return
            status = self._proxy(m.route, raw_path, query, body)
        finally:
            ms = (time.monotonic() - started) * 1000
            print(f"gateway: {self.command} {raw_path} -> {function} {status} {ms:.1f}ms", file=sys.stderr, flush=True)

    for _m in HTTP_METHODS + ("CONNECT", "TRACE"):
        locals()[f"do_{_m}"] = do_any
    del _m

    def _read_body(self) -> bytes | None:
        """The raw request body (chunked bodies are de-chunked); None after answering 400/413 instead."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size_line = self.rfile.readline(65537)
                try:
                    size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                except ValueError:
                    self.close_connection = True
                    self._send_problem(400, "Bad request", "bad_request", "invalid chunked request body")
                    return None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                total += size
                if total > MAX_BODY:
                    self._too_large()
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            self._send_problem(400, "Bad request", "bad_request", "invalid Content-Length header")
            return None
        if length > MAX_BODY:
            self._too_large()
            return None
        return self.rfile.read(length) if length else b""

    def _too_large(self) -> None:
        self.close_connection = True
        self._send_problem(413, "Payload too large", "payload_too_large",
                           f"the request body exceeds {MAX_BODY} bytes")

    def _proxy(self, route: Route, raw_path: str, query: str, body: bytes) -> int:
        target = f"/lambda-url/{route.binary}{raw_path}" + (f"?{query}" if query else "")
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=self.upstream_timeout)
        try:
            conn.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() in HOP_BY_HOP or name.lower() == "content-length":
                    continue
                conn.putheader(name, value)
            if "Host" not in self.headers:
                conn.putheader("Host", f"{HOST}:{self.server.server_address[1]}")
            # What API Gateway adds in front of a function.
            if "X-Forwarded-For" not in self.headers:
                conn.putheader("X-Forwarded-For", self.client_address[0])
            if "X-Forwarded-Proto" not in self.headers:
                conn.putheader("X-Forwarded-Proto", "http")
            if "X-Forwarded-Port" not in self.headers:
                conn.putheader("X-Forwarded-Port", str(self.server.server_address[1]))
            if body or self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read()
        except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected) as e:
            self._send_problem(502, "Bad gateway", "upstream_unavailable",
                               f"cargo lambda watch is not answering on {self.upstream_host}:{self.upstream_port} "
                               f"({type(e).__name__}); is `make dev` running?")
            return 502
        except TimeoutError:
            self._send_problem(504, "Gateway timeout", "upstream_timeout",
                               f"{route.binary} did not answer within {self.upstream_timeout:.0f}s")
            return 504
        except (OSError, http.client.HTTPException) as e:
            self._send_problem(502, "Bad gateway", "upstream_error", f"{type(e).__name__} talking to upstream")
            return 502
        finally:
            conn.close()

        self.send_response_only(resp.status, resp.reason)
        for name, value in resp.getheaders():
            if name.lower() in HOP_BY_HOP or name.lower() == "content-length":
                continue
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return resp.status

    def _send_problem(self, status: int, title: str, code: str, detail: str, extra: dict | None = None) -> None:
        self._answered = status
        data = problem(status, title, code, detail)
        self.send_response_only(status)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - base class signature
        pass  # do_any logs one line per request; nothing else (no headers, no bodies)

    def log_error(self, format: str, *args) -> None:  # noqa: A002
        print("gateway: " + (format % args), file=sys.stderr, flush=True)


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(table: RouteTable, port: int, upstream: str, timeout: float, host: str = HOST) -> GatewayServer:
    up = urlsplit(upstream)
    if up.scheme != "http" or not up.hostname:
        raise SystemExit(f"gateway: --upstream must be http://host:port, got {upstream!r}")
    handler = type("Handler", (GatewayHandler,), {
        "table": table,
        "upstream_host": up.hostname,
        "upstream_port": up.port or 80,
        "upstream_timeout": timeout,
    })
    return GatewayServer((host, port), handler)


def print_routes(routes: list[Route], out=sys.stdout) -> None:
    width = max((len(r.path) for r in routes), default=4)
    fn_width = max((len(r.function) for r in routes), default=8)
    for r in sorted(routes, key=lambda r: (r.path, r.method)):
        print(f"{r.method:<7} {r.path:<{width}}  {r.function:<{fn_width}}  bin={r.binary}", file=out)
    print(f"{len(routes)} routes", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local API gateway in front of cargo lambda watch.")
    parser.add_argument("--template", type=Path,
                        default=Path(os.environ.get("DEV_TEMPLATE") or ROOT / "infra" / "template.yaml"),
                        help="SAM template (default: $DEV_TEMPLATE or infra/template.yaml)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEV_PORT", "3000")))
    parser.add_argument("--upstream", default=f"http://{HOST}:{os.environ.get('WATCH_PORT', '9000')}",
                        help="cargo lambda watch base URL (default http://127.0.0.1:$WATCH_PORT)")
    parser.add_argument("--timeout", type=float, default=float(os.environ.get("GATEWAY_TIMEOUT", "900")),
                        help="seconds to wait for a function (the first call may compile it)")
    parser.add_argument("--print-routes", action="store_true", help="print the routing table and exit")
    args = parser.parse_args(argv)

    try:
        table = RouteTable(args.template)
    except TemplateError as e:
        print(f"gateway: {e}", file=sys.stderr)
        return 1
    if args.print_routes:
        print_routes(table.routes)
        return 0
    if not table.routes:
        print(f"gateway: warning: no HttpApi routes in {args.template}", file=sys.stderr)

    try:
        server = make_server(table, args.port, args.upstream, args.timeout)
    except OSError as e:
        print(f"gateway: cannot listen on {HOST}:{args.port}: {e.strerror} (set DEV_PORT to another port)",
              file=sys.stderr)
        return 1
    print(f"gateway: http://{HOST}:{args.port} -> {args.upstream}/lambda-url/<binary>/... "
          f"({len(table.routes)} routes)", file=sys.stderr, flush=True)
    def on_sigterm(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
