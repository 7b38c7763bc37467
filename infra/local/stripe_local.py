#!/usr/bin/env python3
"""Local Stripe stand-in: localstripe's aiohttp app on 127.0.0.1, plus what it lacks.

    .local/localstripe-venv/bin/python infra/local/stripe_local.py [--port N] [--webhook URL ...]

Runs inside .local/localstripe-venv (infra/local/bootstrap.sh localstripe); services.py starts it for `make dev`,
and the integration tests start one per test environment (tests/src/stripe_local.rs): this file is the project's
one Stripe stand-in, and the one place that says what it adds to localstripe and where it is still unlike Stripe.
Prints `stripe_local: listening on http://127.0.0.1:PORT` on stdout once it accepts connections.

Added to localstripe (always):
  POST /v1/prices, GET /v1/prices[/ID], POST /v1/prices/ID   recurring prices, each backed by a localstripe Plan
                                                             with the same id (so subscriptions can use it)
  POST /v1/checkout/sessions, GET /v1/checkout/sessions[/ID], POST /v1/checkout/sessions/ID/expire
                                                             mode=subscription only; Idempotency-Key honoured
  GET  /checkout/CS_ID[?card=declined|refused|NUMBER][&redirect=1]
                                                             the "hosted page": attaches a test card, creates the
                                                             subscription, completes the session and sends
                                                             checkout.session.completed (no API key needed)
  POST /v1/invoices with pending_invoice_items_behavior=exclude|include   a one-off invoice, as at Stripe: a draft
                                                             of no subscription (parent null, billing_reason manual),
                                                             customer, currency (default: included items', else the
                                                             customer's subscription's), description, metadata,
                                                             collection_method=charge_automatically, auto_advance
                                                             (default false); exclude: no lines, include: the
                                                             customer's pending items in that currency;
                                                             invoice.created. Without the parameter: localstripe's
                                                             (the subscription's next invoice)
  POST /v1/invoiceitems invoice=ID, POST|DELETE /v1/invoiceitems/ID   on a draft: its lines and totals follow (a
                                                             non-draft: 400 invoice_not_editable; customer and
                                                             currency must match it); invoiceitem.created|updated|
                                                             deleted
  POST /v1/invoices/ID/finalize [auto_advance]               draft -> open, status_transitions.finalized_at,
                                                             invoice.finalized (nothing due: paid at once, with
                                                             invoice.payment_succeeded + invoice.paid)

  GET|POST /_test/<what>                                    the control API (no API key; JSON in and out):
      mode {mode: normal|fail|hang}     every /v1 call answers 500 api_error, or is never answered
      clock {now: epoch seconds|null}   the stand-in's clock (objects, events, periods); null: the real time
      requests                          the /v1 requests so far (the latest 10,000): method, path, form pairs,
                                        Idempotency-Key, Stripe-Version, Authorization
      object?kind=K&id=ID[&expand=a,b]  an object as held, objects?kind=K every one of a kind (not recorded)
      prices {id, unit_amount, currency[, interval]}   a recurring price with a given id, and its product
      checkout {session[, card]}        the customer pays on the hosted page (as GET /checkout/ID)
      renew {subscription}              the next period starts: its invoice is charged (subscription_cycle)
      fail_renewal {subscription}       the same with the customer's card now declining: past_due
      card {customer, card}             the customer's default payment method is now a new test card
                                        (declined: every charge fails; visa; or a 16-digit test card number)
      subscription_status {subscription, status}   Stripe moves it (customer.subscription.updated)
      subscription_deleted {subscription}          Stripe ends it (customer.subscription.deleted)
      refund {type, refund, payment_intent, amount, status}   a refund (made if new, as from the dashboard)
                                        now in `status`, announced as `type` (refund.created|updated|failed)
      charge_refunded {payment_intent, refunds: [[id, amount]...]}   those refunds, then charge.refunded
    Each action answers {"events": [...]}: the events it made, in the order made (delivered to registered
    webhooks as usual; the tests register none and deliver them themselves, in any order they like).

Compatibility shims on top of localstripe (disable all of them with --raw, to see localstripe alone):
  - Idempotency-Key on every POST and DELETE /v1/... (same key + same request -> same response, with header
    Idempotent-Replayed: true; same key + other parameters -> 400 idempotency_error)
  - subscriptions: items[N][price] accepted as items[N][plan]; items with deleted=true dropped;
    proration_behavior (create_prorations|none|always_invoice) and payment_behavior accepted on update;
    metadata updates applied (localstripe drops them); the item keeps its id when its price changes;
    subscription items carry `price` and current_period_start/end (as Stripe does since 2025-03-31.basil);
    cancel_at_period_end=true sets cancel_at/canceled_at; DELETE sets canceled_at, a second DELETE is a no-op
  - objects in the shapes of the version the client pins (2025-03-31.basil): invoices carry the subscription
    and its metadata under parent.subscription_details and no subscription, payment_intent or charge of their
    own; GET /v1/invoices/ID?expand[]=payments (or payments.data.payment.payment_intent) answers `payments`;
    subscriptions keep their periods on their items only
  - declines answer 402 with type card_error and decline_code (localstripe: invalid_request_error)
  - POST /v1/invoices/ID/pay [off_session]: a draft is finalized first (invoice.finalized); a declined charge
    answers 402 card_error and the invoice stays open (localstripe: 200); a one-off invoice counts attempt_count;
    POST /v1/invoices/ID/void of a one-off invoice: open -> void (PaymentIntent canceled), invoice.voided
  - events localstripe never sends: invoice.paid (next to invoice.payment_succeeded), customer.subscription.updated
    (with previous_attributes), payment_intent.payment_failed + invoice.payment_failed when an invoice's charge is
    declined, refund.created + charge.refunded on POST /v1/refunds
  - refunds: `reason` accepted, amount checked against what is left to refund, payment_intent filled in
  - errors: unknown URLs and crashes answer Stripe-shaped JSON instead of aiohttp's plain text; a taken id is
    400 resource_already_exists (localstripe: 409), a missing object carries code resource_missing
  - invoices carry billing_reason (subscription_create, subscription_cycle, subscription_update, manual)
  - GET /v1/events lists newest first, as Stripe does, and filters by types[]
  - a clock (POST /_test/clock) for every object and event time; a renewed subscription's period starts where
    the last one ended (localstripe: always at start_date); a charge's amount_refunded leaves failed refunds out

Still unlike Stripe: time does not pass by itself (renewals, failed renewals and subscription ends happen when
/_test asks, never at a period end; no trial ends, period-end cancellations or payment retries); one item per
subscription; prorations are "minus the previous invoice", not time-based; objects other than invoices and
subscriptions keep localstripe's ~2017 shapes (charge.refunds included, charge.invoice null), and events say
api_version 2017-08-15; hosted checkout with card=declined completes the session unpaid (real Checkout shows the
decline); no billing portal.
One-off invoices: the PaymentIntent is made when paid, not when finalized (no payment_intent.created; a retry makes
a new one), no invoice number, hosted_invoice_url or invoice_pdf, no charge.succeeded/charge.failed or
invoice.updated events, lines keep localstripe's shape (no basil parent/pricing), auto_advance=true never
finalizes or charges by itself, no collection_method=send_invoice, no `subscription` parameter with
pending_invoice_items_behavior, no mark_uncollectible, GET /v1/invoices filters by customer and subscription
only, and the payments of a voided one say open (Stripe: canceled).

Never written to disk: localstripe's own /tmp/localstripe.pickle persistence is switched off (every instance
starts empty; several can run at once). Webhooks: POST /_config/webhooks/<id> (url, secret[, events[]]) as in
localstripe; every event is POSTed once to every registered URL, signed
`Stripe-Signature: t=<created>,v1=hex(hmac_sha256(secret, "<created>.<body>"))`, after --webhook-delay seconds
(default 1, localstripe's; env STRIPE_LOCAL_WEBHOOK_DELAY), never retried.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import copy
import hashlib
import html
import inspect
import logging
import os
import re
import signal
import socket
import sys
import time
import traceback
from datetime import datetime
from urllib.parse import parse_qsl

try:
    from aiohttp import web
    from dateutil.relativedelta import relativedelta
    from localstripe import __version__ as LOCALSTRIPE_VERSION
    from localstripe import resources as R
    from localstripe import server as S
    from localstripe import webhooks as W
    from localstripe.errors import UserError
except ImportError as e:  # pragma: no cover - wrong interpreter
    sys.exit(f"stripe_local: {e}; run me with .local/localstripe-venv/bin/python "
             f"(infra/local/bootstrap.sh localstripe installs it)")

HOST = "127.0.0.1"
API_VERSION = "2017-08-15"  # what localstripe stamps on its events; ours use the same
log = logging.getLogger("stripe_local")

SHIMS = True  # --raw turns the compatibility shims off
BASE_URL = ""  # http://127.0.0.1:PORT, set once bound
WEBHOOK_DELAY = 1.0


def now() -> int:
    return int(_ClockedTime.time())


class _Snapshot:
    """Lets a plain dict be the data of a localstripe Event (which calls ._export() on it)."""

    def __init__(self, obj: dict):
        self.obj = obj

    def _export(self, expand=None):
        return copy.deepcopy(self.obj)


def emit(kind: str, obj, previous_attributes: dict | None = None):
    """Sends an event the way localstripe sends its own: stored (GET /v1/events), delivered once per webhook."""
    event = R.Event(kind, obj if hasattr(obj, "_export") else _Snapshot(obj))
    if previous_attributes:
        event.data["previous_attributes"] = previous_attributes
    R.schedule_webhook(event)
    return event


def bad_request(message: str, param: str | None = None, status: int = 400, code: str | None = None):
    contents = {}
    if param:
        contents["param"] = param
    if code:
        contents["code"] = code
    return UserError(status, message, contents)


def no_such(kind: str, id_, param: str):
    return bad_request(f"No such {kind}: '{id_}'", param, status=404 if param == "id" else 400,
                       code="resource_missing")


def reject_unknown(data: dict, allowed: set[str]):
    for key in data:
        if key not in allowed:
            raise bad_request(f"Received unknown parameter: {key}", key, code="parameter_unknown")


def as_int(value, param: str, minimum: int | None = 0) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise bad_request(f"Invalid integer: {value}", param) from None
    if minimum is not None and n < minimum:
        raise bad_request(f"Invalid {param}: must be at least {minimum}", param)
    return n


def as_bool(value, param: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise bad_request(f"Invalid boolean: {value}", param)


def as_metadata(value, param: str = "metadata") -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise bad_request("Invalid object", param)
    return {str(k): str(v) for k, v in value.items()}


# ---------------------------------------------------------------------------------------------------------------
# prices (backed by localstripe plans with the same id)
# ---------------------------------------------------------------------------------------------------------------


class Price(R.StripeObject):
    object = "price"
    _id_prefix = "price_"

    def __init__(self, plan, lookup_key=None, nickname=None, metadata=None, tax_behavior="unspecified"):
        super().__init__(plan.id)
        self.active = plan.active
        self.billing_scheme = "per_unit"
        self.currency = plan.currency
        self.custom_unit_amount = None
        self.lookup_key = lookup_key
        self.metadata = metadata or {}
        self.nickname = nickname
        self.product = plan.product
        self.recurring = {"aggregate_usage": None, "interval": plan.interval,
                          "interval_count": plan.interval_count, "meter": None,
                          "trial_period_days": None, "usage_type": "licensed"}
        self.tax_behavior = tax_behavior
        self.tiers_mode = None
        self.transform_quantity = None
        self.type = "recurring"
        self.unit_amount = plan.amount
        self.unit_amount_decimal = str(plan.amount)

    @classmethod
    def _for_plan(cls, plan) -> dict:
        """The price of a plan: ours when it was made through /v1/prices, else one derived from the plan."""
        price = R.store.get("price:" + plan.id)
        if price is not None:
            return price._export()
        return {"id": plan.id, "object": "price", "active": plan.active, "billing_scheme": plan.billing_scheme,
                "created": plan.created, "currency": plan.currency, "custom_unit_amount": None, "livemode": False,
                "lookup_key": None, "metadata": dict(plan.metadata or {}), "nickname": plan.nickname,
                "product": plan.product,
                "recurring": {"aggregate_usage": None, "interval": plan.interval,
                              "interval_count": plan.interval_count, "meter": None,
                              "trial_period_days": plan.trial_period_days, "usage_type": plan.usage_type},
                "tax_behavior": "unspecified", "tiers_mode": plan.tiers_mode, "transform_quantity": None,
                "type": "recurring", "unit_amount": plan.amount,
                "unit_amount_decimal": None if plan.amount is None else str(plan.amount)}


def _prices():
    return [v for k, v in R.store.items() if k.startswith("price:")]


def _take_lookup_key(lookup_key: str | None, transfer: bool, exclude: str | None = None):
    if lookup_key is None:
        return
    for p in _prices():
        if p.lookup_key == lookup_key and p.id != exclude:
            if not transfer:
                raise bad_request(f"A price (`{p.id}`) already uses that lookup key.", "lookup_key")
            p.lookup_key = None


PRICE_CREATE_PARAMS = {"currency", "unit_amount", "unit_amount_decimal", "product", "product_data", "recurring",
                       "lookup_key", "transfer_lookup_key", "nickname", "metadata", "active", "tax_behavior",
                       "billing_scheme"}


def create_price(data: dict) -> Price:
    reject_unknown(data, PRICE_CREATE_PARAMS)
    currency = data.get("currency")
    if not isinstance(currency, str) or not re.fullmatch(r"[a-zA-Z]{3}", currency):
        raise bad_request("Missing required param: currency.", "currency")
    if "unit_amount" in data:
        amount = as_int(data["unit_amount"], "unit_amount")
    elif "unit_amount_decimal" in data:
        amount = as_int(data["unit_amount_decimal"], "unit_amount_decimal")
    else:
        raise bad_request("Missing required param: unit_amount.", "unit_amount")
    if data.get("billing_scheme", "per_unit") != "per_unit":
        raise bad_request("The stand-in supports billing_scheme=per_unit only.", "billing_scheme")
    recurring = data.get("recurring")
    if not isinstance(recurring, dict):
        raise bad_request("The stand-in supports recurring prices only (localstripe subscriptions need a plan): "
                          "pass recurring[interval].", "recurring")
    reject_unknown({f"recurring[{k}]": v for k, v in recurring.items()},
                   {"recurring[interval]", "recurring[interval_count]", "recurring[usage_type]"})
    interval = recurring.get("interval")
    if interval not in ("day", "week", "month", "year"):
        raise bad_request("Invalid recurring[interval]: must be one of day, week, month, or year",
                          "recurring[interval]")
    interval_count = as_int(recurring.get("interval_count", 1), "recurring[interval_count]", 1)
    if recurring.get("usage_type", "licensed") != "licensed":
        raise bad_request("The stand-in supports recurring[usage_type]=licensed only.", "recurring[usage_type]")
    product, product_data = data.get("product"), data.get("product_data")
    if (product is None) == (product_data is None):
        raise bad_request("You must specify exactly one of product or product_data.", "product")
    if product is not None:
        if not isinstance(product, str) or ("product:" + product) not in R.store:
            raise no_such("product", product, "product")
    else:
        if not isinstance(product_data, dict) or not product_data.get("name"):
            raise bad_request("Missing required param: product_data[name].", "product_data[name]")
        reject_unknown({f"product_data[{k}]": v for k, v in product_data.items()},
                       {"product_data[name]", "product_data[metadata]", "product_data[active]",
                        "product_data[statement_descriptor]", "product_data[id]"})
    lookup_key = data.get("lookup_key")
    if lookup_key is not None and (not isinstance(lookup_key, str) or not lookup_key or len(lookup_key) > 200):
        raise bad_request("Invalid lookup_key", "lookup_key")
    transfer = as_bool(data.get("transfer_lookup_key", False), "transfer_lookup_key")
    active = as_bool(data.get("active", True), "active")
    metadata = as_metadata(data.get("metadata"))
    nickname = data.get("nickname")
    tax_behavior = data.get("tax_behavior", "unspecified")
    if tax_behavior not in ("exclusive", "inclusive", "unspecified"):
        raise bad_request("Invalid tax_behavior", "tax_behavior")
    _take_lookup_key(lookup_key, transfer)
    if product is None:
        product = R.Product(name=product_data["name"], id=product_data.get("id"),
                            metadata=as_metadata(product_data.get("metadata"), "product_data[metadata]")).id
    price_id = "price_" + R.random_id(24)
    plan = R.Plan(id=price_id, product=product, amount=amount, currency=currency.lower(), interval=interval,
                  interval_count=interval_count, nickname=nickname, metadata=dict(metadata), active=active)
    price = Price(plan, lookup_key=lookup_key, nickname=nickname, metadata=metadata, tax_behavior=tax_behavior)
    emit("price.created", price)
    return price


def update_price(price_id: str, data: dict) -> Price:
    price = get_price(price_id)
    reject_unknown(data, {"active", "metadata", "nickname", "lookup_key", "transfer_lookup_key", "tax_behavior"})
    previous = price._export()
    if "lookup_key" in data:
        key = data["lookup_key"] or None
        _take_lookup_key(key, as_bool(data.get("transfer_lookup_key", False), "transfer_lookup_key"), price.id)
        price.lookup_key = key
    if "active" in data:
        price.active = as_bool(data["active"], "active")
        R.Plan._api_retrieve(price.id).active = price.active
    if "nickname" in data:
        price.nickname = data["nickname"] or None
    if "tax_behavior" in data:
        price.tax_behavior = data["tax_behavior"]
    if "metadata" in data:
        for k, v in as_metadata(data["metadata"]).items():
            if v == "":
                price.metadata.pop(k, None)
            else:
                price.metadata[k] = v
    after = price._export()
    changed = {k: previous[k] for k in after if previous.get(k) != after[k]}
    if changed:
        emit("price.updated", price, changed)
    return price


def get_price(price_id: str) -> Price:
    price = R.store.get("price:" + str(price_id))
    if price is None:
        raise no_such("price", price_id, "id")
    return price


def list_prices(query: dict):
    reject_unknown(query, {"active", "currency", "product", "lookup_keys", "type", "limit", "starting_after",
                           "recurring"})
    items = sorted(_prices(), key=lambda p: p.created, reverse=True)
    if "active" in query:
        active = as_bool(query["active"], "active")
        items = [p for p in items if p.active == active]
    if "currency" in query:
        items = [p for p in items if p.currency == str(query["currency"]).lower()]
    if "product" in query:
        items = [p for p in items if p.product == query["product"]]
    if "lookup_keys" in query:
        keys = query["lookup_keys"] if isinstance(query["lookup_keys"], list) else [query["lookup_keys"]]
        items = [p for p in items if p.lookup_key in keys]
    if query.get("type") == "one_time":
        items = []
    li = R.List("/v1/prices", limit=query.get("limit"), starting_after=query.get("starting_after"))
    li._list = items
    return li


# ---------------------------------------------------------------------------------------------------------------
# checkout sessions
# ---------------------------------------------------------------------------------------------------------------


class CheckoutSession(R.StripeObject):
    object = "checkout.session"
    _id_prefix = "cs_test_"

    def __init__(self):
        super().__init__("cs_test_" + R.random_id(58))


CHECKOUT_PARAMS = {"mode", "customer", "customer_email", "line_items", "success_url", "cancel_url",
                   "client_reference_id", "metadata", "subscription_data", "expires_at", "allow_promotion_codes",
                   "payment_method_types", "billing_address_collection", "locale", "customer_update",
                   "automatic_tax", "tax_id_collection", "consent_collection", "custom_text", "ui_mode",
                   "payment_method_collection", "saved_payment_method_options"}


def create_checkout_session(data: dict) -> CheckoutSession:
    reject_unknown(data, CHECKOUT_PARAMS)
    mode = data.get("mode")
    if mode is None:
        raise bad_request("Missing required param: mode.", "mode")
    if mode != "subscription":
        raise bad_request(f"The stand-in supports mode=subscription only (got {mode!r}).", "mode")
    if data.get("ui_mode", "hosted") != "hosted":
        raise bad_request("The stand-in supports ui_mode=hosted only.", "ui_mode")
    customer, customer_email = data.get("customer"), data.get("customer_email")
    if customer is not None and customer_email is not None:
        raise bad_request("You may only specify one of these parameters: customer, customer_email.", "customer")
    if customer is not None and ("customer:" + str(customer)) not in R.store:
        raise no_such("customer", customer, "customer")
    items = data.get("line_items")
    if not isinstance(items, list) or not items:
        raise bad_request("Missing required param: line_items.", "line_items")
    if len(items) != 1:
        raise bad_request("The stand-in supports exactly one line item (localstripe subscriptions have one item).",
                          "line_items")
    item = items[0]
    if not isinstance(item, dict):
        raise bad_request("Invalid line_items[0]", "line_items[0]")
    reject_unknown({f"line_items[0][{k}]": v for k, v in item.items()},
                   {"line_items[0][price]", "line_items[0][quantity]", "line_items[0][adjustable_quantity]"})
    price_id = item.get("price")
    if price_id is None:
        raise bad_request("Missing required param: line_items[0][price].", "line_items[0][price]")
    price = R.store.get("price:" + str(price_id))
    if price is None:
        plan = R.store.get("plan:" + str(price_id))  # a plan made through /v1/plans works too
        if plan is None:
            raise no_such("price", price_id, "line_items[0][price]")
        unit_amount, currency, active = plan.amount, plan.currency, plan.active
    else:
        unit_amount, currency, active = price.unit_amount, price.currency, price.active
    if not active:
        raise bad_request("The price specified is inactive. This field only accepts active prices.",
                          "line_items[0][price]")
    quantity = as_int(item.get("quantity", 1), "line_items[0][quantity]", 1)
    sub_data = data.get("subscription_data") or {}
    if not isinstance(sub_data, dict):
        raise bad_request("Invalid subscription_data", "subscription_data")
    reject_unknown({f"subscription_data[{k}]": v for k, v in sub_data.items()},
                   {"subscription_data[metadata]", "subscription_data[trial_period_days]",
                    "subscription_data[description]"})
    trial_days = None
    if "trial_period_days" in sub_data:
        trial_days = as_int(sub_data["trial_period_days"], "subscription_data[trial_period_days]", 1)
    created = now()
    expires_at = created + 24 * 3600
    if "expires_at" in data:
        expires_at = as_int(data["expires_at"], "expires_at")
        if not created + 30 * 60 <= expires_at <= created + 24 * 3600:
            raise bad_request("expires_at must be between 30 minutes and 24 hours from now.", "expires_at")

    s = CheckoutSession()
    s.created = created
    s.mode = mode
    s.status = "open"
    s.url = f"{BASE_URL}/checkout/{s.id}"
    s.customer = customer
    s.customer_email = customer_email
    s.customer_creation = None if customer else "always"
    s.customer_details = None
    s.client_reference_id = data.get("client_reference_id")
    s.metadata = as_metadata(data.get("metadata"))
    s.payment_status = "unpaid"
    s.subscription = None
    s.invoice = None
    s.payment_intent = None
    s.expires_at = expires_at
    s.success_url = data.get("success_url")
    s.cancel_url = data.get("cancel_url")
    s.currency = currency
    s.amount_subtotal = unit_amount * quantity
    s.amount_total = unit_amount * quantity
    s.allow_promotion_codes = as_bool(data["allow_promotion_codes"], "allow_promotion_codes") \
        if "allow_promotion_codes" in data else None
    s.locale = data.get("locale")
    s.payment_method_types = ["card"]
    s.ui_mode = "hosted"
    s._price = str(price_id)
    s._quantity = quantity
    s._subscription_metadata = as_metadata(sub_data.get("metadata"), "subscription_data[metadata]")
    s._trial_period_days = trial_days
    return s


def get_session(session_id: str) -> CheckoutSession:
    s = R.store.get("checkout.session:" + str(session_id))
    if s is None:
        raise no_such("checkout.session", session_id, "id")
    _expire_if_due(s)
    return s


def _expire_if_due(s: CheckoutSession) -> None:
    if s.status == "open" and now() >= s.expires_at:
        _expire(s)


def _expire(s: CheckoutSession) -> None:
    s.status = "expired"
    s.url = None
    emit("checkout.session.expired", s)


def list_sessions(query: dict):
    reject_unknown(query, {"customer", "subscription", "status", "payment_intent", "limit", "starting_after"})
    items = sorted((v for k, v in R.store.items() if k.startswith("checkout.session:")),
                   key=lambda s: s.created, reverse=True)
    for s in items:
        _expire_if_due(s)
    for key in ("customer", "subscription", "status", "payment_intent"):
        if key in query:
            items = [s for s in items if getattr(s, key) == query[key]]
    li = R.List("/v1/checkout/sessions", limit=query.get("limit"), starting_after=query.get("starting_after"))
    li._list = items
    return li


CARDS = {"": "4242424242424242", "visa": "4242424242424242", "ok": "4242424242424242",
         "declined": "4000000000000341",  # attaches, every charge fails
         "refused": "4000000000000002"}  # declined when attached


def complete_checkout(s: CheckoutSession, card: str) -> tuple[int, str]:
    """The hosted page's work. Returns (HTTP status, message) for the page."""
    number = CARDS.get(card, card)
    if not re.fullmatch(r"\d{16}", number):
        return 400, f"Unknown card {card!r}: use card=declined, card=refused or a 16-digit test card number."
    customer = s.customer
    if customer is None:
        customer = R.Customer._api_create(email=s.customer_email).id
    pm = R.PaymentMethod(type="card", card={"number": number, "exp_month": "12",
                                            "exp_year": str(time.gmtime().tm_year + 3), "cvc": "123"})
    try:
        R.PaymentMethod._api_attach(pm.id, customer=customer)
    except UserError as e:
        return 402, f"Your card was declined ({e.body['error'].get('code')}). The session is still open: try again."
    s.customer = customer
    R.Customer._api_update(customer, invoice_settings={"default_payment_method": pm.id})
    kwargs = {"customer": customer, "items": [{"plan": s._price, "quantity": s._quantity}],
              "metadata": dict(s._subscription_metadata)}
    if s._trial_period_days:
        kwargs["trial_period_days"] = s._trial_period_days
    sub = R.Subscription._api_create(**kwargs)
    sub.default_payment_method = pm.id  # as Checkout does: the card is the subscription's default
    invoice = R.store.get("invoice:" + sub.latest_invoice) if sub.latest_invoice else None
    paid = invoice is None or invoice.status == "paid"
    cus = R.Customer._api_retrieve(customer)
    s.status = "complete"
    s.url = None
    s.subscription = sub.id
    s.invoice = sub.latest_invoice
    s.payment_status = "paid" if paid and invoice is not None else ("no_payment_required" if paid else "unpaid")
    s.customer_details = {"email": cus.email, "name": cus.name, "phone": cus.phone, "address": cus.address,
                          "tax_exempt": "none", "tax_ids": []}
    emit("checkout.session.completed", s)
    if paid:
        return 200, f"Subscription {sub.id} is {sub.status}."
    return 200, (f"The first payment failed (card {number}): subscription {sub.id} is {sub.status}, "
                 f"invoice {invoice.id} is {invoice.status}.")


