#!/usr/bin/env python3
"""The single local base URL: an API Gateway HTTP API (payload format 2.0) in front of `cargo lambda watch`.

Reads the routes from infra/template.yaml (every AWS::Serverless::Function's `Events` of `Type: HttpApi`, with
`Properties.Path` / `Properties.Method`; the binary is the function's `Metadata.BuildProperties.Binary`), listens on
http://127.0.0.1:${DEV_PORT:-3000}, turns each request into the event API Gateway would send (payload format 2.0:
`version`, `routeKey`, `rawPath`, `rawQueryString`, `cookies`, lower-cased comma-joined `headers`,
`queryStringParameters`, `pathParameters`, `requestContext` with `http.sourceIp`, `stage` `$default`, and the body,
base64 with `isBase64Encoded: true` when it is not UTF-8 text or has a binary content type) and invokes the function
through cargo lambda's Lambda invoke endpoint:

    POST http://127.0.0.1:${WATCH_PORT:-9000}/2015-03-31/functions/<binary>/invocations

The function's proxy response (`statusCode`, `headers`, `multiValueHeaders`, `cookies`, `body`, `isBase64Encoded`)
becomes the HTTP response. Routing follows API Gateway HTTP APIs: an exact path beats one with `{param}` segments,
a `{proxy+}` greedy segment matches last, `ANY` matches every method, and an event without a Path/Method is the
`$default` route. Like API Gateway (HTTP API, no CORS configuration), anything without a route -- an unknown path,
a known path with another method, `OPTIONS`, `HEAD`, an unknown method -- is 404 `{"message":"Not Found"}`
(application/json); a body over 10 MB is 413 `{"message":"Request Entity Too Large"}`; a function that fails is
500 `{"message":"Internal Server Error"}`; a function that cannot be reached is 503
`{"message":"Service Unavailable"}` (each logged with the reason on stderr).

Like the deployed stack's CloudFront distribution, every other GET or HEAD outside `/api/` and `/.well-known/`
is the web console (`--console`, default console/dist, built by `make console`): a path with a file extension is
that file of the build (404 when absent), any other path is index.html (the console's own routes, the links in
emails); index.html is never cached, assets/* (content-hashed names) for a year, and both carry the security
headers of the distribution's response headers policy (the same Content-Security-Policy, so a console change that
breaks it fails locally too). Without a build, those paths are API Gateway's 404.

The template is re-read when it changes. One log line per request (method, path without the query string,
function, status, milliseconds); never headers or bodies.

    .local/venv/bin/python infra/local/gateway.py [--print-routes] [--port N] [--upstream URL] [--template FILE]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import secrets
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

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
# Content types whose bodies API Gateway passes base64-encoded even when they happen to be UTF-8.
BINARY_TYPES = ("application/octet-stream", "application/pdf", "application/zip", "application/gzip",
                "image/", "audio/", "video/", "font/", "multipart/form-data")
ACCOUNT_ID = "000000000000"
# The distribution's response headers policy (infra/template.yaml, ConsoleHeadersPolicy): keep the two equal.
# connect-src also names where the browser uploads partner assets (presigned PUTs): the asset bucket's S3 origin
# in AWS, moto's here ($CONSOLE_CONNECT_SRC, set by dev.py).
CONSOLE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'{connect}; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
CONSOLE_HEADERS = (
    ("Content-Security-Policy", CONSOLE_CSP.format(connect="".join(
        f" {origin}" for origin in os.environ.get("CONSOLE_CONNECT_SRC", "").split() if origin))),
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "DENY"),
)
CONSOLE_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".map": "application/json", ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
    ".ico": "image/x-icon", ".woff2": "font/woff2", ".txt": "text/plain; charset=utf-8", ".webmanifest":
    "application/manifest+json",
}
API_PREFIXES = ("/api/", "/.well-known/")


def console_file(root: Path, raw_path: str) -> tuple[Path | None, bool]:
    """The console's file for a request path (CloudFront's viewer-request function: no extension -> index.html),
    and whether it is index.html. None when there is no such file (or the path leaves the build)."""
    path = unquote(raw_path)
    name = path.rsplit("/", 1)[-1]
    if "." not in name:
        index = root / "index.html"
        return (index if index.is_file() else None), True
    try:
        target = (root / path.lstrip("/")).resolve()
        target.relative_to(root.resolve())
    except (ValueError, OSError):
        return None, False
    return (target if target.is_file() else None), target.name == "index.html"

API_ID = "local"


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

def path_parameters(template: str, path: str) -> dict[str, str]:
    """`{name}` segments of a matched route template, URL-decoded (`{proxy+}` takes the rest of the path)."""
    params: dict[str, str] = {}
    t_segs = template.strip("/").split("/")
    p_segs = path.strip("/").split("/")
    for i, seg in enumerate(t_segs):
        m = _SEGMENT.match(seg)
        if not m:
            continue
        if m.group(2):
            params[m.group(1)] = unquote("/".join(p_segs[i:]))
        elif i < len(p_segs):
            params[m.group(1)] = unquote(p_segs[i])
    return params


def is_binary(body: bytes, content_type: str) -> bool:
    ctype = content_type.split(";", 1)[0].strip().lower()
    if any(ctype.startswith(t) for t in BINARY_TYPES):
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def build_event(route: Route, method: str, raw_path: str, query: str, header_items: list[tuple[str, str]],
                body: bytes, source_ip: str, now: float | None = None) -> dict:
    """The API Gateway HTTP API payload format 2.0 event for one request."""
    now = time.time() if now is None else now
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in header_items:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    headers.setdefault("x-forwarded-for", source_ip)
    headers.setdefault("x-forwarded-proto", "http")
    request_id = base64.b64encode(secrets.token_bytes(12)).decode().replace("+", "A").replace("/", "B")
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{secrets.token_hex(12)}")
    route_key = "$default" if route.is_default else f"{route.method} {route.path}"
    domain = headers.get("host", f"{HOST}").split(":", 1)[0]
    event: dict = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": headers,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        params: dict[str, str] = {}
        for k, v in parse_qsl(query, keep_blank_values=True):
            params[k] = f"{params[k]},{v}" if k in params else v
        if params:
            event["queryStringParameters"] = params
    if not route.is_default:
        params = path_parameters(route.path, raw_path)
        if params:
            event["pathParameters"] = params
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if body:
        if is_binary(body, headers.get("content-type", "")):
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
        else:
            event["body"] = body.decode("utf-8")
            event["isBase64Encoded"] = False
    else:
        event["isBase64Encoded"] = False
    return event


class FunctionError(Exception):
    """The function failed or answered something that is not a proxy response (API Gateway: 500)."""


def map_response(payload: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """A Lambda proxy response (payload format 2.0) as (status, headers, body), the way API Gateway maps it."""
    try:
        doc = json.loads(payload or b"null")
    except ValueError as e:
        raise FunctionError(f"the function's answer is not JSON ({e})") from None
    if not isinstance(doc, dict) or "statusCode" not in doc:
        # Format 2.0 without statusCode: the whole answer is a JSON body with status 200.
        return 200, [("content-type", "application/json")], json.dumps(doc).encode()
    status = doc.get("statusCode")
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise FunctionError(f"invalid statusCode {status!r}")
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, value in (doc.get("headers") or {}).items():
        out.append((name, str(value)))
        seen.add(name.lower())
    for name, values in (doc.get("multiValueHeaders") or {}).items():
        if name.lower() in seen:
            continue
        for value in values if isinstance(values, list) else [values]:
            out.append((name, str(value)))
    for cookie in doc.get("cookies") or []:
        out.append(("set-cookie", str(cookie)))
    body = doc.get("body")
    if body is None:
        data = b""
    elif doc.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:
            raise FunctionError("isBase64Encoded but the body is not base64") from None
    else:
        data = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode()
    return status, out, data


def message(text: str) -> bytes:
    """API Gateway's own error body."""
    return json.dumps({"message": text}).encode()


class GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "local-gateway"
    sys_version = ""
    # Set on the subclass built by make_server().
    table: RouteTable
    upstream_host: str
    upstream_port: int
    upstream_timeout: float
    console: Path | None

    def handle_one_request(self) -> None:
        """BaseHTTPRequestHandler's, except that every method (even an unknown one) reaches do_any: API
        Gateway answers an unknown method with 404, never 501."""
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self.do_any()
            self.wfile.flush()
        except TimeoutError as e:
            self.log_error("request timed out: %r", e)
            self.close_connection = True

    def do_any(self) -> None:
        started = time.monotonic()
        raw_path, _, query = self.path.partition("?")
        if raw_path.startswith("http://") or raw_path.startswith("https://"):  # absolute-form request target
            parts = urlsplit(self.path)
            raw_path, query = parts.path or "/", parts.query
        function = "-"
        status = 0
        try:
            body = self._read_body()
            if body is None:
                status = 413
                self._send_message(413, "Request Entity Too Large")
                return
            m = match(self.table.refresh(), self.command, raw_path)
            if m.route is None and self.command in ("GET", "HEAD") and self.console is not None \
                    and not raw_path.startswith(API_PREFIXES):
                function = "console"
                status = self._send_console(raw_path)
                return
            if m.route is None:
                status = 404
                self._send_message(404, "Not Found")
                return
            function = m.route.binary
            status = self._invoke(m.route, raw_path, query, body)
        except _BadRequest as e:
            status = 400
            self.close_connection = True
            self.log_error("%s %s: %s", self.command, raw_path, e)
            self._send_message(400, "Bad Request")
        finally:
            ms = (time.monotonic() - started) * 1000
            print(f"gateway: {self.command} {raw_path} -> {function} {status} {ms:.1f}ms", file=sys.stderr, flush=True)

    def _read_body(self) -> bytes | None:
        """The raw request body (chunked bodies are de-chunked); None when it exceeds API Gateway's limit."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size_line = self.rfile.readline(65537)
                try:
                    size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                except ValueError:
                    raise _BadRequest("invalid chunked request body") from None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                total += size
                if total > MAX_BODY:
                    self.close_connection = True
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError
        except ValueError:
            raise _BadRequest("invalid Content-Length header") from None
        if length > MAX_BODY:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def _invoke(self, route: Route, raw_path: str, query: str, body: bytes) -> int:
        event = build_event(route, self.command, raw_path, query, list(self.headers.items()), body,
                            self.client_address[0])
        payload = json.dumps(event).encode()
        target = f"/2015-03-31/functions/{route.binary}/invocations"
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=self.upstream_timeout)
        try:
            conn.request("POST", target, body=payload, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
        except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected) as e:
            self.log_error("%s: cargo lambda watch is not answering on %s:%s (%s); is `make dev` running?",
                           route.binary, self.upstream_host, self.upstream_port, type(e).__name__)
            self._send_message(503, "Service Unavailable")
            return 503
        except TimeoutError:
            self.log_error("%s did not answer within %.0fs", route.binary, self.upstream_timeout)
            self._send_message(503, "Service Unavailable")
            return 503
        except (OSError, http.client.HTTPException) as e:
            self.log_error("%s: %s talking to cargo lambda watch", route.binary, type(e).__name__)
            self._send_message(503, "Service Unavailable")
            return 503
        finally:
            conn.close()
        if resp.status != 200:
            self.log_error("%s failed (invoke status %s): %s", route.binary, resp.status,
                           data[:500].decode("utf-8", "replace"))
            self._send_message(500, "Internal Server Error")
            return 500
        try:
            status, headers, out = map_response(data)
        except FunctionError as e:
            self.log_error("%s: %s", route.binary, e)
            self._send_message(500, "Internal Server Error")
            return 500
        self.send_response_only(status)
        for name, value in headers:
            if name.lower() in HOP_BY_HOP or name.lower() == "content-length":
                continue
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(out)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)
        return status

    def _send_console(self, raw_path: str) -> int:
        file, is_index = console_file(self.console, raw_path)
        if file is None:
            self._send_message(404, "Not Found")
            return 404
        data = file.read_bytes()
        self.send_response_only(200)
        self.send_header("Content-Type", CONSOLE_TYPES.get(file.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(data)))
        immutable = raw_path.startswith("/assets/")
        self.send_header("Cache-Control", "public, max-age=31536000, immutable" if immutable and not is_index
                         else "no-cache")
        for name, value in CONSOLE_HEADERS:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return 200

    def _send_message(self, status: int, text: str) -> None:
        data = message(text)
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - base class signature
        pass  # do_any logs one line per request; nothing else (no headers, no bodies)

    def log_error(self, format: str, *args) -> None:  # noqa: A002
        print("gateway: " + (format % args), file=sys.stderr, flush=True)


class _BadRequest(Exception):
    pass


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        """A client that goes away mid-request (a browser leaving the page) is one line, not a traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionResetError, BrokenPipeError)):
            print(f"gateway: the client closed the connection ({type(error).__name__})", file=sys.stderr, flush=True)
            return
        super().handle_error(request, client_address)


