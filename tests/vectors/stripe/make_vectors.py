#!/usr/bin/env python3
"""Generate Stripe webhook `Stripe-Signature` test vectors with Stripe's OFFICIAL Python library.

How to run (from the repository root; the venv lives outside the repo):

    python3 -m venv /tmp/stripevenv
    /tmp/stripevenv/bin/pip install stripe==16.1.0
    /tmp/stripevenv/bin/python tests/vectors/stripe/make_vectors.py

It writes tests/vectors/stripe/webhook-signatures.json next to this file. That JSON is committed, so
`make test` (the Rust tests) needs no Python and no network; rerun this script only to regenerate or
extend the vectors, and commit both files together.

Everything is fixed (secrets, timestamps, payloads), so the output is byte-for-byte reproducible.

- Headers are produced by `stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)`.
- Every case is also run through the official `stripe.WebhookSignature.verify_header(payload, header,
  secret, tolerance=300)` with the library's clock pinned to the case's `now` (by swapping the `time`
  module seen by `stripe._webhook` for a stub). Its conclusion is stored in `official_result` ("ok" or
  the SignatureVerificationError message), and the script asserts that `expect` is exactly the code
  the official library's error maps to. No case intentionally differs from the official library; where
  the official parser is surprising (whitespace, duplicate keys, extra '='), `expect` follows the
  library and the case's `note` says so.
- `verify_header` takes ONE secret; for a case with several `secrets` it is called once per secret and
  the case is "ok" when any call succeeds (that is how secret rotation is done with the library).

Error codes used in `expect`:
  missing_header  header empty
  no_timestamp    no usable `t=` entry ("Unable to extract timestamp and signatures from header")
  no_signature    no `v1=` entry ("No signatures found with expected scheme v1")
  mismatch        no `v1` matches ("No signatures found matching the expected signature for payload")
  stale           signature matches but t < now - 300 ("Timestamp outside the tolerance zone (...)")
"""

import contextlib
import hashlib
import hmac
import json
import sys
import types
from importlib.metadata import version
from pathlib import Path

import stripe
import stripe._webhook as stripe_webhook
from stripe import SignatureVerificationError, WebhookSignature

PINNED_STRIPE_VERSION = "16.1.0"
TOLERANCE = 300
OUT = Path(__file__).resolve().parent / "webhook-signatures.json"

# Fixed secrets (fake, for tests only).
SECRET = "whsec_vecCurrent4mKq9TzR2wLpX7bN0sYhJ3uE5cVdA8f"
OLD_SECRET = "whsec_vecPrevious1Gx6Qn8PzW3rT0kLmS5vB9yHcJ2dF"
OTHER_SECRET = "whsec_vecUnrelated7Hs2Kd9Lq4Wn6Rt1Xz3Pv8Bm5Cj0"

# 2026-01-01T12:00:00Z: the signing time of most cases.
T = 1767268800