def _page(title: str, body: str, status: int = 200) -> web.Response:
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
           f"<body style='font-family:sans-serif;max-width:40em;margin:3em auto'><h1>{html.escape(title)}</h1>"
           f"{body}<p style='color:#888'>Local Stripe stand-in (localstripe {LOCALSTRIPE_VERSION})</p></body></html>")
    return web.Response(status=status, text=doc, content_type="text/html")


async def hosted_checkout(request: web.Request) -> web.Response:
    s = R.store.get("checkout.session:" + request.match_info["id"])
    if s is None:
        return _page("No such checkout session", "", 404)
    _expire_if_due(s)
    success = (s.success_url or "").replace("{CHECKOUT_SESSION_ID}", s.id)
    if s.status == "expired":
        return _page("This checkout session has expired", "", 410)
    if s.status == "complete":
        status, msg = 200, f"Already completed: subscription {s.subscription}, payment status {s.payment_status}."
    else:
        status, msg = complete_checkout(s, request.query.get("card", ""))
    if status == 200 and request.query.get("redirect") and success:
        raise web.HTTPSeeOther(success)
    title = {200: "Payment succeeded" if s.payment_status != "unpaid" else "Payment failed",
             402: "Card declined"}.get(status, "Bad request")
    amount = f"{s.amount_total / 100:.2f} {s.currency.upper()}"
    body = (f"<p>{html.escape(msg)}</p><p>Session <code>{s.id}</code>, {html.escape(amount)}"
            f"{', customer <code>' + html.escape(s.customer) + '</code>' if s.customer else ''}.</p>")
    if success and status == 200:
        body += f"<p><a href='{html.escape(success, quote=True)}'>Continue to {html.escape(success)}</a></p>"
    return _page(title, body, status)


