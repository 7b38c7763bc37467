#!/usr/bin/env python3
"""One full subscription flow against the local Stripe stand-in, with a webhook receiver on 127.0.0.1.

    python3 infra/local/services.py run -- python3 infra/local/stripe_local_demo.py
or, against a stand-in you started yourself:
    .local/localstripe-venv/bin/python infra/local/stripe_local.py --port 8420 &
    python3 infra/local/stripe_local_demo.py --base http://127.0.0.1:8420

Steps: customer -> two prices -> checkout session (twice with one Idempotency-Key) -> open the checkout URL (the
"hosted page" pays with a test card) -> upgrade to the dearer price -> cancel at period end -> partial refund of the
first payment -> cancel now. With --declined, a second customer goes through checkout with a card that is refused
at checkout and then one whose first charge fails. After each step it prints the webhook events that arrived and
whether each Stripe-Signature verifies (HMAC-SHA256 of "<t>.<body>" with the webhook secret).

Options: --base (default $STRIPE_API_BASE), --webhook-port (default: a free port), --secret-key (default
$STRIPE_SECRET_KEY or sk_test_local), --save-events DIR (every delivery exactly as received: the first of each
type as DIR/<type>.json, later ones as DIR/<type>.<n>.json, headers beside them as .headers.json, arrival order in
DIR/events.log). Exits 1 when a step fails or a
signature does not verify. Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.server
import json
import os
import queue
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

HOST = "127.0.0.1"


class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # The stand-in opens one connection per event, all at once: socketserver's default backlog of 5 drops SYNs
    # and the kernel retries them a second later, which reorders and delays deliveries.
    request_queue_size = 128

    def __init__(self, port: int, secret: str):
        super().__init__((HOST, port), Handler)
        self.secret = secret
        self.events: queue.Queue = queue.Queue()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ok, why = verify(body, self.headers.get("Stripe-Signature", ""), self.server.secret)
        self.server.events.put((time.time(), dict(self.headers.items()), body, ok, why))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def verify(body: bytes, header: str, secret: str, tolerance: int = 300) -> tuple[bool, str]:
    """Stripe's scheme: t=<unix>,v1=<hex hmac_sha256(secret, '<t>.<body>')>[,v1=...]."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    sigs = [v for k, v in parts if k == "v1"]
    if len(stamps) != 1 or not sigs:
        return False, "no t= or v1= in Stripe-Signature"
    expected = hmac.new(secret.encode(), stamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, s) for s in sigs):
        return False, "signature mismatch"
    if abs(time.time() - int(stamps[0])) > tolerance:
        return False, f"timestamp {stamps[0]} outside {tolerance}s"
    return True, "ok"


class Failed(Exception):
    pass