def make_server(table: RouteTable, port: int, upstream: str, timeout: float, host: str = HOST,
                console: Path | None = None) -> GatewayServer:
    up = urlsplit(upstream)
    if up.scheme != "http" or not up.hostname:
        raise SystemExit(f"gateway: --upstream must be http://host:port, got {upstream!r}")
    handler = type("Handler", (GatewayHandler,), {
        "table": table,
        "upstream_host": up.hostname,
        "upstream_port": up.port or 80,
        "upstream_timeout": timeout,
        "console": console,
    })
    return GatewayServer((host, port), handler)


def print_routes(routes: list[Route], out=sys.stdout) -> None:
    width = max((len(r.path) for r in routes), default=4)
    fn_width = max((len(r.function) for r in routes), default=8)
    for r in sorted(routes, key=lambda r: (r.path, r.method)):
        print(f"{r.method:<7} {r.path:<{width}}  {r.function:<{fn_width}}  bin={r.binary}", file=out)
    print(f"{len(routes)} routes", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local API Gateway (HTTP API, payload 2.0) in front of cargo lambda watch.")
    parser.add_argument("--template", type=Path,
                        default=Path(os.environ.get("DEV_TEMPLATE") or ROOT / "infra" / "template.yaml"),
                        help="SAM template (default: $DEV_TEMPLATE or infra/template.yaml)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEV_PORT", "3000")))
    parser.add_argument("--upstream", default=f"http://{HOST}:{os.environ.get('WATCH_PORT', '9000')}",
                        help="cargo lambda watch base URL (default http://127.0.0.1:$WATCH_PORT)")
    parser.add_argument("--timeout", type=float, default=float(os.environ.get("GATEWAY_TIMEOUT", "900")),
                        help="seconds to wait for a function (the first call may compile it)")
    parser.add_argument("--console", type=Path,
                        default=Path(os.environ.get("DEV_CONSOLE_DIR") or ROOT / "console" / "dist"),
                        help="the console's build, served at / (default: $DEV_CONSOLE_DIR or console/dist)")
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
        server = make_server(table, args.port, args.upstream, args.timeout, console=args.console)
    except OSError as e:
        print(f"gateway: cannot listen on {HOST}:{args.port}: {e.strerror} (set DEV_PORT to another port)",
              file=sys.stderr)
        return 1
    print(f"gateway: http://{HOST}:{args.port} -> {args.upstream}/2015-03-31/functions/<binary>/invocations "
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