# ---------------------------------------------------------------------------------------------------------------
# one-off invoices: a draft of no subscription, items added to it, finalized, then paid (as Stripe's API has it)
# ---------------------------------------------------------------------------------------------------------------

ONE_OFF_PARAMS = {"customer", "pending_invoice_items_behavior", "collection_method", "auto_advance", "currency",
                  "description", "metadata", "default_tax_rates", "default_payment_method"}
_HIDDEN = "in_stripe_local_hidden"  # marks pending items while localstripe's Invoice() would sweep them


def _invoice(invoice_id, param: str = "id"):
    inv = R.store.get("invoice:" + str(invoice_id)) if isinstance(invoice_id, str) else None
    if inv is None:
        raise no_such("invoice", invoice_id, param)
    return inv


def _customer_currency(customer) -> str:
    """The currency an invoice of this customer defaults to: its subscription's, else localstripe's default."""
    for sub in customer.subscriptions._list:
        return sub.plan.currency
    return "eur"


def create_one_off_invoice(data: dict):
    """POST /v1/invoices with pending_invoice_items_behavior: a draft with no lines of its own (include: the
    customer's pending invoice items in its currency; exclude: none), billing_reason manual, parent null."""
    if "subscription" in data:
        raise bad_request("The stand-in does not invoice a subscription's pending items with "
                          "pending_invoice_items_behavior: leave out subscription.", "subscription")
    reject_unknown(data, ONE_OFF_PARAMS)
    customer_id = data.get("customer")
    if customer_id is None:
        raise bad_request("Missing required param: customer.", "customer")
    if not isinstance(customer_id, str) or ("customer:" + customer_id) not in R.store:
        raise no_such("customer", customer_id, "customer")
    behavior = data["pending_invoice_items_behavior"]
    if behavior not in ("include", "exclude"):
        raise bad_request("Invalid pending_invoice_items_behavior: must be one of exclude or include",
                          "pending_invoice_items_behavior")
    collection = data.get("collection_method", "charge_automatically")
    if collection == "send_invoice":
        raise bad_request("The stand-in supports collection_method=charge_automatically only.", "collection_method")
    if collection != "charge_automatically":
        raise bad_request("Invalid collection_method: must be one of charge_automatically or send_invoice",
                          "collection_method")
    auto_advance = as_bool(data.get("auto_advance", False), "auto_advance")  # API-made invoices: false
    currency = data.get("currency")
    if currency is not None:
        if not isinstance(currency, str) or not re.fullmatch(r"[a-zA-Z]{3}", currency):
            raise bad_request(f"Invalid currency: {currency}", "currency")
        currency = currency.lower()
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise bad_request("Invalid string", "description")
    metadata = as_metadata(data.get("metadata"))
    default_pm = data.get("default_payment_method")
    if default_pm is not None and (not isinstance(default_pm, str) or ("payment_method:" + default_pm) not in R.store):
        raise no_such("payment_method", default_pm, "default_payment_method")
    customer = R.Customer._api_retrieve(customer_id)
    pending = R.InvoiceItem._api_list_all(None, customer=customer_id, limit=99)._list  # invoice is None
    for ii in pending:  # localstripe's constructor takes every pending item: hide them, we choose below
        ii.invoice = _HIDDEN
    try:
        inv = R.Invoice(customer=customer_id, description=description or None, metadata=metadata,
                        default_tax_rates=data.get("default_tax_rates"), simulation=True)  # simulation: no event
    finally:
        for ii in pending:
            ii.invoice = None
    taken = sorted(pending, key=lambda ii: (ii.date, ii.created)) if behavior == "include" else []
    if currency is None:
        currency = taken[0].currency if taken else _customer_currency(customer)
    for ii in taken:
        if ii.currency == currency:
            ii.invoice = inv.id
            inv.lines._list.append(R.InvoiceLineItem(ii))
    inv.currency = currency
    inv.collection_method = collection
    inv.auto_advance = auto_advance
    inv.attempt_count, inv.attempted = 0, False  # no payment attempted yet (localstripe: 1, true)
    inv.ending_balance = None  # Stripe: null until finalized
    inv.period_start = inv.period_end = inv.created  # Stripe: a one-off invoice's period is its creation
    # Kept and shown; paying charges the customer's default, which the stand-in's checkout makes this same card.
    inv.default_payment_method = default_pm
    inv._one_off = True
    emit("invoice.created", inv)
    return inv


