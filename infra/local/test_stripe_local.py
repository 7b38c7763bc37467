"""Tests of stripe_local.py's one-off invoices (draft -> invoice item -> finalize -> pay), over HTTP against a real
stand-in process (it runs in .local/localstripe-venv; skipped when that is not installed).

    .local/venv/bin/python -m unittest infra/local/test_stripe_local.py
"""

from __future__ import annotations

import json
import subprocess
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".local/localstripe-venv/bin/python"
NOW = 1_790_000_000


class StandIn:
    """One stripe_local.py process on a free port, talked to with the standard library only."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([str(PYTHON), str(ROOT / "infra/local/stripe_local.py"), "--port", "0",
                                      "--quiet", "--webhook-delay", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        words = [w for w in line.split() if w.startswith("http://127.0.0.1:")]
        if not words:
            self.stop()
            raise RuntimeError(f"stripe_local did not start: {line!r}")
        self.base = words[0]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()

    def call(self, method: str, path: str, form: list[tuple[str, str]] | None = None,
             key: str | None = None) -> tuple[int, dict]:
        """A /v1 call (form-encoded, API key, an Idempotency-Key on POST as the Rust client sends)."""
        body = urllib.parse.urlencode(form or []).encode() if method == "POST" else None
        if method == "GET" and form:
            path += "?" + urllib.parse.urlencode(form)
        request = urllib.request.Request(self.base + path, data=body, method=method,
                                         headers={"Authorization": "Bearer sk_test_local"})
        if method == "POST":
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
            request.add_header("Idempotency-Key", key or str(uuid.uuid4()))
        return self._send(request)

    def control(self, what: str, body: dict) -> dict:
        request = urllib.request.Request(f"{self.base}/_test/{what}", data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        status, answer = self._send(request)
        assert status == 200, (what, status, answer)
        return answer

    @staticmethod
    def _send(request: urllib.request.Request) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def ok(self, method: str, path: str, form: list[tuple[str, str]] | None = None) -> dict:
        status, answer = self.call(method, path, form)
        assert status == 200, (method, path, status, answer)
        return answer

    def event_types(self) -> list[str]:
        """Every event so far, oldest first."""
        return [e["type"] for e in reversed(self.ok("GET", "/v1/events", [("limit", "100")])["data"])]

    def events_of(self, kind: str) -> list[dict]:
        return [e["data"]["object"] for e in reversed(self.ok("GET", "/v1/events", [("limit", "100")])["data"])
                if e["type"] == kind]


def draft_form(customer: str, behavior: str | None = "exclude") -> list[tuple[str, str]]:
    """What the billing run sends to open an overage invoice."""
    form = [("customer", customer), ("collection_method", "charge_automatically"), ("auto_advance", "false")]
    if behavior is not None:
        form.append(("pending_invoice_items_behavior", behavior))
    return form + [("currency", "inr"), ("description", "Usage above the allowance, November 2026"),
                   ("metadata[invoice_id]", "inv_01OVERAGE"), ("metadata[subscription_id]", "sub_ours_1"),
                   ("metadata[kind]", "overage")]


def item_form(customer: str, invoice: str, amount: int) -> list[tuple[str, str]]:
    return [("customer", customer), ("invoice", invoice), ("amount", str(amount)), ("currency", "inr"),
            ("description", "12,000 calls above 100,000"), ("metadata[invoice_id]", "inv_01OVERAGE"),
            ("metadata[kind]", "overage")]


@unittest.skipUnless(PYTHON.exists(), "needs .local/localstripe-venv (infra/local/bootstrap.sh localstripe)")
class OneOffInvoiceTest(unittest.TestCase):
    def setUp(self) -> None:
        self.s = StandIn()
        self.addCleanup(self.s.stop)
        self.s.control("clock", {"now": NOW})

    def customer(self, card: str | None = "visa") -> str:
        customer = self.s.ok("POST", "/v1/customers", [("email", f"{uuid.uuid4().hex[:8]}@example.com")])["id"]
        if card is not None:
            self.s.control("card", {"customer": customer, "card": card})
        return customer

    def test_draft_item_finalize_pay_with_a_card_that_pays(self) -> None:
        cus = self.customer()
        pending = self.s.ok("POST", "/v1/invoiceitems", [("customer", cus), ("amount", "999"), ("currency", "inr")])

        draft = self.s.ok("POST", "/v1/invoices", draft_form(cus))
        self.assertEqual((draft["object"], draft["status"], draft["billing_reason"]), ("invoice", "draft", "manual"))
        self.assertEqual((draft["customer"], draft["currency"], draft["collection_method"], draft["auto_advance"]),
                         (cus, "inr", "charge_automatically", False))
        self.assertEqual((draft["amount_due"], draft["total"], draft["subtotal"], draft["lines"]["data"]),
                         (0, 0, 0, []), "exclude leaves the pending item out")
        self.assertEqual(draft["metadata"], {"invoice_id": "inv_01OVERAGE", "subscription_id": "sub_ours_1",
                                             "kind": "overage"})
        self.assertIsNone(draft["parent"], "a one-off invoice has no parent (basil)")
        for gone in ("subscription", "payment_intent", "charge"):
            self.assertNotIn(gone, draft)
        self.assertEqual(self.s.event_types()[-1], "invoice.created")
        invoice = draft["id"]

        item = self.s.ok("POST", "/v1/invoiceitems", item_form(cus, invoice, 12_345))
        self.assertEqual((item["invoice"], item["amount"], item["metadata"]["kind"]), (invoice, 12_345, "overage"))
        got = self.s.ok("GET", f"/v1/invoices/{invoice}")
        self.assertEqual((got["status"], got["amount_due"], got["total"], got["subtotal"]), ("draft", 12_345, 12_345,
                                                                                             12_345))
        self.assertEqual([(line["invoice_item"], line["amount"]) for line in got["lines"]["data"]],
                         [(item["id"], 12_345)])
        self.assertEqual(self.s.event_types()[-1], "invoiceitem.created")

        finalized = self.s.ok("POST", f"/v1/invoices/{invoice}/finalize")
        self.assertEqual((finalized["status"], finalized["status_transitions"]["finalized_at"]), ("open", NOW))
        self.assertEqual(self.s.event_types()[-1], "invoice.finalized")
        status, late = self.s.call("POST", "/v1/invoiceitems", item_form(cus, invoice, 1))
        self.assertEqual((status, late["error"]["type"], late["error"]["param"]), (400, "invalid_request_error",
                                                                                   "invoice"))
        self.assertEqual(self.s.call("POST", f"/v1/invoices/{invoice}/finalize")[0], 400, "finalized once only")

        before = len(self.s.event_types())
        self.s.control("clock", {"now": NOW + 60})
        paid = self.s.ok("POST", f"/v1/invoices/{invoice}/pay")
        self.assertEqual((paid["status"], paid["amount_paid"], paid["amount_due"], paid["billing_reason"]),
                         ("paid", 12_345, 12_345, "manual"))
        self.assertEqual(paid["status_transitions"]["paid_at"], NOW + 60)
        self.assertEqual(paid["metadata"]["kind"], "overage")
        self.assertEqual(self.s.event_types()[before:],
                         ["payment_intent.succeeded", "invoice.payment_succeeded", "invoice.paid"])
        for kind in ("invoice.paid", "invoice.payment_succeeded"):
            event = self.s.events_of(kind)[-1]
            self.assertEqual((event["id"], event["status"], event["billing_reason"], event["parent"]),
                             (invoice, "paid", "manual", None))
            self.assertEqual(event["metadata"]["invoice_id"], "inv_01OVERAGE")

        expanded = self.s.ok("GET", f"/v1/invoices/{invoice}", [("expand[]", "payments")])
        [payment] = expanded["payments"]["data"]
        self.assertEqual((payment["status"], payment["amount_paid"], payment["payment"]["type"]),
                         ("paid", 12_345, "payment_intent"))
        pi = self.s.ok("GET", f"/v1/payment_intents/{payment['payment']['payment_intent']}")
        self.assertEqual((pi["status"], pi["amount"], pi["currency"], pi["customer"]),
                         ("succeeded", 12_345, "inr", cus))
        self.assertEqual(self.s.call("POST", f"/v1/invoices/{invoice}/pay")[0], 400, "already paid")

        listed = self.s.ok("GET", "/v1/invoices", [("customer", cus)])["data"]
        self.assertEqual([i["id"] for i in listed], [invoice])
        still = self.s.ok("GET", "/v1/invoiceitems", [("customer", cus)])["data"]
        self.assertEqual([i["id"] for i in still], [pending["id"]], "the excluded item is still pending")

    def test_a_declined_card_answers_402_and_the_invoice_stays_open(self) -> None:
        cus = self.customer("declined")
        invoice = self.s.ok("POST", "/v1/invoices", draft_form(cus))["id"]
        self.s.ok("POST", "/v1/invoiceitems", item_form(cus, invoice, 5_000))
        self.s.ok("POST", f"/v1/invoices/{invoice}/finalize")
        before = len(self.s.event_types())

        status, answer = self.s.call("POST", f"/v1/invoices/{invoice}/pay", key="pay-once")
        self.assertEqual(status, 402, answer)
        self.assertEqual((answer["error"]["type"], answer["error"]["code"], answer["error"]["decline_code"]),
                         ("card_error", "card_declined", "generic_decline"))
        replay = self.s.call("POST", f"/v1/invoices/{invoice}/pay", key="pay-once")
        self.assertEqual(replay, (status, answer), "the same Idempotency-Key answers the same 402")
        self.assertEqual(self.s.event_types()[before:], ["payment_intent.payment_failed", "invoice.payment_failed"])
        failed = self.s.events_of("invoice.payment_failed")[-1]
        self.assertEqual((failed["id"], failed["status"], failed["billing_reason"], failed["metadata"]["kind"]),
                         (invoice, "open", "manual", "overage"))
        got = self.s.ok("GET", f"/v1/invoices/{invoice}", [("expand[]", "payments")])
        self.assertEqual((got["status"], got["amount_paid"], got["amount_due"], got["attempt_count"]),
                         ("open", 0, 5_000, 1))
        self.assertEqual(got["payments"]["data"][0]["status"], "open")

        # The customer fixes the card: paying again succeeds.
        self.s.control("card", {"customer": cus, "card": "visa"})
        paid = self.s.ok("POST", f"/v1/invoices/{invoice}/pay")
        self.assertEqual((paid["status"], paid["amount_paid"], paid["attempt_count"]), ("paid", 5_000, 2))

    def test_an_open_invoice_can_be_voided_after_a_decline(self) -> None:
        cus = self.customer("declined")
        invoice = self.s.ok("POST", "/v1/invoices", draft_form(cus))["id"]
        self.assertEqual(self.s.call("POST", f"/v1/invoices/{invoice}/void")[0], 400, "a draft is deleted, not void")
        self.s.ok("POST", "/v1/invoiceitems", item_form(cus, invoice, 700))
        self.assertEqual(self.s.call("POST", f"/v1/invoices/{invoice}/pay")[0], 402)
        voided = self.s.ok("POST", f"/v1/invoices/{invoice}/void")
        self.assertEqual((voided["status"], voided["status_transitions"]["voided_at"]), ("void", NOW))
        self.assertEqual(self.s.event_types()[-1], "invoice.voided")
        self.assertEqual(self.s.call("POST", f"/v1/invoices/{invoice}/pay")[0], 400)

    def test_include_sweeps_the_customers_pending_items(self) -> None:
        cus, other = self.customer(), self.customer()
        mine = self.s.ok("POST", "/v1/invoiceitems", [("customer", cus), ("amount", "700"), ("currency", "inr")])
        self.s.ok("POST", "/v1/invoiceitems", [("customer", other), ("amount", "1"), ("currency", "inr")])
        draft = self.s.ok("POST", "/v1/invoices", draft_form(cus, "include"))
        self.assertEqual(([line["invoice_item"] for line in draft["lines"]["data"]], draft["amount_due"]),
                         ([mine["id"]], 700))
        self.assertEqual(self.s.ok("GET", "/v1/invoiceitems", [("customer", cus)])["data"], [])
        self.assertEqual(len(self.s.ok("GET", "/v1/invoiceitems", [("customer", other)])["data"]), 1)

    def test_without_pending_invoice_items_behavior_localstripe_invoices_the_subscription(self) -> None:
        cus = self.customer()
        self.s.control("prices", {"id": "price_basic", "unit_amount": 49_900, "currency": "inr"})
        sub = self.s.ok("POST", "/v1/subscriptions", [("customer", cus), ("items[0][price]", "price_basic")])
        invoice = self.s.ok("POST", "/v1/invoices", [("customer", cus), ("subscription", sub["id"])])
        self.assertEqual(invoice["parent"]["subscription_details"]["subscription"], sub["id"])
        self.assertEqual(invoice["amount_due"], 49_900)

    def test_a_draft_paid_directly_is_finalized_first_and_items_can_be_changed_while_draft(self) -> None:
        cus = self.customer()
        invoice = self.s.ok("POST", "/v1/invoices", draft_form(cus))["id"]
        item = self.s.ok("POST", "/v1/invoiceitems", item_form(cus, invoice, 100))
        self.assertEqual(self.s.ok("POST", f"/v1/invoiceitems/{item['id']}", [("amount", "250")])["amount"], 250)
        extra = self.s.ok("POST", "/v1/invoiceitems", item_form(cus, invoice, 50))
        self.s.ok("DELETE", f"/v1/invoiceitems/{extra['id']}")
        self.assertEqual(self.s.ok("GET", f"/v1/invoices/{invoice}")["amount_due"], 250)
        before = len(self.s.event_types())
        paid = self.s.ok("POST", f"/v1/invoices/{invoice}/pay")
        self.assertEqual((paid["status"], paid["amount_paid"]), ("paid", 250))
        self.assertIsNotNone(paid["status_transitions"]["finalized_at"])
        self.assertEqual(self.s.event_types()[before:], ["invoice.finalized", "payment_intent.succeeded",
                                                         "invoice.payment_succeeded", "invoice.paid"])
        self.assertEqual(self.s.call("POST", f"/v1/invoiceitems/{item['id']}", [("amount", "1")])[0], 400)

    def test_an_empty_invoice_is_paid_when_finalized(self) -> None:
        cus = self.customer(card=None)
        invoice = self.s.ok("POST", "/v1/invoices", draft_form(cus))["id"]
        done = self.s.ok("POST", f"/v1/invoices/{invoice}/finalize")
        self.assertEqual((done["status"], done["amount_paid"]), ("paid", 0))
        self.assertEqual(self.s.event_types()[-3:], ["invoice.finalized", "invoice.payment_succeeded", "invoice.paid"])

    def test_bad_input_is_400_naming_the_parameter(self) -> None:
        cus = self.customer()
        cases = [
            ([("customer", "cus_nope"), ("pending_invoice_items_behavior", "exclude")], "customer"),
            ([("customer", cus), ("pending_invoice_items_behavior", "sometimes")], "pending_invoice_items_behavior"),
            ([("customer", cus), ("pending_invoice_items_behavior", "exclude"), ("colour", "red")], "colour"),
            ([("customer", cus), ("pending_invoice_items_behavior", "exclude"), ("auto_advance", "maybe")],
             "auto_advance"),
        ]
        for form, param in cases:
            status, answer = self.s.call("POST", "/v1/invoices", form)
            self.assertEqual((status, answer["error"].get("param")), (400, param), answer)
        invoice = self.s.ok("POST", "/v1/invoices", draft_form(cus))["id"]
        status, answer = self.s.call("POST", "/v1/invoiceitems", [("customer", cus), ("invoice", invoice),
                                                                  ("amount", "5"), ("currency", "usd")])
        self.assertEqual((status, answer["error"]["param"]), (400, "currency"))
        status, answer = self.s.call("POST", "/v1/invoices/in_nope/finalize")
        self.assertEqual((status, answer["error"]["code"]), (404, "resource_missing"))
        status, answer = self.s.call("POST", "/v1/invoices/in_nope/pay")
        self.assertEqual((status, answer["error"]["code"]), (404, "resource_missing"))


if __name__ == "__main__":
    unittest.main()