class Demo:
    def __init__(self, args):
        self.base = args.base.rstrip("/")
        self.key = args.secret_key
        self.settle = args.settle
        self.save = Path(args.save_events) if args.save_events else None
        self.saved: dict[str, int] = {}
        self.receiver = Receiver(args.webhook_port, args.webhook_secret)
        self.bad_signatures = 0
        self.event_count = 0
        self.step_end = time.time()
        if self.save:
            self.save.mkdir(parents=True, exist_ok=True)
            (self.save / "events.log").write_text("")

    # -- HTTP -----------------------------------------------------------------------------------------------------
    def call(self, method: str, path: str, params=None, idempotency_key: str | None = None,
             expect_error: bool = False, auth: bool = True):
        data = None
        url = self.base + path
        if params is not None and method == "GET":
            url += "?" + urllib.parse.urlencode(params)
        elif params is not None:
            data = urllib.parse.urlencode(params).encode()
        req = urllib.request.Request(url, data=data, method=method)
        if auth:
            req.add_header("Authorization", f"Bearer {self.key}")
        if idempotency_key:
            req.add_header("Idempotency-Key", idempotency_key)
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                status, raw, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, raw, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        body = json.loads(raw) if "json" in ctype else raw.decode(errors="replace")
        if status >= 400 and not expect_error:
            raise Failed(f"{method} {path} -> {status}: {body}")
        return status, body

    # -- output -----------------------------------------------------------------------------------------------------
    def step(self, title: str):
        print(f"\n== {title}", flush=True)

    def say(self, msg: str):
        print(f"   {msg}", flush=True)

    def events(self):
        """Waits until the webhooks of the last step have arrived (quiet for a moment), prints them."""
        start = time.time()
        deadline = start + max(self.settle * 4, 8)
        got = []
        last = start
        while time.time() < deadline:
            try:
                got.append(self.receiver.events.get(timeout=0.1))
                last = time.time()
            except queue.Empty:
                if time.time() - start >= self.settle and time.time() - last >= 0.4:
                    break
        for arrived, headers, body, ok, why in got:
            self.event_count += 1
            event = json.loads(body)
            obj = event.get("data", {}).get("object", {})
            if not ok:
                self.bad_signatures += 1
            detail = describe(event["type"], obj)
            print(f"   event {event['type']:<34} signature {'ok' if ok else 'FAILED: ' + why}"
                  f"{'  ' + detail if detail else ''}", flush=True)
            if self.save:
                with open(self.save / "events.log", "a") as f:
                    f.write(f"{arrived:.3f} {event['type']} {event['id']} {obj.get('id')} signature={why}\n")
                self.saved[event["type"]] = seen = self.saved.get(event["type"], 0) + 1
                name = event["type"] if seen == 1 else f"{event['type']}.{seen}"
                (self.save / f"{name}.json").write_bytes(body)
                (self.save / f"{name}.headers.json").write_text(json.dumps(headers, indent=2, sort_keys=True) + "\n")
        if not got:
            print("   (no events)", flush=True)

    # -- the flow ---------------------------------------------------------------------------------------------------
    def run(self, declined: bool) -> None:
        hook = f"http://{HOST}:{self.receiver.server_address[1]}/webhook"
        print(f"demo: stand-in {self.base}, webhook receiver {hook}")
        self.call("POST", f"/_config/webhooks/demo-{os.getpid()}", {"url": hook, "secret": self.receiver.secret})
        run = uuid.uuid4().hex[:8]

        self.step("customer: POST /v1/customers email, metadata[user_id] (Idempotency-Key)")
        ikey = f"demo-customer-{run}"
        params = {"email": f"demo-{run}@example.com", "metadata[user_id]": f"user-{run}"}
        _, cus = self.call("POST", "/v1/customers", params, ikey)
        _, again = self.call("POST", "/v1/customers", params, ikey)
        self.say(f"{cus['id']} ({cus['email']}); same key again -> {again['id']} "
                 f"({'same' if again['id'] == cus['id'] else 'DIFFERENT'})")
        self.events()

        self.step("prices: POST /v1/prices product_data[name], unit_amount, currency, recurring[interval], lookup_key")
        _, basic = self.call("POST", "/v1/prices", {
            "product_data[name]": "Basic", "unit_amount": 900, "currency": "usd", "recurring[interval]": "month",
            "lookup_key": f"basic-{run}"})
        _, pro = self.call("POST", "/v1/prices", {
            "product": basic["product"], "unit_amount": 2900, "currency": "usd", "recurring[interval]": "month",
            "lookup_key": f"pro-{run}"})
        for p in (basic, pro):
            self.say(f"{p['id']} {p['unit_amount']} {p['currency']}/{p['recurring']['interval']} "
                     f"lookup_key={p['lookup_key']} product={p['product']}")
        _, found = self.call("GET", "/v1/prices", {"lookup_keys[]": f"pro-{run}"})
        self.say(f"GET /v1/prices?lookup_keys[]=pro-{run} -> {[p['id'] for p in found['data']]}")
        self.events()

        self.step("checkout: POST /v1/checkout/sessions mode=subscription (twice, same Idempotency-Key)")
        session_params = {
            "mode": "subscription", "customer": cus["id"], "line_items[0][price]": basic["id"],
            "line_items[0][quantity]": 1,
            "success_url": "http://127.0.0.1:3000/billing/success?cs={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://127.0.0.1:3000/billing/cancel", "client_reference_id": f"user-{run}",
            "metadata[user_id]": f"user-{run}", "subscription_data[metadata][subscription_id]": f"ours-{run}"}
        _, cs = self.call("POST", "/v1/checkout/sessions", session_params, f"demo-checkout-{run}")
        _, cs2 = self.call("POST", "/v1/checkout/sessions", session_params, f"demo-checkout-{run}")
        self.say(f"{cs['id'][:24]}... status={cs['status']} payment_status={cs['payment_status']} "
                 f"subscription={cs['subscription']}")
        self.say(f"url={cs['url'][:60]}...")
        self.say(f"same key again -> {'same session' if cs2['id'] == cs['id'] else 'DIFFERENT session'}")
        self.events()

        self.step("open the checkout URL (what a browser does): GET <session url>")
        status, page = self.call("GET", urllib.parse.urlparse(cs["url"]).path, auth=False)
        self.say(f"{status}: {strip_html(page)}")
        _, cs = self.call("GET", f"/v1/checkout/sessions/{cs['id']}")
        self.say(f"session: status={cs['status']} payment_status={cs['payment_status']} "
                 f"subscription={cs['subscription']} invoice={cs['invoice']}")
        _, sub = self.call("GET", f"/v1/subscriptions/{cs['subscription']}")
        item = sub["items"]["data"][0]
        self.say(f"subscription: status={sub['status']} price={item['price']['id']} "
                 f"period={item['current_period_start']}..{item['current_period_end']} metadata={sub['metadata']}")
        first_invoice = sub["latest_invoice"]
        self.events()

        self.step("upgrade: POST /v1/subscriptions/<id> items[0][id], items[0][price]=pro, "
                  "proration_behavior=always_invoice")
        _, sub = self.call("POST", f"/v1/subscriptions/{sub['id']}", {
            "items[0][id]": item["id"], "items[0][price]": pro["id"], "proration_behavior": "always_invoice",
            "payment_behavior": "error_if_incomplete"})
        _, inv = self.call("GET", f"/v1/invoices/{sub['latest_invoice']}")
        self.say(f"status={sub['status']} price={sub['items']['data'][0]['price']['id']} "
                 f"latest_invoice={inv['id']} amount_paid={inv['amount_paid']} status={inv['status']}")
        self.events()

        self.step("cancel at period end: POST /v1/subscriptions/<id> cancel_at_period_end=true")
        _, sub = self.call("POST", f"/v1/subscriptions/{sub['id']}", {"cancel_at_period_end": "true"})
        self.say(f"status={sub['status']} cancel_at_period_end={sub['cancel_at_period_end']} "
                 f"cancel_at={sub['cancel_at']}")
        self.events()

        self.step("refund: POST /v1/refunds payment_intent=<first invoice's payment>, amount=500, reason, metadata")
        _, inv = self.call("GET", f"/v1/invoices/{first_invoice}", {"expand[]": "payments"})
        payment_intent = inv["payments"]["data"][0]["payment"]["payment_intent"]
        _, refund = self.call("POST", "/v1/refunds", {
            "payment_intent": payment_intent, "amount": 500, "reason": "requested_by_customer",
            "metadata[reason]": "demo"})
        self.say(f"{refund['id']} amount={refund['amount']} status={refund['status']} charge={refund['charge']} "
                 f"payment_intent={refund['payment_intent']}")
        self.events()

        self.step("cancel now: DELETE /v1/subscriptions/<id>")
        _, sub = self.call("DELETE", f"/v1/subscriptions/{sub['id']}")
        self.say(f"status={sub['status']} ended_at={sub['ended_at']} canceled_at={sub['canceled_at']}")
        self.events()

        if declined:
            self.declined(basic, run)

    def declined(self, price: dict, run: str) -> None:
        self.step("declined: checkout with card=refused (4000000000000002, declined when attached)")
        _, cus = self.call("POST", "/v1/customers", {"email": f"declined-{run}@example.com"})
        _, cs = self.call("POST", "/v1/checkout/sessions", {
            "mode": "subscription", "customer": cus["id"], "line_items[0][price]": price["id"],
            "line_items[0][quantity]": 1, "success_url": "http://127.0.0.1:3000/ok",
            "client_reference_id": f"declined-{run}",
            "subscription_data[metadata][subscription_id]": f"ours-declined-{run}"})
        path = urllib.parse.urlparse(cs["url"]).path
        status, page = self.call("GET", path + "?card=refused", auth=False, expect_error=True)
        self.say(f"{status}: {strip_html(page)}")
        self.events()

        self.step("declined: same session with card=declined (4000000000000341, attaches, charge fails)")
        status, page = self.call("GET", path + "?card=declined", auth=False)
        self.say(f"{status}: {strip_html(page)}")
        _, cs = self.call("GET", f"/v1/checkout/sessions/{cs['id']}")
        _, sub = self.call("GET", f"/v1/subscriptions/{cs['subscription']}")
        _, inv = self.call("GET", f"/v1/invoices/{sub['latest_invoice']}",
                           {"expand[]": "payments.data.payment.payment_intent"})
        payments = inv["payments"]["data"]
        err = (payments[0]["payment"]["payment_intent"] if payments else {}).get("last_payment_error") or {}
        self.say(f"session: status={cs['status']} payment_status={cs['payment_status']}; subscription "
                 f"{sub['status']}; invoice {inv['status']} amount_paid={inv['amount_paid']}; "
                 f"last_payment_error={err.get('code')}")
        self.events()