def finalize_invoice(invoice_id: str, data: dict):
    """POST /v1/invoices/ID/finalize: draft -> open (finalized_at, invoice.finalized); nothing due -> paid."""
    reject_unknown(data, {"auto_advance"})
    inv = _invoice(invoice_id)
    if inv.status != "draft":
        raise bad_request("This invoice is already finalized, you can't re-finalize a non-draft invoice.",
                          code="invoice_not_editable")
    if "auto_advance" in data:
        inv.auto_advance = as_bool(data["auto_advance"], "auto_advance")
    _finalize_draft(inv)
    return inv


def _finalize_draft(inv) -> None:
    inv._finalize()
    if getattr(inv, "_one_off", False):
        inv.ending_balance = max(0, R.Customer._api_retrieve(inv.customer).account_balance - inv.subtotal - inv.tax)
    emit("invoice.finalized", inv)
    if inv.status == "paid":  # nothing due: Stripe marks it paid when it finalizes it
        inv.auto_advance = False
        inv._on_payment_success()


def _draft_of_item(item_invoice, param: str = "invoice"):
    """The invoice an item is on, which must still be a draft (Stripe: 400 otherwise)."""
    inv = _invoice(item_invoice, param)
    if inv.status != "draft":
        raise bad_request(f"Invoice {inv.id} is no longer a draft ({inv.status}): invoice items can only be "
                          "added to, changed on or removed from draft invoices.", param,
                          code="invoice_not_editable")
    return inv


