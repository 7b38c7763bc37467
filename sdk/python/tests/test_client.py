"""The sync and async clients against a mocked API (respx): validation, retries and keys, quota errors, the
offline queue, token renewal."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import respx

from monetization_sdk import (
    ApiError,
    AsyncMarketplaceClient,
    FileStorage,
    MarketplaceClient,
    QuotaExceeded,
    RetryPolicy,
    SessionEnded,
    SpendingCapReached,
    TokenInvalid,
)

from helpers import API, SOLUTION, claims, new_key

ANSWER = {"allowed": True, "used": 1, "limit": 100, "remaining": 99, "reset_at": "2026-12-03T00:00:00Z"}


def problem(status: int, code: str, headers: dict[str, str] | None = None, **extra) -> httpx.Response:
    body = {"type": f"https://docs/{code}", "title": code, "status": status, "code": code, "detail": code, **extra}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json", **(headers or {})})


def client(**options) -> tuple[MarketplaceClient, list[float]]:
    waits: list[float] = []
    options.setdefault("api_key", "mk_test")
    return MarketplaceClient(API, sleep=waits.append, rand=lambda: 0.5, **options), waits


def reason(call) -> str:
    with pytest.raises(TokenInvalid) as e:
        call()
    return e.value.code


@respx.mock
def test_validates_offline_with_one_fetch_of_the_keys(key):
    route = respx.get(f"{API}/.well-known/jwks.json").mock(
        return_value=httpx.Response(200, json={"keys": [key.jwk()]}, headers={"cache-control": "max-age=300"})
    )
    c, _ = client(issuer="https://api.test")
    token = key.sign(claims())
    for _ in range(5):
        assert c.validate_token(token, solution_id=SOLUTION)["sub"] == "usr_01jc4x5y6z7a8b9c0d1e2f3g4h"
    assert route.call_count == 1
    now = int(time.time())
    assert reason(lambda: c.validate_token(key.sign(claims(exp=now - 60)))) == "expired"
    assert reason(lambda: c.validate_token(token, solution_id="sol_other")) == "wrong_audience"
    assert reason(lambda: c.validate_token(key.sign(claims(typ="access", aud="monetization-api")))) == "wrong_token_kind"
    assert reason(lambda: c.validate_token(key.sign(claims(iss="https://evil.test")))) == "invalid_signature"
    forged = new_key()
    forged.kid = key.kid
    assert reason(lambda: c.validate_token(forged.sign(claims()))) == "invalid_signature"
    assert reason(lambda: c.validate_token(key.sign(claims(), alg="none"))) == "invalid_signature"
    assert reason(lambda: c.validate_token("not.a.jwt")) == "malformed"


@respx.mock
def test_a_rotation_refetches_the_keys_at_most_every_30_seconds_and_a_withdrawn_key_stops(key):
    nxt = new_key()
    published = [key]
    respx.get(f"{API}/.well-known/jwks.json").mock(
        side_effect=lambda _: httpx.Response(200, json={"keys": [k.jwk() for k in published]}, headers={"cache-control": "max-age=300"})
    )
    clock = [time.time()]
    c, _ = client(now=lambda: clock[0])
    old_token = key.sign(claims())
    c.validate_token(old_token)
    published = [key, nxt]
    assert reason(lambda: c.validate_token(nxt.sign(claims()))) == "invalid_signature"
    clock[0] += 31
    c.validate_token(nxt.sign(claims()))
    published = [nxt]
    clock[0] += 301
    assert reason(lambda: c.validate_token(old_token)) == "invalid_signature"


@respx.mock
def test_retries_keep_one_idempotency_key_and_back_off():
    keys = []
    replies = iter([httpx.ConnectError("refused"), problem(503, "service_unavailable"), httpx.Response(200, json=ANSWER)])

    def reply(request: httpx.Request):
        keys.append(json.loads(request.content)["idempotency_key"])
        r = next(replies)
        if isinstance(r, Exception):
            raise r
        return r

    respx.post(f"{API}/api/track-usage").mock(side_effect=reply)
    c, waits = client()
    queued, key, answer = c.track_usage("search", customer_id="usr_1", solution_id="sol_1")
    assert not queued and answer is not None and answer.used == 1
    assert keys == [key, key, key]
    assert waits == [0.1, 0.2]


@respx.mock
def test_retry_after_is_honoured_and_a_4xx_is_never_retried():
    replies = iter([problem(503, "service_unavailable", {"retry-after": "2"}), problem(400, "validation_failed")])
    route = respx.post(f"{API}/api/track-usage").mock(side_effect=lambda _: next(replies))
    c, waits = client(queue=False)
    with pytest.raises(ApiError) as e:
        c.track_usage("")
    assert e.value.code == "validation_failed" and route.call_count == 2 and waits == [2.0]


@respx.mock
def test_a_refusal_is_quota_exceeded_not_retried_not_queued():
    respx.post(f"{API}/api/track-usage").mock(
        return_value=problem(429, "quota_exceeded", {"retry-after": "3600"}, allowed=False, used=10, limit=10, reset_at="2026-12-03T00:00:00Z")
    )
    c, _ = client()
    seen = []
    c.on("quota_exceeded", seen.append)
    with pytest.raises(QuotaExceeded) as e:
        c.track_usage("search")
    assert e.value.reset_at.isoformat() == "2026-12-03T00:00:00+00:00" and e.value.retry_after == 3600
    assert len(seen) == 1 and c.pending() == []


PERIOD = {
    "period_start": "2026-11-01T00:00:00Z", "period_end": "2026-12-01T00:00:00Z", "included": 100000, "used": 150000,
    "overage": 50000, "limit": "soft", "overage_charge": 50000, "projected_charge": 50000, "currency": "inr",
    "spending_cap": 50000, "cap_reached": True,
}


@respx.mock
def test_an_event_carries_its_own_timestamp_a_datetime_in_utc_also_from_the_queue():
    bodies = []
    state = {"offline": False}

    def single(request):
        if state["offline"]:
            raise httpx.ConnectError("offline")
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=ANSWER)

    def batch(request):
        events = json.loads(request.content)["events"]
        bodies.extend(events)
        return httpx.Response(200, json={"results": [{"status": 200, "answer": ANSWER} for _ in events], "counted": len(events), "refused": 0, "failed": 0})

    respx.post(f"{API}/api/track-usage").mock(side_effect=single)
    respx.post(f"{API}/api/track-usage/batch").mock(side_effect=batch)
    c, _ = client(retry=RetryPolicy(max_retries=0))
    ist = timezone(timedelta(hours=5, minutes=30))
    c.track_usage("search", timestamp="2026-11-30T23:59:30+05:30")
    c.track_usage("search", timestamp=datetime(2026, 12, 1, 5, 29, 30, tzinfo=ist))
    c.track_usage("search", timestamp=datetime(2026, 11, 30, 23, 59, 30, 250000, tzinfo=timezone.utc))
    c.track_usage("search")
    state["offline"] = True
    queued, _, _ = c.track_usage("late", timestamp="2026-11-30T23:59:59Z")
    assert queued and c.pending()[0]["body"]["timestamp"] == "2026-11-30T23:59:59Z"
    state["offline"] = False
    assert c.flush().counted == 1
    assert [b.get("timestamp") for b in bodies] == [
        "2026-11-30T23:59:30+05:30", "2026-11-30T23:59:30Z", "2026-11-30T23:59:30.250000Z", None, "2026-11-30T23:59:59Z",
    ]
    with pytest.raises(ValueError, match="naive"):
        c.track_usage("search", timestamp=datetime(2026, 11, 30, 23, 59, 30))


@respx.mock
def test_the_spending_cap_is_spending_cap_reached_a_quota_exceeded_not_retried_not_queued():
    route = respx.post(f"{API}/api/track-usage").mock(
        return_value=problem(
            429, "spending_cap_reached", {"retry-after": "86400"}, allowed=False, used=4210, limit=None,
            reset_at="2026-12-01T00:00:00Z", refused_by="spending_cap", billing_period=PERIOD,
        )
    )
    c, waits = client()
    seen = []
    c.on("quota_exceeded", seen.append)
    with pytest.raises(QuotaExceeded) as e:
        c.track_usage("search")
    cap = e.value
    assert isinstance(cap, SpendingCapReached) and cap.code == "spending_cap_reached"
    assert cap.refused_by == "spending_cap" and cap.limit is None and cap.retry_after == 86400
    assert cap.reset_at.isoformat() == "2026-12-01T00:00:00+00:00"
    assert cap.billing_period is not None and cap.billing_period.spending_cap == 50000 and cap.billing_period.cap_reached
    assert route.call_count == 1 and waits == [] and seen == [cap] and c.pending() == []


@respx.mock
def test_a_hard_limit_refusal_is_quota_exceeded_with_refused_by_and_the_period():
    replies = iter([
        problem(429, "quota_exceeded", allowed=False, used=10, limit=10, reset_at="2026-12-01T00:00:00Z",
                refused_by="allowance", billing_period={**PERIOD, "limit": "hard", "spending_cap": None}),
        problem(429, "quota_exceeded", allowed=False, used=10, limit=10, reset_at="2026-11-10T18:30:00Z"),
    ])
    respx.post(f"{API}/api/track-usage").mock(side_effect=lambda _: next(replies))
    c, _ = client(queue=False)
    with pytest.raises(QuotaExceeded) as e:
        c.track_usage("search")
    assert not isinstance(e.value, SpendingCapReached) and e.value.refused_by == "allowance"
    assert e.value.billing_period is not None and e.value.billing_period.limit.value == "hard"
    assert e.value.reset_at.isoformat() == "2026-12-01T00:00:00+00:00"
    with pytest.raises(QuotaExceeded) as e:
        c.track_usage("search")
    assert e.value.refused_by is None and e.value.billing_period is None


def counting_api(offline):
    counted: dict[str, int] = {}
    order: list[str] = []

    def count(body):
        if body["idempotency_key"] not in counted:
            counted[body["idempotency_key"]] = body.get("quantity", 1)
            order.append(body["idempotency_key"])
        return {**ANSWER, "used": sum(counted.values())}

    def single(request):
        if offline():
            raise httpx.ConnectError("offline")
        return httpx.Response(200, json=count(json.loads(request.content)))

    def batch(request):
        if offline():
            raise httpx.ConnectError("offline")
        results = [{"status": 200, "answer": count(e)} for e in json.loads(request.content)["events"]]
        return httpx.Response(200, json={"results": results, "counted": len(results), "refused": 0, "failed": 0})

    respx.post(f"{API}/api/track-usage").mock(side_effect=single)
    respx.post(f"{API}/api/track-usage/batch").mock(side_effect=batch)
    return counted, order


@respx.mock
def test_the_queue_keeps_order_through_an_outage_and_counts_each_event_once():
    state = {"offline": False}
    counted, order = counting_api(lambda: state["offline"])
    c, _ = client(retry=RetryPolicy(max_retries=1))
    keys = []
    for i in range(10):
        state["offline"] = 3 <= i < 7
        queued, key, _ = c.track_usage("search", idempotency_key=f"evt-{i}")
        assert queued == (3 <= i < 7)
        keys.append(key)
    assert order == keys and len(counted) == 10 and c.pending() == []


@respx.mock
def test_the_file_queue_survives_a_restart_and_a_lost_answer_counts_nothing_twice(tmp_path):
    state = {"offline": True}
    counted, _ = counting_api(lambda: state["offline"])
    path = tmp_path / "queue.json"
    first, _ = client(queue=FileStorage(path), retry=RetryPolicy(max_retries=0))
    first.track_usage("export", quantity=2)
    first.track_usage("export")
    state["offline"] = False
    second, _ = client(queue=FileStorage(path))
    pending = second.pending()
    report = second.flush()
    assert (report.sent, report.counted, report.remaining) == (2, 2, 0)
    FileStorage(path).save(pending)
    client(queue=FileStorage(path))[0].flush()
    assert sum(counted.values()) == 3


def refresh_api(key):
    used: set[str] = set()
    n = [0]

    def refresh(request):
        rt = json.loads(request.content)["refresh_token"]
        if rt in used:
            return problem(401, "refresh_token_reused")
        used.add(rt)
        n[0] += 1
        return httpx.Response(200, json={"token": key.sign(claims(jti=f"jti-{n[0]}")), "refresh_token": f"rt-{n[0]}"})

    respx.post(f"{API}/api/refresh-token").mock(side_effect=refresh)
    respx.get(f"{API}/api/user-context").mock(
        return_value=httpx.Response(200, json={"user": {"user_id": "usr_01jc4x5y6z7a8b9c0d1e2f3g4h", "email": "u@example.test", "name": "U", "role": "user", "email_verified": True, "created_at": "2026-12-01T00:00:00Z"}, "solutions": [], "subscriptions": [], "token": {"kind": "solution", "token_id": "tok_01jc4x5y6z7a8b9c0d1e2f3g4h", "scopes": ["usage:read"], "issued_at": "2026-12-01T00:00:00Z", "expires_at": "2026-12-01T00:15:00Z"}, "orgs": []})
    )
    return n


@respx.mock
def test_the_token_is_renewed_before_it_expires_and_a_reused_refresh_token_ends_the_session(key):
    n = refresh_api(key)
    c, _ = client(token=key.sign(claims(exp=int(time.time()) + 10)), refresh_token="rt-0")
    renewed = []
    c.on("token_refreshed", renewed.append)
    c.get_user_context()
    c.get_user_context()
    assert n[0] == 1 and renewed == [c.tokens] and c.tokens["refresh_token"] == "rt-1"
    stale, _ = client(token=key.sign(claims(exp=int(time.time()) + 5)), refresh_token="rt-0")
    ended = []
    stale.on("session_ended", ended.append)
    with pytest.raises(SessionEnded):
        stale.get_user_context()
    assert len(ended) == 1 and stale.tokens is None


@respx.mock
def test_the_async_client_shares_one_renewal_between_concurrent_calls(key):
    n = refresh_api(key)

    async def run():
        async with AsyncMarketplaceClient(API, token=key.sign(claims(exp=int(time.time()) + 10)), refresh_token="rt-0") as c:
            await asyncio.gather(*(c.get_user_context(max_age_seconds=0) for _ in range(5)))
            return c.tokens

    tokens = asyncio.run(run())
    assert n[0] == 1 and tokens["refresh_token"] == "rt-1"


@respx.mock
def test_the_async_client_tracks_and_queues_like_the_sync_one():
    state = {"offline": True}
    counted, order = counting_api(lambda: state["offline"])

    async def run():
        c = AsyncMarketplaceClient(API, api_key="mk", retry=RetryPolicy(max_retries=0))
        first = await c.track_usage("search", idempotency_key="a")
        state["offline"] = False
        second = await c.track_usage("search", idempotency_key="b")
        await c.aclose()
        return first[0], second[0], c.pending()

    first_queued, second_queued, pending = asyncio.run(run())
    assert first_queued and not second_queued and pending == [] and order == ["a", "b"]