def describe(kind: str, o: dict) -> str:
    if kind.startswith("customer.subscription."):
        items = (o.get("items") or {}).get("data") or [{}]
        price = (items[0].get("price") or {}).get("id") or (items[0].get("plan") or {}).get("id")
        return f"{o.get('status')} cancel_at_period_end={o.get('cancel_at_period_end')} price={price}"
    if kind.startswith("invoice."):
        return f"{o.get('id')} {o.get('status')} amount_paid={o.get('amount_paid')} amount_due={o.get('amount_due')}"
    if kind.startswith("checkout.session."):
        return f"{o.get('status')} {o.get('payment_status')} subscription={o.get('subscription')}"
    if kind.startswith("charge."):
        return f"amount_refunded={o.get('amount_refunded')} refunds={len((o.get('refunds') or {}).get('data') or [])}"
    if kind.startswith("payment_intent."):
        return f"{o.get('status')}"
    return ""


def strip_html(page) -> str:
    page = page if isinstance(page, str) else json.dumps(page)
    page = re.sub(r"<title>.*?</title>", "", page)
    text = re.sub(r"</h1>", ":", page)
    text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    return text.split(" Local Stripe stand-in")[0][:200]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="stripe_local_demo.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=os.environ.get("STRIPE_API_BASE"), help="default $STRIPE_API_BASE")
    parser.add_argument("--webhook-port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--secret-key", default=os.environ.get("STRIPE_SECRET_KEY") or "sk_test_local")
    parser.add_argument("--webhook-secret", default="whsec_demo")
    parser.add_argument("--settle", type=float, default=1.3,
                        help="seconds to wait for a step's webhooks (the stand-in delivers after 1 s)")
    parser.add_argument("--declined", action="store_true", help="also run the declined-card checkouts")
    parser.add_argument("--save-events", metavar="DIR", help="write each event type's first delivery to DIR")
    args = parser.parse_args(argv)
    if not args.base:
        parser.error("no --base and no STRIPE_API_BASE: run it under `python3 infra/local/services.py run -- ...`")
    demo = Demo(args)
    threading.Thread(target=demo.receiver.serve_forever, daemon=True).start()
    try:
        demo.run(args.declined)
    except (Failed, urllib.error.URLError, OSError) as e:
        print(f"\ndemo: FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        demo.receiver.shutdown()
        demo.receiver.server_close()
    print(f"\ndemo: {demo.event_count} events, "
          f"{'all signatures verified' if not demo.bad_signatures else f'{demo.bad_signatures} bad signature(s)'}")
    return 1 if demo.bad_signatures else 0


if __name__ == "__main__":
    sys.exit(main())