def install_one_off_invoices() -> None:
    Inv, Item = R.Invoice, R.InvoiceItem

    original_invoice_create = Inv._api_create.__func__

    def invoice_create(cls, **data):
        if "pending_invoice_items_behavior" not in data:  # localstripe's: the subscription's next invoice
            return original_invoice_create(cls, **data)
        return create_one_off_invoice(data)

    Inv._api_create = classmethod(invoice_create)

    # Time never passes here, so a one-off invoice is never attempted by itself (localstripe: its date).
    next_attempt = Inv.next_payment_attempt.fget
    Inv.next_payment_attempt = property(lambda self: None if getattr(self, "_one_off", False) else next_attempt(self))

    # POST /v1/invoiceitems with invoice=ID: on that draft (its lines and totals); localstripe only set the field.
    original_item_create = Item._api_create.__func__

    def item_create(cls, **data):
        inv = None
        if data.get("invoice") is not None:
            inv = _draft_of_item(data["invoice"])
            if data.get("customer") is not None and data["customer"] != inv.customer:
                raise bad_request(f"The invoice {inv.id} belongs to customer {inv.customer}, not "
                                  f"{data['customer']}.", "customer")
            data.setdefault("customer", inv.customer)
            data.setdefault("currency", inv.currency)
            if str(data["currency"]).lower() != inv.currency:
                raise bad_request(f"The currency of the invoice item ({data['currency']}) must match the "
                                  f"invoice's ({inv.currency}).", "currency")
        if isinstance(data.get("currency"), str):
            data["currency"] = data["currency"].lower()
        item = original_item_create(cls, **data)
        if inv is not None:
            inv.lines._list.append(R.InvoiceLineItem(item))
        emit("invoiceitem.created", item)
        return item

    Item._api_create = classmethod(item_create)

    def line_of(inv, item_id):
        return next((il for il in inv.lines._list if getattr(il, "invoice_item", None) == item_id), None)

    original_item_update = Item._api_update.__func__

    def item_update(cls, id, **data):
        item = Item._api_retrieve(id)
        if "amount" in data:
            data["amount"] = as_int(data["amount"], "amount", None)
        inv = _draft_of_item(item.invoice, "id") if item.invoice is not None else None
        if inv is not None:
            reject_unknown(data, {"amount", "description", "metadata"})
        item = original_item_update(cls, id, **data)
        line = line_of(inv, id) if inv is not None else None
        if line is not None:
            line.amount, line.description, line.metadata = item.amount, item.description, item.metadata
        emit("invoiceitem.updated", item)
        return item

    Item._api_update = classmethod(item_update)

    original_item_delete = Item._api_delete.__func__

    def item_delete(cls, id):
        item = Item._api_retrieve(id)
        if item.invoice is not None:
            inv = _draft_of_item(item.invoice, "id")
            inv.lines._list = [il for il in inv.lines._list if getattr(il, "invoice_item", None) != id]
        deleted = original_item_delete(cls, id)
        emit("invoiceitem.deleted", item)
        return deleted

    Item._api_delete = classmethod(item_delete)


def pay_invoice(invoice_id: str, data: dict):
    """POST /v1/invoices/ID/pay as Stripe answers it: a draft is finalized first (invoice.finalized); the
    customer's default payment method is charged; a decline answers 402 card_error and the invoice stays open
    (payment_intent.payment_failed and invoice.payment_failed sent)."""
    reject_unknown(data, {"off_session"})
    if "off_session" in data:
        as_bool(data["off_session"], "off_session")
    inv = _invoice(invoice_id)
    if inv.status == "draft":
        _finalize_draft(inv)
        if inv.status == "paid":
            return inv
    if inv.status == "paid":
        raise bad_request("Invoice is already paid")
    if inv.status != "open":
        raise bad_request(f"You can only pay an open invoice; this one is {inv.status}.",
                          code="invoice_not_editable")
    if R.Customer._api_retrieve(inv.customer)._get_default_payment_method_or_source() is None:
        raise bad_request("This customer has no attached payment source or default payment method.")
    R.Invoice._api_pay_invoice(inv.id)
    if getattr(inv, "_one_off", False):
        inv.attempt_count += 1
        inv.attempted = True
        if inv.status == "paid":
            inv.auto_advance = False
    charge = inv.charge
    if inv.status == "open" and charge is not None and charge.status == "failed":
        raise UserError(402, charge.failure_message, {"code": charge.failure_code, "charge": charge.id})
    return inv


def void_invoice(invoice_id: str, data: dict):
    """POST /v1/invoices/ID/void of a one-off invoice: open -> void (its PaymentIntent canceled), invoice.voided;
    a draft or a paid one is 400 (localstripe's void needs a PaymentIntent, and is kept for the others)."""
    reject_unknown(data, set())
    inv = _invoice(invoice_id)
    if not getattr(inv, "_one_off", False):
        return R.Invoice._api_void_invoice(inv.id)
    if inv.status != "open":
        raise bad_request(f"You can only void an open invoice; this one is {inv.status}"
                          f"{' (delete a draft instead)' if inv.status == 'draft' else ''}.",
                          code="invoice_not_editable")
    if inv.payment_intent:
        R.PaymentIntent._api_cancel(inv.payment_intent)
    inv._voided = True
    inv.auto_advance = False
    inv.status_transitions["voided_at"] = now()
    emit("invoice.voided", inv)
    return inv


# ---------------------------------------------------------------------------------------------------------------
# compatibility shims (patches applied to localstripe's classes at start-up, in this process only)
# ---------------------------------------------------------------------------------------------------------------


def _item_price(self):
    return Price._for_plan(self.plan)


def _item_period_start(self):
    return self._current_period()["start"]


def _item_period_end(self):
    return self._current_period()["end"]


def _prices_to_plans(items, param="items"):
    if not isinstance(items, list):
        return items
    if len(items) > 1:  # [{id: old, deleted: true}, {price: new}] -> [{price: new}]
        kept = [i for i in items if not (isinstance(i, dict) and str(i.get("deleted", "")).lower() == "true")]
        if kept:
            items = kept
    for n, item in enumerate(items):
        if isinstance(item, dict):
            item.pop("deleted", None)
            if "price" in item:
                if item.get("plan") not in (None, item["price"]):
                    raise bad_request("You may only specify one of these parameters: plan, price.",
                                      f"{param}[{n}][price]")
                item["plan"] = item.pop("price")
    return items


def _subscription_metadata(sub_id: str) -> dict:
    sub = R.store.get("subscription:" + sub_id)
    return dict(sub.metadata or {}) if sub is not None else {}


def _invoice_payments(invoice, expand: set[str]) -> dict:
    """Invoice.payments as Stripe has it since 2025-03-31.basil (one payment: the invoice's PaymentIntent)."""
    data = []
    if invoice.payment_intent:
        pi = R.PaymentIntent._api_retrieve(invoice.payment_intent)
        paid = invoice.status == "paid"
        data.append({
            "id": "inpay_" + invoice.id[3:], "object": "invoice_payment", "amount_paid": invoice.amount_paid,
            "amount_requested": invoice.amount_due, "created": pi.created, "currency": invoice.currency,
            "invoice": invoice.id, "is_default": True, "livemode": False,
            "payment": {"type": "payment_intent",
                        "payment_intent": pi._export() if "payment_intent" in expand else pi.id},
            "status": "paid" if paid else "open",
            "status_transitions": {"canceled_at": None,
                                   "paid_at": invoice.status_transitions["paid_at"] if paid else None}})
    return {"object": "list", "data": data, "has_more": False, "total_count": len(data),
            "url": f"/v1/invoice_payments?invoice={invoice.id}"}


def _pending_items(customer: str) -> set[str]:
    return {k for k, v in R.store.items() if k.startswith("invoiceitem:") and v.customer == customer
            and v.invoice is None}