# A realistic `invoice.paid` event body, exactly as it would arrive on the wire (2-space indented,
# raw UTF-8 non-ASCII text, plus JSON escape sequences that must NOT be unescaped before verifying).
INVOICE_PAID = r"""{
  "id": "evt_1SkQpL2eZvKYlo2CqW3n8XyZ",
  "object": "event",
  "api_version": "2025-01-27.acacia",
  "created": 1767268795,
  "data": {
    "object": {
      "id": "in_1SkQpK2eZvKYlo2C7d4FgH1j",
      "object": "invoice",
      "account_country": "DE",
      "account_name": "Nordlicht Software GmbH",
      "amount_due": 2900,
      "amount_paid": 2900,
      "amount_remaining": 0,
      "attempt_count": 1,
      "attempted": true,
      "billing_reason": "subscription_cycle",
      "collection_method": "charge_automatically",
      "created": 1767265200,
      "currency": "eur",
      "customer": "cus_TbR4nW8mQz1LkP",
      "customer_address": {
        "city": "München",
        "country": "DE",
        "line1": "Straße des 17. Juni 135",
        "line2": null,
        "postal_code": "80331",
        "state": null
      },
      "customer_email": "zoe.mueller@example.com",
      "customer_name": "Zoë Müller-Łukasiewicz",
      "footer": "Vielen Dank f\u00fcr Ihren Einkauf \u2014 \"Pro\" plan",
      "lines": {
        "object": "list",
        "data": [
          {
            "id": "il_1SkQpK2eZvKYlo2CxV9sLm2N",
            "object": "line_item",
            "amount": 2900,
            "currency": "eur",
            "description": "1 × Pro — unbegrenzte Plätze (à 29,00 € / Monat)",
            "metadata": {},
            "period": {
              "end": 1769947200,
              "start": 1767268800
            },
            "quantity": 1
          }
        ],
        "has_more": false,
        "total_count": 1,
        "url": "/v1/invoices/in_1SkQpK2eZvKYlo2C7d4FgH1j/lines"
      },
      "livemode": false,
      "metadata": {
        "tenant_id": "tnt_01JGZ8W4X0",
        "greeting": "Danke schön! 🚀 ありがとう"
      },
      "number": "NL-2026-0001",
      "paid": true,
      "period_end": 1767268800,
      "period_start": 1764590400,
      "status": "paid",
      "status_transitions": {
        "finalized_at": 1767265260,
        "paid_at": 1767268790
      },
      "subscription": "sub_1Qa9Zx2eZvKYlo2CkT5hRb7e",
      "subtotal": 2900,
      "total": 2900
    }
  },
  "livemode": false,
  "pending_webhooks": 1,
  "request": {
    "id": null,
    "idempotency_key": null
  },
  "type": "invoice.paid"
}"""

PING = '{"id":"evt_test_ping","object":"event","type":"ping"}'

# The official library's SignatureVerificationError messages -> our error codes (prefix match).
OFFICIAL_MESSAGE_CODES = [
    ("No Stripe-Signature header value was provided", "missing_header"),
    ("Unable to extract timestamp and signatures from header", "no_timestamp"),
    ("No signatures found with expected scheme", "no_signature"),
    ("No signatures found matching the expected signature", "mismatch"),
    ("Timestamp outside the tolerance zone", "stale"),
]


def header(payload, secret, timestamp):
    """The official library's header for (payload, secret, timestamp): 't=<ts>,v1=<hex>'."""
    value = WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    # Independent cross-check of the format and the HMAC (HMAC-SHA256 of "<t>.<payload>", lowercase hex).
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.{payload}".encode("utf-8"), hashlib.sha256)
    assert value == f"t={timestamp},v1={mac.hexdigest()}", value
    return value


def v1(payload, secret, timestamp):
    """Just the v1 hex signature the official library produces."""
    value = header(payload, secret, timestamp)
    prefix = f"t={timestamp},v1="
    assert value.startswith(prefix)
    return value[len(prefix):]


@contextlib.contextmanager
def library_clock(now):
    """Pin the clock the official library reads (`time.time()` inside stripe._webhook) to `now`."""
    real = stripe_webhook.time
    stripe_webhook.time = types.SimpleNamespace(time=lambda: float(now))
    try:
        yield
    finally:
        stripe_webhook.time = real


def official_verdict(payload, hdr, secrets, now):
    """Run the official verify_header once per secret; 'ok' if any accepts, else its error message."""
    messages = []
    with library_clock(now):
        for secret in secrets:
            try:
                WebhookSignature.verify_header(payload, hdr, secret, tolerance=TOLERANCE)
                return "ok"
            except SignatureVerificationError as err:
                messages.append(err.user_message or str(err))
    assert len(set(messages)) == 1, f"secrets disagree on the failure: {messages}"
    return messages[0]


def code_of(official):
    if official == "ok":
        return "ok"
    for prefix, code in OFFICIAL_MESSAGE_CODES:
        if official.startswith(prefix):
            return code
    raise AssertionError(f"unmapped official message: {official!r}")


