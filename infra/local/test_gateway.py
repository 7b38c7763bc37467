"""Tests of gateway.py against a stand-in for cargo lambda's invoke endpoint (no Rust build needed).

    .local/venv/bin/python -m unittest infra/local/test_gateway.py      (run by `make test` and `make lint`)
"""

from __future__ import annotations

import base64
import http.client
import json
import sys
import tempfile
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gateway  # noqa: E402

TEMPLATE = """
Resources:
  AuthFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: auth}}
    Properties:
      Events:
        Login: {Type: HttpApi, Properties: {Method: POST, Path: /api/auth/login}}
        Jwks: {Type: HttpApi, Properties: {Method: GET, Path: /.well-known/jwks.json}}
  UsageFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: usage}}
    Properties:
      Events:
        Quota: {Type: HttpApi, Properties: {Method: GET, Path: "/api/quotas/{customer_id}/{solution_id}"}}
        Track: {Type: HttpApi, Properties: {Method: POST, Path: /api/track-usage}}
"""


class FakeInvoke(BaseHTTPRequestHandler):
    """cargo lambda's invoke endpoint; the "function" answers according to the event's rawPath."""

    protocol_version = "HTTP/1.1"
    calls: list[tuple[str, dict]] = []

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers["Content-Length"])
        event = json.loads(self.rfile.read(length))
        prefix, suffix = "/2015-03-31/functions/", "/invocations"
        assert self.path.startswith(prefix) and self.path.endswith(suffix), self.path
        binary = self.path[len(prefix):-len(suffix)]
        FakeInvoke.calls.append((binary, event))
        status = 200
        if event["rawPath"] == "/api/auth/login" and event.get("body") == "crash":
            status, answer = 500, {"errorType": "Panic", "errorMessage": "boom"}
        elif event["rawPath"] == "/.well-known/jwks.json":
            answer = {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                      "multiValueHeaders": {"x-multi": ["a", "b"]}, "cookies": ["a=1", "b=2; Path=/"],
                      "body": base64.b64encode(b"\xff\x00bin").decode(), "isBase64Encoded": True}
        else:
            answer = {"statusCode": 201, "headers": {"content-type": "application/json"},
                      "body": json.dumps({"echo": event}), "isBase64Encoded": False}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


class GatewayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        template = Path(cls.tmp.name) / "template.yaml"
        template.write_text(TEMPLATE)
        cls.upstream = ThreadingHTTPServer((gateway.HOST, 0), FakeInvoke)
        threading.Thread(target=cls.upstream.serve_forever, daemon=True).start()
        cls.server = gateway.make_server(gateway.RouteTable(template), 0,
                                         f"http://{gateway.HOST}:{cls.upstream.server_address[1]}", 10)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.port = cls.server.server_address[1]

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.shutdown()
        cls.server.server_close()
        cls.upstream.shutdown()
        cls.upstream.server_close()
        cls.tmp.cleanup()

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection(gateway.HOST, self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp, resp.read()
        finally:
            conn.close()

    def last_event(self) -> tuple[str, dict]:
        return FakeInvoke.calls[-1]

    def test_builds_a_payload_v2_event(self) -> None:
        status, _, data = self.request(
            "GET", "/api/quotas/usr_1/sol%5F2?b=2&a=1&a=x%20y",
            headers={"X-Custom": "v", "Cookie": "c1=1; c2=2", "User-Agent": "ua/1", "Authorization": "Bearer t"})
        self.assertEqual(status, 201)
        binary, event = self.last_event()
        self.assertEqual(binary, "usage")
        self.assertEqual(json.loads(data)["echo"], event)
        self.assertEqual(event["version"], "2.0")
        self.assertEqual(event["routeKey"], "GET /api/quotas/{customer_id}/{solution_id}")
        self.assertEqual(event["rawPath"], "/api/quotas/usr_1/sol%5F2")
        self.assertEqual(event["rawQueryString"], "b=2&a=1&a=x%20y")
        self.assertEqual(event["queryStringParameters"], {"a": "1,x y", "b": "2"})
        self.assertEqual(event["pathParameters"], {"customer_id": "usr_1", "solution_id": "sol_2"})
        self.assertEqual(event["cookies"], ["c1=1", "c2=2"])
        self.assertNotIn("cookie", event["headers"])
        self.assertEqual(event["headers"]["x-custom"], "v")
        self.assertEqual(event["headers"]["authorization"], "Bearer t")
        self.assertEqual(event["headers"]["x-forwarded-for"], "127.0.0.1")
        ctx = event["requestContext"]
        self.assertEqual(ctx["http"], {"method": "GET", "path": "/api/quotas/usr_1/sol%5F2", "protocol": "HTTP/1.1",
                                       "sourceIp": "127.0.0.1", "userAgent": "ua/1"})
        self.assertEqual(ctx["stage"], "$default")
        self.assertEqual(ctx["routeKey"], event["routeKey"])
        for key in ("accountId", "apiId", "domainName", "requestId", "time", "timeEpoch"):
            self.assertIn(key, ctx)
        self.assertFalse(event["isBase64Encoded"])
        self.assertNotIn("body", event)

    def test_repeated_headers_are_comma_joined(self) -> None:
        conn = http.client.HTTPConnection(gateway.HOST, self.port, timeout=10)
        conn.putrequest("POST", "/api/track-usage")
        conn.putheader("X-Twice", "a")
        conn.putheader("X-Twice", "b")
        conn.putheader("Content-Length", "2")
        conn.endheaders(b"{}")
        resp = conn.getresponse()
        resp.read()
        conn.close()
        self.assertEqual(resp.status, 201)
        event = self.last_event()[1]
        self.assertEqual(event["headers"]["x-twice"], "a,b")
        self.assertEqual(event["body"], "{}")
        self.assertFalse(event["isBase64Encoded"])

    def test_non_utf8_and_binary_bodies_are_base64(self) -> None:
        raw = b'{"email": "\xff\xfe"}'
        self.request("POST", "/api/track-usage", body=raw, headers={"Content-Type": "application/json"})
        event = self.last_event()[1]
        self.assertTrue(event["isBase64Encoded"])
        self.assertEqual(base64.b64decode(event["body"]), raw)
        self.request("POST", "/api/track-usage", body=b"plain", headers={"Content-Type": "image/png"})
        event = self.last_event()[1]
        self.assertTrue(event["isBase64Encoded"])
        self.assertEqual(base64.b64decode(event["body"]), b"plain")

    def test_maps_the_proxy_response(self) -> None:
        status, resp, data = self.request("GET", "/.well-known/jwks.json")
        self.assertEqual(status, 200)
        self.assertEqual(data, b"\xff\x00bin")
        self.assertEqual(resp.getheader("content-type"), "application/octet-stream")
        self.assertEqual(resp.headers.get_all("x-multi"), ["a", "b"])
        self.assertEqual(resp.headers.get_all("set-cookie"), ["a=1", "b=2; Path=/"])

    def assert_not_found(self, method: str, path: str) -> None:
        before = len(FakeInvoke.calls)
        status, resp, data = self.request(method, path)
        self.assertEqual(status, 404, f"{method} {path}")
        self.assertEqual(resp.getheader("content-type"), "application/json")
        if method != "HEAD":
            self.assertEqual(json.loads(data), {"message": "Not Found"})
        self.assertEqual(len(FakeInvoke.calls), before, "no function is invoked")

    def test_unrouted_requests_are_404_like_api_gateway(self) -> None:
        self.assert_not_found("GET", "/api/nowhere")
        self.assert_not_found("GET", "/api/auth/login")  # known path, other method: 404 too (no 405)
        self.assert_not_found("OPTIONS", "/api/auth/login")  # no CORS configuration: no preflight answer
        self.assert_not_found("HEAD", "/.well-known/jwks.json")
        self.assert_not_found("PROPFIND", "/api/auth/login")  # unknown method: never 501
        self.assert_not_found("GET", "/api/quotas/usr_1/")  # an empty path parameter does not match

    def test_a_client_going_away_is_one_line_not_a_traceback(self) -> None:
        import contextlib
        import io
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            try:
                raise BrokenPipeError(32, "Broken pipe")
            except BrokenPipeError:
                self.server.handle_error(None, ("127.0.0.1", 1))
        self.assertEqual(err.getvalue(), "gateway: the client closed the connection (BrokenPipeError)\n")

    def test_function_failure_is_500_message(self) -> None:
        status, resp, data = self.request("POST", "/api/auth/login", body=b"crash")
        self.assertEqual(status, 500)
        self.assertEqual(json.loads(data), {"message": "Internal Server Error"})

    def test_too_large_body_is_413(self) -> None:
        conn = http.client.HTTPConnection(gateway.HOST, self.port, timeout=10)
        conn.putrequest("POST", "/api/track-usage")
        conn.putheader("Content-Length", str(gateway.MAX_BODY + 1))
        conn.endheaders()
        resp = conn.getresponse()
        self.assertEqual(resp.status, 413)
        self.assertEqual(json.loads(resp.read()), {"message": "Request Entity Too Large"})
        conn.close()

    def test_unreachable_upstream_is_503(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            template = Path(tmp) / "template.yaml"
            template.write_text(TEMPLATE)
            dead = ThreadingHTTPServer((gateway.HOST, 0), FakeInvoke)
            dead_port = dead.server_address[1]
            dead.server_close()
            server = gateway.make_server(gateway.RouteTable(template), 0, f"http://{gateway.HOST}:{dead_port}", 5)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            try:
                conn = http.client.HTTPConnection(gateway.HOST, server.server_address[1], timeout=10)
                conn.request("GET", "/.well-known/jwks.json")
                resp = conn.getresponse()
                self.assertEqual(resp.status, 503)
                self.assertEqual(json.loads(resp.read()), {"message": "Service Unavailable"})
                conn.close()
            finally:
                server.shutdown()
                server.server_close()


class ConsoleTest(unittest.TestCase):
    """The console's build served at / as CloudFront serves it (no function is involved)."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        root = Path(cls.tmp.name)
        (root / "template.yaml").write_text(TEMPLATE)
        (root / "secret.txt").write_text("outside the build")
        dist = root / "dist"
        (dist / "assets").mkdir(parents=True)
        (dist / "index.html").write_text("<!doctype html><title>console</title>")
        (dist / "assets" / "index-abc123.js").write_text("console.log(1)")
        cls.server = gateway.make_server(gateway.RouteTable(root / "template.yaml"), 0, "http://127.0.0.1:9", 5,
                                         console=dist)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.port = cls.server.server_address[1]

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.shutdown()
        cls.server.server_close()
        cls.tmp.cleanup()

    def request(self, method: str, path: str):
        conn = http.client.HTTPConnection(gateway.HOST, self.port, timeout=10)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            return resp.status, resp, resp.read()
        finally:
            conn.close()

    def test_routes_of_the_console_are_its_index_never_cached(self) -> None:
        for path in ("/", "/billing/success?session_id=cs_1", "/verify-email?token=ev_x", "/orgs/org_1"):
            status, resp, data = self.request("GET", path)
            self.assertEqual(status, 200, path)
            self.assertIn(b"<title>console</title>", data)
            self.assertEqual(resp.getheader("Content-Type"), "text/html; charset=utf-8")
            self.assertEqual(resp.getheader("Cache-Control"), "no-cache")
            self.assertIn("script-src 'self'", resp.getheader("Content-Security-Policy"))
            self.assertEqual(resp.getheader("X-Frame-Options"), "DENY")
        status, resp, data = self.request("HEAD", "/tokens")
        self.assertEqual((status, data), (200, b""))

    def test_assets_are_cached_for_a_year(self) -> None:
        status, resp, data = self.request("GET", "/assets/index-abc123.js")
        self.assertEqual((status, data), (200, b"console.log(1)"))
        self.assertEqual(resp.getheader("Content-Type"), "text/javascript; charset=utf-8")
        self.assertEqual(resp.getheader("Cache-Control"), "public, max-age=31536000, immutable")

    def test_missing_files_and_paths_out_of_the_build_are_404(self) -> None:
        for path in ("/assets/gone-000.js", "/../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt", "/favicon.ico"):
            status, _, data = self.request("GET", path)
            self.assertEqual(status, 404, path)
            self.assertEqual(json.loads(data), {"message": "Not Found"})

    def test_the_api_keeps_api_gateway_answers(self) -> None:
        for method, path in (("GET", "/api/nowhere"), ("GET", "/.well-known/other"), ("POST", "/billing"),
                             ("OPTIONS", "/")):
            status, _, data = self.request(method, path)
            self.assertEqual(status, 404, (method, path))
            self.assertEqual(json.loads(data), {"message": "Not Found"})


if __name__ == "__main__":
    unittest.main()