def install_shims() -> None:
    Sub, Inv, PI, Refund, Charge = R.Subscription, R.Invoice, R.PaymentIntent, R.Refund, R.Charge

    # Invoices: the subscription's metadata under parent.subscription_details (basil) and subscription_details
    # (older versions), as Stripe snapshots it; localstripe has parent.subscription_details.subscription only.
    def invoice_parent(self):
        if not self.subscription:
            return None
        return {"type": "subscription_details", "quote_details": None,
                "subscription_details": {"subscription": self.subscription,
                                         "metadata": _subscription_metadata(self.subscription)}}

    Inv.parent = property(invoice_parent)

    # GET /v1/invoices/ID?expand[]=payments (basil's way to the PaymentIntent); localstripe answers 400.
    original_invoice_export = Inv._export

    def invoice_export(self, expand=None):
        wanted = [e for e in (expand or []) if isinstance(e, str) and e.split(".")[0] == "payments"]
        obj = original_invoice_export(self, expand=[e for e in (expand or []) if e not in wanted] or None)
        if wanted:
            obj["payments"] = _invoice_payments(self, {e.split(".")[-1] for e in wanted})
        # basil has none of these on the invoice: the subscription is under parent, the payment under payments.
        for gone in ("subscription", "subscription_details", "payment_intent", "charge"):
            obj.pop(gone, None)
        return obj

    Inv._export = invoice_export

    # basil keeps a subscription's periods on its items only.
    original_sub_export = Sub._export

    def sub_export(self, expand=None):
        obj = original_sub_export(self, expand=expand)
        obj.pop("current_period_start", None)
        obj.pop("current_period_end", None)
        return obj

    Sub._export = sub_export

    # A renewed subscription's period starts where the last one ended (localstripe: always at start_date).
    original_current_period = R.SubscriptionItem._current_period

    def current_period(self):
        sub = R.store.get("subscription:" + self._subscription) if self._subscription else None
        start = getattr(sub, "_period_start", None)
        if start is None:
            return original_current_period(self)
        step = {"day": relativedelta(days=1), "week": relativedelta(weeks=1), "month": relativedelta(months=1),
                "year": relativedelta(years=1)}[self.plan.interval] * (self.plan.interval_count or 1)
        return {"start": start, "end": int((datetime.fromtimestamp(start) + step).timestamp())}

    R.SubscriptionItem._current_period = current_period

    # A charge's amount_refunded counts the refunds that are not failed or canceled, as at Stripe.
    Charge.amount_refunded = property(
        lambda self: sum(r.amount for r in self.refunds._list if r.status not in ("failed", "canceled")))

    R.SubscriptionItem.price = property(_item_price)
    R.SubscriptionItem.current_period_start = property(_item_period_start)
    R.SubscriptionItem.current_period_end = property(_item_period_end)

    # invoice.paid next to localstripe's invoice.payment_succeeded (Stripe sends both).
    original_schedule = R.schedule_webhook

    def schedule_webhook(event):
        original_schedule(event)
        if event.type == "invoice.payment_succeeded":
            original_schedule(R.Event("invoice.paid", _Snapshot(event.data["object"])))

    R.schedule_webhook = schedule_webhook

    # A declined invoice charge: localstripe's invoice-pay path swallows it silently.
    original_confirm = PI._confirm

    def _confirm(self, on_failure_now):
        if self.invoice and on_failure_now != self._report_failure:
            inner = on_failure_now

            def on_failure_now():
                R.schedule_webhook(R.Event("payment_intent.payment_failed", self))
                invoice = Inv._api_retrieve(self.invoice)
                invoice._on_payment_failure_now()  # invoice.payment_failed; past_due or 402 (error_if_incomplete)
                inner()
        return original_confirm(self, on_failure_now)

    PI._confirm = _confirm

    original_sub_create = Sub._api_create.__func__

    def sub_create(cls, **data):
        if "items" in data:
            data["items"] = _prices_to_plans(data["items"])
        if data.get("proration_behavior") == "always_invoice":
            data["proration_behavior"] = "create_prorations"
        return original_sub_create(cls, **data)

    Sub._api_create = classmethod(sub_create)

    update_params = set(inspect.signature(Sub._update).parameters) - {"self"}
    original_sub_update = Sub._api_update.__func__

    def sub_update(cls, id, **data):
        sub = Sub._api_retrieve(id)
        if "items" in data:
            data["items"] = _prices_to_plans(data["items"])
        proration = data.pop("proration_behavior", "create_prorations")
        if proration not in ("create_prorations", "none", "always_invoice"):
            raise bad_request("Invalid proration_behavior: must be one of always_invoice, create_prorations, "
                              "or none", "proration_behavior")
        payment_behavior = data.pop("payment_behavior", None)
        if payment_behavior not in (None, "allow_incomplete", "default_incomplete", "error_if_incomplete",
                                    "pending_if_incomplete"):
            raise bad_request("Invalid payment_behavior", "payment_behavior")
        if data.get("billing_cycle_anchor") == "unchanged":  # Stripe's default; localstripe has no such param
            del data["billing_cycle_anchor"]
        for key in data:
            if key not in update_params:
                raise bad_request(f"Received unknown parameter: {key}", key, code="parameter_unknown")
        metadata = data.pop("metadata", None)
        if metadata is not None and not isinstance(metadata, dict) and metadata != "":
            raise bad_request("Invalid object", "metadata")
        before = sub._export()
        pending_before = _pending_items(sub.customer)
        invoice_before = sub.latest_invoice
        old_plan, old_item = sub.plan.id, sub.items._list[0]
        obj = original_sub_update(cls, id, **data)
        plan_changed = obj.plan.id != old_plan
        new_item = obj.items._list[0]
        if new_item is not old_item:  # localstripe replaced the item: keep its id, as Stripe does
            R.store.pop("subscription_item:" + new_item.id, None)
            R.store.pop("subscription_item:" + old_item.id, None)
            new_item.id = old_item.id
            R.store["subscription_item:" + new_item.id] = new_item
        if metadata == "":
            obj.metadata = {}
        elif metadata:  # localstripe ignores subscription metadata updates; Stripe merges, "" unsets a key
            for k, v in metadata.items():
                if v == "":
                    obj.metadata.pop(k, None)
                else:
                    obj.metadata[str(k)] = str(v)
        new_pending = _pending_items(obj.customer) - pending_before
        if proration == "none":
            for key in new_pending:
                del R.store[key]
        elif proration == "always_invoice" and plan_changed and obj.latest_invoice == invoice_before:
            invoice = Inv._api_create(customer=obj.customer, subscription=obj.id)
            invoice.billing_reason = "subscription_update"
            invoice._finalize()
            if invoice.status != "paid":
                Inv._api_pay_invoice(invoice.id)
        if "cancel_at_period_end" in data:
            if obj.cancel_at_period_end:
                obj.cancel_at, obj.canceled_at = obj.current_period_end, now()
            else:
                obj.cancel_at = obj.canceled_at = None
        after = obj._export()
        changed = {k: before.get(k) for k in after if k != "latest_invoice" and before.get(k) != after[k]}
        if obj.latest_invoice != invoice_before:
            changed["latest_invoice"] = invoice_before
        if changed:
            emit("customer.subscription.updated", obj, changed)
        return obj

    Sub._api_update = classmethod(sub_update)

    original_sub_delete = Sub._api_delete.__func__

    def sub_delete(cls, id):
        sub = Sub._api_retrieve(id)
        if sub.status == "canceled":  # localstripe would send customer.subscription.deleted again
            return sub
        if sub.canceled_at is None:
            sub.canceled_at = now()
        return original_sub_delete(cls, id)

    Sub._api_delete = classmethod(sub_delete)

    # Declines are card errors in Stripe (localstripe says invalid_request_error for everything); an id that is
    # taken is 400 resource_already_exists (localstripe: 409 Conflict); a missing object is resource_missing.
    original_error_init = UserError.__init__

    def error_init(self, code, message=None, contents=None):
        if code == 409 and message == "Conflict":
            code, message, contents = 400, "An object with this id already exists.", {
                "code": "resource_already_exists", "param": "id"}
        original_error_init(self, code, message, contents)
        if code == 402 and self.body["error"].get("code") == "card_declined":
            self.body["error"]["type"] = "card_error"
            self.body["error"].setdefault("decline_code", "generic_decline")
        if code == 404:
            self.body["error"].setdefault("code", "resource_missing")

    UserError.__init__ = error_init

    # invoice.billing_reason (localstripe leaves it null): a subscription's first invoice is
    # subscription_create, later ones subscription_cycle (a price change's sets subscription_update itself),
    # an invoice of no subscription manual. Derived when read, so invoice.created already carries it.
    def billing_reason_get(self):
        given = self.__dict__.get("_billing_reason")
        if given is not None:
            return given
        if not self.subscription:
            return "manual"
        for key, value in R.store.items():
            if key.startswith("invoice:") and getattr(value, "subscription", None) == self.subscription:
                return "subscription_create" if value is self else "subscription_cycle"
        return "subscription_create"

    def billing_reason_set(self, value):
        self.__dict__["_billing_reason"] = value

    Inv.billing_reason = property(billing_reason_get, billing_reason_set)

    # GET /v1/events lists newest first, as Stripe does (localstripe: in the order they were made), so
    # `starting_after` pages backwards in time.
    original_events_list = R.Event._api_list_all.__func__

    def events_list(cls, url, types=None, **kwargs):
        if types is not None and (not isinstance(types, list) or not all(isinstance(t, str) for t in types)):
            raise bad_request("Invalid array", "types")
        li = original_events_list(cls, url, **kwargs)
        if types is not None:
            li._list = [e for e in li._list if e.type in types]
        li._list = list(reversed(li._list))
        li._list.sort(key=lambda e: e.created, reverse=True)  # stable: newest first within one second too
        return li

    R.Event._api_list_all = classmethod(events_list)

    Refund.reason = None
    original_refund_create = Refund._api_create.__func__

    def refund_create(cls, reason=None, **data):
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
            raise bad_request("Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
                              "reason")
        charge_id = data.get("charge")
        if charge_id is None and isinstance(data.get("payment_intent"), str):
            pi = PI._api_retrieve(data["payment_intent"])
            charge_id = pi.latest_charge.id if pi.latest_charge else None
        if isinstance(charge_id, str) and charge_id.startswith("ch_"):
            charge = Charge._api_retrieve(charge_id)
            left = charge.amount - charge.amount_refunded
            if left <= 0:
                raise bad_request(f"Charge {charge_id} has already been refunded.", "charge",
                                  code="charge_already_refunded")
            amount = R.try_convert_to_int(data.get("amount", left))
            if isinstance(amount, int) and amount > left:
                raise bad_request(f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                                  "amount")
        refund = original_refund_create(cls, **data)
        refund.reason = reason
        charge = Charge._api_retrieve(refund.charge)
        if refund.payment_intent is None:
            refund.payment_intent = charge.payment_intent
        emit("refund.created", refund)
        emit("charge.refunded", charge)
        return refund

    Refund._api_create = classmethod(refund_create)