def build_cases():
    good = v1(INVOICE_PAID, SECRET, T)
    good_header = header(INVOICE_PAID, SECRET, T)
    old_sig = v1(INVOICE_PAID, OLD_SECRET, T)
    new_sig = good
    rotation_header = f"t={T},v1={old_sig},v1={new_sig}"

    tampered = INVOICE_PAID.replace('"amount_paid": 2900', '"amount_paid": 9900', 1)
    assert len(tampered) == len(INVOICE_PAID)
    assert sum(a != b for a, b in zip(tampered, INVOICE_PAID)) == 1

    other_sig = v1(INVOICE_PAID, OTHER_SECRET, T)
    non_hex = "zq" * 32  # 64 characters, like a real signature, but not hex

    # (name, payload, header, secrets, now, expect, note)
    return [
        ("valid_invoice_paid", INVOICE_PAID, good_header, [SECRET], T + 5, "ok",
         "Realistic invoice.paid body (nested objects, raw UTF-8 incl. 4-byte emoji, JSON \\u escapes kept "
         "verbatim); signed 5 s ago."),
        ("valid_minimal_payload", PING, header(PING, SECRET, T), [SECRET], T, "ok",
         "Compact single-line body, verified at the signing second."),
        ("valid_at_exactly_tolerance", INVOICE_PAID, good_header, [SECRET], T + 300, "ok",
         "Exactly 300 s old is still accepted (the library rejects only t < now - 300)."),
        ("stale_one_second_past_tolerance", INVOICE_PAID, good_header, [SECRET], T + 301, "stale",
         "301 s old."),
        ("future_timestamp_accepted", INVOICE_PAID, good_header, [SECRET], T - 3600, "ok",
         "t is an hour in the future relative to now; the official library has no upper bound, only the "
         "'too old' check."),
        ("stale_and_wrong_secret_reports_mismatch", INVOICE_PAID, header(INVOICE_PAID, OTHER_SECRET, T),
         [SECRET], T + 1000, "mismatch",
         "Both wrong secret and too old: the library checks signatures before age, so the error is mismatch."),
        ("rotation_two_v1_verified_with_new_secret", INVOICE_PAID, rotation_header, [SECRET], T + 5, "ok",
         "Header carries v1 under the old secret and v1 under the new secret; only the new secret is configured."),
        ("rotation_two_v1_verified_with_old_secret", INVOICE_PAID, rotation_header, [OLD_SECRET], T + 5, "ok",
         "Same header, only the old secret is configured."),
        ("rotation_two_v1_verified_with_unrelated_secret", INVOICE_PAID, rotation_header, [OTHER_SECRET],
         T + 5, "mismatch", "Same header, only a third, unrelated secret is configured."),
        ("rotation_two_secrets_configured", INVOICE_PAID, good_header, [OLD_SECRET, SECRET], T + 5, "ok",
         "Header signed only with the new secret; both old and new secrets configured (official library "
         "called once per secret, ok if any call accepts)."),
        ("v1_and_v0_v0_ignored", INVOICE_PAID, f"t={T},v1={good},v0={other_sig}", [SECRET], T + 5, "ok",
         "Test-mode style header with a v0 entry (here deliberately not a valid signature); v0 is ignored."),
        ("only_v0", INVOICE_PAID, f"t={T},v0={good}", [SECRET], T + 5, "no_signature",
         "The v0 value is the correct HMAC, but only the v1 scheme counts."),
        ("no_timestamp", INVOICE_PAID, f"v1={good}", [SECRET], T + 5, "no_timestamp", "No t= entry."),
        ("timestamp_not_an_integer", INVOICE_PAID, f"t=soon,v1={good}", [SECRET], T + 5, "no_timestamp",
         "t= is present but not an integer; the library fails to parse the header."),
        ("tampered_body_one_character", tampered, good_header, [SECRET], T + 5, "mismatch",
         "Signed body with amount_paid 2900; delivered with 9900 (exactly one character changed)."),
        ("body_trailing_newline_added", INVOICE_PAID + "\n", good_header, [SECRET], T + 5, "mismatch",
         "A newline appended to the body after signing; the signature covers the exact raw bytes."),
        ("tampered_timestamp", INVOICE_PAID, f"t={T + 1},v1={good}", [SECRET], T + 5, "mismatch",
         "t moved 1 s forward after signing (still within tolerance), so only the HMAC can reject it."),
        ("wrong_secret", INVOICE_PAID, header(INVOICE_PAID, OTHER_SECRET, T), [SECRET], T + 5, "mismatch",
         "Signed with a different secret than the one configured."),
        ("signature_hex_uppercased", INVOICE_PAID, f"t={T},v1={good.upper()}", [SECRET], T + 5, "mismatch",
         "Correct signature but uppercase hex; the library compares the exact lowercase hex string."),
        ("v1_not_hex", INVOICE_PAID, f"t={T},v1={non_hex}", [SECRET], T + 5, "mismatch",
         "64-character v1 value that is not hex."),
        ("v1_empty_value", INVOICE_PAID, f"t={T},v1=", [SECRET], T + 5, "mismatch",
         "An empty v1 value still counts as a (non-matching) v1 entry, so this is mismatch, not no_signature."),
        ("empty_header", INVOICE_PAID, "", [SECRET], T + 5, "missing_header", "Header absent/empty."),
        ("whitespace_only_header", INVOICE_PAID, "   ", [SECRET], T + 5, "no_timestamp",
         "Official library only treats an empty string as missing; a whitespace-only header fails parsing "
         "(no t=)."),
        ("unknown_keys_ignored", INVOICE_PAID, f"scheme=hmac,t={T},v2=deadbeef,v1={good},foo=bar,novalue",
         [SECRET], T + 5, "ok",
         "Unknown keys (scheme, v2, foo) and an entry without '=' are ignored."),
        ("spaces_after_commas", INVOICE_PAID, f"t={T}, v1={good}", [SECRET], T + 5, "no_signature",
         "Official parser does NOT trim: the key is ' v1', so no v1 entry is found. (Stripe never sends spaces.)"),
        ("spaces_around_all_entries", INVOICE_PAID, f" t={T} , v1={good} ", [SECRET], T + 5, "no_timestamp",
         "Official parser does NOT trim keys: ' t' is not 't', so no timestamp is found."),
        ("space_after_timestamp_value", INVOICE_PAID, f"t={T} ,v1={good}", [SECRET], T + 5, "ok",
         "Keys are exact, and the library parses t with Python int(), which tolerates surrounding whitespace."),
        ("trailing_space_in_v1_value", INVOICE_PAID, f"t={T},v1={good} ", [SECRET], T + 5, "mismatch",
         "Official parser does NOT trim values: the v1 value is '<hex> ' and does not match."),
        ("duplicate_t_first_wins", INVOICE_PAID, f"t={T},v1={good},t={T + 1000}", [SECRET], T + 5, "ok",
         "Two t entries: the library uses the FIRST one (the signed one), so the later t is ignored."),
        ("v1_value_with_extra_equals", INVOICE_PAID, f"t={T},v1={good}=ignored", [SECRET], T + 5, "ok",
         "Library quirk: entries are split with split('=', 2) and only the 2nd piece is used, so anything "
         "after a second '=' is dropped and the remaining signature matches."),
    ]


def main():
    installed = version("stripe")
    if installed != PINNED_STRIPE_VERSION:
        sys.exit(f"stripe=={installed} is installed; these vectors are pinned to stripe=={PINNED_STRIPE_VERSION}")
    assert stripe.VERSION == installed
    json.loads(INVOICE_PAID)
    json.loads(PING)

    cases = []
    names = set()
    for name, payload, hdr, secrets, now, expect, note in build_cases():
        assert name not in names, name
        names.add(name)
        official = official_verdict(payload, hdr, secrets, now)
        assert code_of(official) == expect, f"{name}: expect {expect!r} but official library said {official!r}"
        cases.append({
            "name": name,
            "payload": payload,
            "header": hdr,
            "secrets": secrets,
            "now": now,
            "expect": expect,
            "official_result": official,
            "note": note,
        })

    doc = {
        "generated_by": (
            f"tests/vectors/stripe/make_vectors.py with Stripe's official Python library stripe=={installed} "
            "(headers: stripe.WebhookSignature.generate_signature_header; official_result: "
            f"stripe.WebhookSignature.verify_header with tolerance={TOLERANCE}, clock pinned to `now`)"
        ),
        "tolerance_seconds": TOLERANCE,
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8", newline="\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