# ---------------------------------------------------------------------------------------------------------------
# the stand-in's clock and the /_test control API (for the integration tests and for trying renewals by hand)
# ---------------------------------------------------------------------------------------------------------------


class _ClockedTime:
    """Stands in for the time module inside localstripe.resources: time() is the stand-in's clock."""

    def __getattr__(self, name):
        return getattr(time, name)

    @staticmethod
    def time() -> float:
        return float(CLOCK) if CLOCK is not None else time.time()


CLOCK: int | None = None  # None: the real time; else epoch seconds set through POST /_test/clock
MODE = "normal"  # normal | fail (every /v1 call answers 500 api_error) | hang (never answered)
RECORDED: collections.deque[dict] = collections.deque(maxlen=10_000)  # the latest /v1 requests, oldest first


def _events_since(known: set[str]) -> list[dict]:
    return [v._export() for k, v in list(R.store.items()) if k.startswith("event:") and v.id not in known]


def _event_ids() -> set[str]:
    return {v.id for k, v in R.store.items() if k.startswith("event:")}


def capture(action) -> list[dict]:
    """Runs `action` and returns the events it made, in the order they were made (not sent anywhere unless a
    webhook is registered)."""
    known = _event_ids()
    action()
    return _events_since(known)


def seed_price(price_id: str, unit_amount: int, currency: str, interval: str = "month") -> Price:
    """A recurring price with a given id (as a test's or seed's configuration names it), with its product."""
    existing = R.store.get("price:" + price_id)
    if existing is not None:
        return existing
    product = R.Product(name=f"Product of {price_id}").id
    plan = R.Plan(id=price_id, product=product, amount=unit_amount, currency=currency.lower(), interval=interval)
    return Price(plan)


def renew(sub_id: str) -> None:
    """The subscription enters its next period: an invoice for it (billing_reason subscription_cycle) charged to
    the default payment method; paid -> active, declined -> invoice.payment_failed and past_due."""
    sub = R.Subscription._api_retrieve(sub_id)
    before = sub._export()
    end = sub.current_period_end
    sub._period_start = end
    sub._create_invoice()
    after = sub._export()
    changed = {k: before.get(k) for k in after if before.get(k) != after[k]}
    emit("customer.subscription.updated", sub, changed)


def set_card(customer: str, card: str) -> None:
    """The customer's default payment method is now a new test card (declined|visa|ok|NUMBER, see CARDS)."""
    number = CARDS.get(card, card)
    if not re.fullmatch(r"\d{16}", number):
        raise bad_request(f"Unknown card {card!r}: use declined, visa or a 16-digit test card number.", "card")
    pm = R.PaymentMethod(type="card", card={"number": number, "exp_month": "12",
                                            "exp_year": str(time.gmtime().tm_year + 3), "cvc": "123"})
    R.PaymentMethod._api_attach(pm.id, customer=customer)
    R.Customer._api_update(customer, invoice_settings={"default_payment_method": pm.id})


def fail_renewal(sub_id: str) -> None:
    """As renew, with the customer's card now declining every charge (4000000000000341)."""
    sub = R.Subscription._api_retrieve(sub_id)
    set_card(sub.customer, "declined")
    renew(sub_id)


def set_subscription_status(sub_id: str, status: str) -> None:
    """Stripe moving a subscription to `status` (its retries succeeding, a dashboard action):
    customer.subscription.updated."""
    sub = R.Subscription._api_retrieve(sub_id)
    previous = sub.status
    sub.status = status
    emit("customer.subscription.updated", sub, {"status": previous} if previous != status else None)


def refund_in_state(refund_id: str, payment_intent: str, amount: int, status: str):
    """The refund `refund_id` of a payment intent, made if new (as from the dashboard), now in `status`."""
    refund = R.store.get("refund:" + refund_id)
    if refund is None:
        refund = R.Refund(payment_intent=payment_intent, amount=amount)
        del R.store["refund:" + refund.id]
        refund.id = refund_id
        R.store["refund:" + refund_id] = refund
        refund.reason = "requested_by_customer"
    refund.status = status
    return refund


def charge_of(payment_intent: str):
    return R.PaymentIntent._api_retrieve(payment_intent).latest_charge


async def _json(request) -> dict:
    try:
        data = await request.json()
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


def _events_response(events: list[dict]) -> web.Response:
    return S.json_response({"events": events})


async def control(request: web.Request) -> web.Response:
    """POST/GET /_test/<what>: see the module docstring."""
    global CLOCK, MODE
    what = request.match_info["what"]
    body = await _json(request) if request.method == "POST" else {}
    try:
        if what == "mode":
            if body.get("mode") not in ("normal", "fail", "hang"):
                return _json_error(400, "mode must be normal, fail or hang")
            MODE = body["mode"]
            return S.json_response({"mode": MODE})
        if what == "clock":
            CLOCK = None if body.get("now") is None else int(body["now"])
            return S.json_response({"now": int(_ClockedTime.time())})
        if what == "requests":
            return S.json_response({"requests": list(RECORDED)})
        if what == "object":  # GET ?kind=invoice&id=in_...[&expand=payments] (not recorded, unlike GET /v1/...)
            obj = R.store.get(f"{request.query['kind']}:{request.query['id']}")
            if obj is None:
                return _json_error(404, "no such object", code="resource_missing")
            expand = [e for e in request.query.get("expand", "").split(",") if e]
            return S.json_response(obj._export(expand=expand or None))
        if what == "objects":  # GET ?kind=price: every object of a kind, oldest first
            prefix = request.query["kind"] + ":"
            return S.json_response({"data": [v._export() for k, v in list(R.store.items()) if k.startswith(prefix)]})
        if what == "prices":
            price = seed_price(str(body["id"]), int(body["unit_amount"]), str(body.get("currency", "inr")),
                               str(body.get("interval", "month")))
            return S.json_response(price._export())
        if what == "checkout":
            session = get_session(str(body["session"]))
            if session.status != "open":
                return _events_response([])
            outcome: list = []
            events = capture(lambda: outcome.append(complete_checkout(session, str(body.get("card", "")))))
            if outcome[0][0] != 200:
                return _json_error(outcome[0][0], outcome[0][1])
            return _events_response(events)
        if what in ("renew", "fail_renewal"):
            action = renew if what == "renew" else fail_renewal
            return _events_response(capture(lambda: action(str(body["subscription"]))))
        if what == "card":
            return _events_response(capture(lambda: set_card(str(body["customer"]), str(body.get("card", "")))))
        if what == "subscription_status":
            return _events_response(capture(lambda: set_subscription_status(str(body["subscription"]),
                                                                             str(body["status"]))))
        if what == "subscription_deleted":
            return _events_response(capture(lambda: R.Subscription._api_delete(str(body["subscription"]))))
        if what == "refund":
            def made():
                refund = refund_in_state(str(body["refund"]), str(body["payment_intent"]), int(body["amount"]),
                                         str(body["status"]))
                emit(str(body.get("type", "refund.updated")), refund)
            return _events_response(capture(made))
        if what == "charge_refunded":
            def refunded():
                for refund_id, amount in body["refunds"]:
                    refund_in_state(str(refund_id), str(body["payment_intent"]), int(amount), "succeeded")
                emit("charge.refunded", charge_of(str(body["payment_intent"])))
            return _events_response(capture(refunded))
    except KeyError as e:
        return _json_error(400, f"missing {e.args[0]}")
    except UserError as e:
        return e.to_response()
    return _json_error(404, f"no control {what!r}")


# ---------------------------------------------------------------------------------------------------------------
# middlewares
# ---------------------------------------------------------------------------------------------------------------

OWN_API = ("/v1/prices", "/v1/checkout/sessions")
_idempotent: dict[tuple[str | None, str], tuple[str, int, bytes]] = {}


def _json_error(status: int, message: str, type_: str = "invalid_request_error", **extra) -> web.Response:
    return S.json_response({"error": {"type": type_, "message": message, **extra}}, status=status)


@web.middleware
async def errors_middleware(request, handler):
    """Stripe-shaped JSON for unknown URLs and crashes (shim) instead of aiohttp's text/plain."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if not SHIMS or e.status < 400 or not request.path.startswith("/v1/"):
            raise
        if e.status == 404:
            return _json_error(404, f"Unrecognized request URL ({request.method}: {request.path}).")
        return _json_error(e.status, e.reason)
    except Exception as e:  # noqa: BLE001 - a crash inside localstripe
        if not SHIMS:
            raise
        log.error("%s %s crashed:\n%s", request.method, request.path, traceback.format_exc())
        return _json_error(500, f"localstripe crashed: {type(e).__name__}: {e}", "api_error")


@web.middleware
async def auth_middleware(request, handler):
    """localstripe's API-key check, except for the hosted pages (a browser has no key) and /_test."""
    if request.path.startswith(("/checkout/", "/_test/")):
        return await handler(request)
    return await S.auth_middleware(request, handler)


@web.middleware
async def record_middleware(request, handler):
    """Keeps every /v1 request (GET /_test/requests) and applies the mode (fail, hang)."""
    if not request.path.startswith("/v1/"):
        return await handler(request)
    body = await request.read()
    form = parse_qsl(request.query_string, keep_blank_values=True)
    if body and request.content_type == "application/x-www-form-urlencoded":
        form += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    RECORDED.append({"method": request.method, "path": request.path, "form": form,
                     "idempotency_key": request.headers.get("Idempotency-Key"),
                     "stripe_version": request.headers.get("Stripe-Version"),
                     "authorization": request.headers.get("Authorization")})
    if MODE == "fail":
        return _json_error(500, "An unknown error occurred", "api_error")
    if MODE == "hang":
        await asyncio.sleep(3600)
    return await handler(request)


@web.middleware
async def idempotency_middleware(request, handler):
    key = request.headers.get("Idempotency-Key")
    if request.method not in ("POST", "DELETE") or not key or not request.path.startswith("/v1/"):
        return await handler(request)
    if not SHIMS and not request.path.startswith(OWN_API):
        return await handler(request)
    body = await request.read()
    fingerprint = hashlib.sha256(f"{request.method} {request.path}".encode() + b"\0" + body).hexdigest()
    cache_key = (S.get_api_key(request), key)
    hit = _idempotent.get(cache_key)
    if hit is not None:
        if hit[0] != fingerprint:
            return _json_error(400, "Keys for idempotent requests can only be used with the same parameters they "
                                    f"were first used with. Try using a key other than '{key}' if you meant to "
                                    "execute a different request.", "idempotency_error")
        return web.Response(status=hit[1], body=hit[2], content_type="application/json", charset="utf-8",
                            headers={"Idempotency-Key": key, "Idempotent-Replayed": "true"})
    try:
        response = await handler(request)
    except UserError as e:
        response = e.to_response()
    if response.status < 300 or response.status == 402:
        _idempotent[cache_key] = (fingerprint, response.status, response.body)
    response.headers["Idempotency-Key"] = key
    return response


@web.middleware
async def flush_middleware(request, handler):
    if request.method == "DELETE" and request.path == "/_config/data":
        _idempotent.clear()
    return await handler(request)


INVOICE_ACTION = re.compile(r"^/v1/invoices/([^/]+)/(pay|void)$")


@web.middleware
async def invoice_action_middleware(request, handler):
    """POST /v1/invoices/ID/pay|void answered by pay_invoice and void_invoice (shims): localstripe's own routes
    for them come first in its router."""
    match = INVOICE_ACTION.match(request.path) if request.method == "POST" else None
    if match is None:
        return await handler(request)
    data = await _body(request)
    expand = data.pop("expand", None)
    action = pay_invoice if match.group(2) == "pay" else void_invoice
    return _respond(action(match.group(1), data), expand)


# ---------------------------------------------------------------------------------------------------------------
# routes
# ---------------------------------------------------------------------------------------------------------------


async def _body(request) -> dict:
    data = await S.get_post_data(request) or {}
    return dict(data)


def _respond(obj, expand) -> web.Response:
    return S.json_response(obj._export(expand=expand))


async def post_prices(request):
    data = await _body(request)
    expand = data.pop("expand", None)
    return _respond(create_price(data), expand)


async def get_prices(request):
    query = S.unflatten_data(request.query)
    expand = query.pop("expand", None)
    return _respond(list_prices(query), expand)


async def get_price_route(request):
    query = S.unflatten_data(request.query)
    return _respond(get_price(request.match_info["id"]), query.pop("expand", None))


async def post_price(request):
    data = await _body(request)
    expand = data.pop("expand", None)
    return _respond(update_price(request.match_info["id"], data), expand)


async def post_sessions(request):
    data = await _body(request)
    expand = data.pop("expand", None)
    return _respond(create_checkout_session(data), expand)


async def get_sessions(request):
    query = S.unflatten_data(request.query)
    expand = query.pop("expand", None)
    return _respond(list_sessions(query), expand)


async def get_session_route(request):
    query = S.unflatten_data(request.query)
    return _respond(get_session(request.match_info["id"]), query.pop("expand", None))


async def expire_session(request):
    data = await _body(request)
    expand = data.pop("expand", None)
    s = get_session(request.match_info["id"])
    if s.status != "open":
        raise bad_request(f"Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout "
                          f"Session has a status of \"{s.status}\".")
    _expire(s)
    return _respond(s, expand)


async def post_invoice_finalize(request):
    data = await _body(request)
    expand = data.pop("expand", None)
    return _respond(finalize_invoice(request.match_info["id"], data), expand)


def build_app(*, raw: bool = False) -> web.Application:
    global SHIMS
    SHIMS = not raw
    # Every instance starts empty and never writes /tmp/localstripe.pickle (shared by all instances otherwise).
    R.Store.dump_to_disk = lambda self: None
    R.Store.try_load_from_disk = lambda self: None
    R.time = _ClockedTime()  # localstripe's objects are stamped by the stand-in's clock
    install_one_off_invoices()
    if SHIMS:
        install_shims()
    app = S.app
    mws = list(app.middlewares)
    mws[mws.index(S.auth_middleware)] = auth_middleware
    # Outermost first: JSON errors, localstripe's UserError rendering, auth, then idempotency (sees UserError).
    app.middlewares[:] = [record_middleware, errors_middleware, *mws[:mws.index(auth_middleware) + 1],
                          flush_middleware, idempotency_middleware, *mws[mws.index(auth_middleware) + 1:]]
    if SHIMS:
        app.middlewares.append(invoice_action_middleware)  # innermost: after auth and idempotency
    # Our routes go first: aiohttp matches in registration order and none of localstripe's overlap these.
    for method, path, handler in (
            ("POST", "/v1/prices", post_prices),
            ("GET", "/v1/prices", get_prices),
            ("GET", "/v1/prices/{id}", get_price_route),
            ("POST", "/v1/prices/{id}", post_price),
            ("POST", "/v1/checkout/sessions", post_sessions),
            ("GET", "/v1/checkout/sessions", get_sessions),
            ("GET", "/v1/checkout/sessions/{id}", get_session_route),
            ("POST", "/v1/checkout/sessions/{id}/expire", expire_session),
            ("POST", "/v1/invoices/{id}/finalize", post_invoice_finalize),
            ("GET", "/checkout/{id}", hosted_checkout),
            ("GET", "/_test/{what}", control),
            ("POST", "/_test/{what}", control)):
        app.router.add_route(method, path, handler)
    return app


class _DelayedAsyncio:
    """Stands in for the asyncio module inside localstripe.webhooks, to change its fixed 1 s delivery delay."""

    def __getattr__(self, name):
        return getattr(asyncio, name)

    @staticmethod
    async def sleep(_seconds):
        await asyncio.sleep(WEBHOOK_DELAY)


def main(argv: list[str] | None = None) -> int:
    global BASE_URL, WEBHOOK_DELAY
    parser = argparse.ArgumentParser(prog="stripe_local.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one, printed)")
    parser.add_argument("--raw", action="store_true", help="no compatibility shims: localstripe + the additions")
    parser.add_argument("--webhook", action="append", default=[], metavar="URL",
                        help="register a webhook at start-up (repeatable); same as POST /_config/webhooks/<id>")
    parser.add_argument("--webhook-secret", default="whsec_local", help="secret for --webhook (default whsec_local)")
    parser.add_argument("--webhook-delay", type=float,
                        default=float(os.environ.get("STRIPE_LOCAL_WEBHOOK_DELAY") or 1.0),
                        help="seconds between an event and its delivery (default 1, localstripe's)")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    WEBHOOK_DELAY = max(0.0, args.webhook_delay)
    W.asyncio = _DelayedAsyncio()
    app = build_app(raw=args.raw)

    original_send = W._send_webhook

    async def send_logged(event):
        targets = [h for h in W._webhooks.values() if h.events is None or event.type in h.events]
        log.info("event %s %s -> %d webhook(s)", event.type, event.id, len(targets))
        await original_send(event)

    W._send_webhook = send_logged

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, args.port))
    sock.listen(128)  # connections made once the line below is printed wait in the backlog, never refused
    port = sock.getsockname()[1]
    BASE_URL = f"http://{HOST}:{port}"
    for n, url in enumerate(args.webhook):
        W.register_webhook(f"cli-{n}", url, args.webhook_secret, None)

    async def announce(_app):
        print(f"stripe_local: listening on {BASE_URL} (localstripe {LOCALSTRIPE_VERSION}, "
              f"{'raw' if args.raw else 'with shims'}, webhook delay {WEBHOOK_DELAY:g}s)", flush=True)

    app.on_startup.append(announce)
    access = logging.getLogger("aiohttp.access")
    access.setLevel(logging.WARNING if args.quiet else logging.INFO)

    def stop(signum, _frame):
        # Everything is in memory: nothing to save, so no graceful shutdown that could linger on open connections.
        log.info("signal %d: stopping", signum)
        logging.shutdown()
        os._exit(0)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    web.run_app(app, sock=sock, print=None, access_log=access, handle_signals=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
